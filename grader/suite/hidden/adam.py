"""Hidden properties specific to Adam and AdamW: bias correction at small and large t, and AdamW on its own."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from grader.suite import strategies as s
from grader.suite.compare import first_mismatch, unpack, unpack_number
from grader.suite.contract import STEP_FUNCTIONS, step_examples
from grader.suite.delegation import same_answer
from grader.suite.hidden.steps import differential
from grader.suite.model import Call, Case, Example, Failure, Outcome, Property
from solutions.optimizers import bias_correction

ADAM, ADAMW = STEP_FUNCTIONS["adam_step"], STEP_FUNCTIONS["adamw_step"]
LARGE_T = 1_000_000  # a million steps: long training runs


def adamw_on_its_own() -> Property:
    """AdamW equals the decay θ(1 − αλ) followed by *the student's own* adam_step.

    So a bug in adam_step does not cost AdamW's decoupled-decay marks twice.
    """

    def case(ex: Example) -> Case:
        decayed = {**ex, "param": ex["param"] * (1 - ex["lr"] * ex["weight_decay"])}
        return Case(ex, (Call("adamw_step", ADAMW.args(ex)), Call("adam_step", ADAM.args(decayed))))

    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        got, own = unpack(outcomes[0], ADAMW.outputs), unpack(outcomes[1], ADAM.outputs)
        if isinstance(got, Failure):
            return got
        if isinstance(own, Failure):
            return None  # adam_step itself is broken; its own properties say so
        if same_answer(outcomes[0], outcomes[1], case.example["dtype"]):
            return None  # NaN where their adam_step gives NaN counts as the same
        for name, g, o in zip(ADAMW.outputs, got, own, strict=True):
            if g.tensor.shape == o.tensor.shape and first_mismatch(g.tensor, o.tensor, case.example["dtype"]):
                return Failure(f"{name} differs from your own adam_step applied to θ·(1 − αλ)",
                               expected=o.tensor, got=g.tensor,
                               hint="AdamW = decay the parameter by (1 − αλ), then an ordinary Adam step.")
        return None

    return Property("adamw_step", "equals decay θ(1 − αλ) then your adam_step", public=False,
                    examples=step_examples(ADAMW), case=case, judge=judge, formula=ADAMW.formula)


def bias_correction_matches(title: str = "matches 1 − βᵗ for drawn β and t",
                            timesteps: st.SearchStrategy[int] = s.timesteps, also_at: tuple[int, ...] = ()) -> Property:
    """1 − βᵗ at the drawn t, and with the same β at each t in ``also_at``."""

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
                    formula="1 − βᵗ")


def properties() -> list[Property]:
    return [
        differential(f, "bias correction at t = 1", step_examples(f, zero_state=True, timesteps=st.just(1)))
        for f in (ADAM, ADAMW)
    ] + [
        differential(f, "bias correction at t ≥ 2", step_examples(f, zero_state=False,
                                                                  timesteps=st.sampled_from([2, 3, 4])))
        for f in (ADAM, ADAMW)
    ] + [
        differential(ADAM, "large t (bias correction fades)",
                     step_examples(ADAM, timesteps=st.integers(1_000, LARGE_T))),
        adamw_on_its_own(),
        bias_correction_matches(),
        # The same t as adam_step's large-t property: a helper that recurses t deep or is slow in t
        # (exact fractions) fails here, so adam_step gets the stand-in instead of paying for it.
        bias_correction_matches("large t (up to 10⁶ steps)", st.integers(1_000, LARGE_T), also_at=(LARGE_T,)),
    ]
