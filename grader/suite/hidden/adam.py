"""Hidden properties specific to Adam and AdamW: bias correction at small and large t."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from grader.suite import strategies as s
from grader.suite.compare import unpack_number
from grader.suite.contract import STEP_FUNCTIONS, step_examples
from grader.suite.hidden.steps import differential
from grader.suite.model import Call, Case, Example, Failure, Outcome, Property
from solutions.optimizers import bias_correction

ADAM, ADAMW = STEP_FUNCTIONS["adam_step"], STEP_FUNCTIONS["adamw_step"]
LARGE_T = 1_000_000  # a million steps: long training runs
SLOW_BETA2 = st.one_of(st.just(0.9999), st.floats(0.999, 0.9999))  # the β₂ whose correction lasts longest


def bias_correction_matches(title: str = "matches 1 − βᵗ for drawn β and t",
                            timesteps: st.SearchStrategy[int] = s.timesteps, also_at: tuple[int, ...] = (),
                            min_t: int = 1) -> Property:
    """1 − βᵗ at the drawn t (a shrunk counter-example keeps t ≥ ``min_t``), and with the same β at each t
    in ``also_at``."""

    def case(ex: Example) -> Case:
        ts = (ex["t"], *also_at)
        return Case(ex, tuple(Call("bias_correction", (ex["beta"], t)) for t in ts),
                    {"ts": ts, "expected": [bias_correction(ex["beta"], t) for t in ts]})

    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        for t, outcome, expected in zip(case.data["ts"], outcomes, case.data["expected"], strict=True):
            got = unpack_number(outcome, float)
            if isinstance(got, Failure):
                return got
            if not abs(got - expected) <= 1e-12 + 1e-9 * abs(expected):
                return Failure(f"bias_correction({case.example['beta']!r}, {t}) = {got!r}, expected {expected!r}",
                               expected, got)
        return None

    betas = st.one_of(st.sampled_from([0.9, 0.99, 0.999]), s.betas1, s.betas2)
    return Property("bias_correction", title, public=False,
                    examples=st.fixed_dictionaries({"beta": betas, "t": timesteps}), case=case, judge=judge,
                    formula="1 − βᵗ", accepts=lambda ex: ex["t"] >= min_t)


def properties() -> list[Property]:
    return [
        differential(f, "bias correction at t = 1", step_examples(f, zero_state=True, timesteps=st.just(1)))
        for f in (ADAM, ADAMW)
    ] + [
        differential(f, "bias correction at t ≥ 2", step_examples(f, zero_state=False,
                                                                  timesteps=st.sampled_from([2, 3, 4])),
                     accepts=lambda ex: ex["t"] >= 2)
        for f in (ADAM, ADAMW)
    ] + [
        # Where 1 − β₂ᵗ still differs from 1 at a large t (β₂ near 0.9999, t up to ~10⁵), with moments that
        # are not zero: a student who stops correcting "once it has faded" (t > 10⁴) must meet such a case.
        # AdamW too: its other properties draw t ≤ 10⁴, and a student who writes its Adam step out in full
        # (rather than calling adam_step) can put the same bug there.
        differential(f, "large t (bias correction fades)",
                     step_examples(f, zero_state=False,
                                   timesteps=st.one_of(st.integers(1_000, 50_000), st.integers(10_000, 200_000),
                                                       st.integers(1_000, LARGE_T)))
                     .flatmap(lambda ex: SLOW_BETA2.map(lambda b2: {**ex, "beta2": b2})),
                     accepts=lambda ex: ex["t"] >= 1_000)
        for f in (ADAM, ADAMW)
    ] + [
        bias_correction_matches(),
        # The same t as adam_step's large-t property: a helper that recurses t deep or is slow in t
        # (exact fractions) fails here, so adam_step gets the stand-in instead of paying for it.
        bias_correction_matches("large t (up to 10⁶ steps)", st.integers(1_000, LARGE_T), also_at=(LARGE_T,),
                                min_t=1_000),
    ]
