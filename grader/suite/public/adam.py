"""Public properties of Adam and of bias_correction: step size, scale invariance, state, the lecture's table."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from hypothesis import strategies as st

from grader.suite import strategies as s
from grader.suite.compare import first_mismatch, unpack, unpack_number
from grader.suite.contract import STEP_FUNCTIONS, step_examples
from grader.suite.model import Call, Case, Example, Failure, Outcome, Property, TensorOut
from grader.suite.public.effects import leaves_global_state

ADAM = STEP_FUNCTIONS["adam_step"]
LECTURE_TABLE = {1: 0.1, 2: 0.19, 3: 0.271, 10: 0.6513215599, 100: 0.9999734386}
"""1 − 0.9ᵗ from the lecture's slide 「訓練初期的問題 (t 次項)」, to more digits than the slide shows."""


def _single(ex: Example) -> Case:
    return Case(ex, (Call(ADAM.name, ADAM.args(ex)),))


def _nonzero(g: torch.Tensor) -> torch.Tensor:
    return torch.where(g == 0, torch.ones_like(g), g)


def first_step() -> Property:
    """At t = 1 from zero state m̂₁ = g and v̂₁ = g², so θ₁ = θ₀ − α·g/(|g| + ε): about α against the gradient."""

    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        got = unpack(outcomes[0], ADAM.outputs)
        if isinstance(got, Failure):
            return got
        ex = case.example
        g = ex["grad"].double()
        expected = ex["param"].double() - ex["lr"] * g / (g.abs() + ex["eps"])
        mismatch = first_mismatch(got[0].tensor, expected, ex["dtype"])
        if mismatch is None:
            return None
        return Failure(f"the first step (t = 1, m = v = 0) should move each coordinate by about α against the "
                       f"gradient: {mismatch.describe('param')}", expected=expected, got=got[0].tensor)

    return Property(ADAM.name, "first step moves about α against the gradient", public=True,
                    examples=step_examples(ADAM, zero_state=True, timesteps=st.just(1)), case=_single,
                    judge=judge, formula=ADAM.formula)


@st.composite
def histories(draw: st.DrawFn) -> Example:
    """An Adam call whose m, v come from a real gradient history, with β₁² < β₂ (needed by the bound)."""
    ex = draw(step_examples(ADAM, zero_state=True))
    ex["beta1"], ex["beta2"] = draw(st.floats(0.0, 0.9)), draw(st.floats(0.9, 0.9999))
    ex["t"] = draw(st.integers(1, 6))
    shape, m, v = ex["param"].shape, ex["m"], ex["v"]
    for _ in range(ex["t"] - 1):
        g = draw(s.tensors(s.gradient_values, shape))
        m = ex["beta1"] * m + (1 - ex["beta1"]) * g
        v = ex["beta2"] * v + (1 - ex["beta2"]) * g * g
    ex["m"], ex["v"] = m, v
    return ex


def step_bound(t: int, beta1: float, beta2: float) -> float:
    """max |θ_t − θ_{t−1}|/α over all gradient histories (Cauchy–Schwarz; tight), for β₁² < β₂."""
    r = beta1**2 / beta2
    geometric = (1 - r**t) / (1 - r) if r > 0 else 1.0
    return (1 - beta1) * math.sqrt(1 - beta2**t) / ((1 - beta1**t) * math.sqrt(1 - beta2)) * math.sqrt(geometric)


def bounded_step() -> Property:
    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        got = unpack(outcomes[0], ADAM.outputs)
        if isinstance(got, Failure):
            return got
        ex = case.example
        limit = ex["lr"] * step_bound(ex["t"], ex["beta1"], ex["beta2"])
        moved = (ex["param"].double() - got[0].tensor.double()).abs()
        if bool(moved.isnan().any()):  # NaN compares False: it would pass the bound below
            return Failure(f"at t = {ex['t']} param holds NaN although every input is finite; expected a step of "
                           f"at most {limit:.4g} (check for 0/0 or √ of a negative number)", got=got[0].tensor,
                           hint="Check the bias correction and the square root.")
        slack = 1e-6 * limit + (4e-6 if ex["dtype"] == torch.float32 else 1e-12) * (1 + ex["param"].abs().max())
        if bool((moved > limit + slack).any()):
            worst = float(moved.max())
            return Failure(f"at t = {ex['t']} the step moved {worst:.4g}, but no gradient history lets Adam move "
                           f"more than {limit:.4g} (about α = {ex['lr']:.3g} times {limit / ex['lr']:.4g})",
                           expected=limit, got=worst, hint="Check the bias correction and the square root.")
        return None

    return Property(ADAM.name, "step is bounded by about α", public=True, examples=histories(),
                    case=_single, judge=judge, formula=ADAM.formula)


def scale_invariant() -> Property:
    """With ε = 0, scaling every gradient by c scales m by c and v by c²: the step does not change."""

    def case(ex: Example) -> Case:
        c = ex["c"]
        scaled = {**ex, "grad": ex["grad"] * c, "m": ex["m"] * c, "v": ex["v"] * c * c}
        return Case(ex, (Call(ADAM.name, ADAM.args(ex)), Call(ADAM.name, ADAM.args(scaled))))

    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        plain, scaled = unpack(outcomes[0], ADAM.outputs), unpack(outcomes[1], ADAM.outputs)
        if isinstance(plain, Failure):
            return plain
        if isinstance(scaled, Failure):
            return scaled
        mismatch = first_mismatch(scaled[0].tensor, plain[0].tensor, case.example["dtype"])
        if mismatch is None:
            return None
        return Failure(f"scaling the gradients (and so m, v) by c = {case.example['c']:g} changed the step "
                       f"(ε = 0): {mismatch.describe('param')}", expected=plain[0].tensor, got=scaled[0].tensor,
                       hint="Adam divides m̂ by √v̂, so the gradient's scale cancels.")

    examples = st.tuples(step_examples(ADAM, zero_state=False), st.sampled_from([1e-3, 10.0, 1e3])).map(
        lambda p: {**p[0], "eps": 0.0, "grad": _nonzero(p[0]["grad"]), "c": p[1]}
    )
    return Property(ADAM.name, "invariant to the gradient's scale (ε = 0)", public=True, examples=examples,
                    case=case, judge=judge, formula=ADAM.formula)


def uncorrected_state() -> Property:
    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        got = unpack(outcomes[0], ADAM.outputs)
        if isinstance(got, Failure):
            return got
        ex = case.example
        g = ex["grad"].double()
        want = {"m": ex["beta1"] * ex["m"].double() + (1 - ex["beta1"]) * g,
                "v": ex["beta2"] * ex["v"].double() + (1 - ex["beta2"]) * g * g}
        for name, value in zip(("m", "v"), got[1:], strict=True):
            mismatch = first_mismatch(value.tensor, want[name], ex["dtype"])
            if mismatch is not None:
                return Failure(f"the returned state must be the uncorrected moving average: "
                               f"{mismatch.describe(name)}", expected=want[name], got=value.tensor,
                               hint="Return m_t and v_t, not m̂_t and v̂_t.")
        return None

    # t up to 10⁶ (a long run, as the contract says): a bias correction that recurses or loops t deep shows here
    examples = step_examples(ADAM, timesteps=s.timesteps | s.large_timesteps)
    return Property(ADAM.name, "returns the uncorrected m_t and v_t", public=True, examples=examples,
                    case=_single, judge=judge, formula=ADAM.formula)


def lecture_table() -> Property:
    def case(ex: Example) -> Case:
        return Case(ex, (Call("bias_correction", (0.9, ex["t"])),))

    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        got = unpack_number(outcomes[0], float)
        if isinstance(got, Failure):
            return got
        t, expected = case.example["t"], LECTURE_TABLE[case.example["t"]]
        if not abs(got - expected) <= 1e-9:  # (NaN is never close)
            hint = ("βᵗ is a power, β·β·…·β, not the product β¹×β²×…×βᵗ"
                    if t > 1 and abs(got - (1 - 0.9 ** (t * (t + 1) / 2))) < 1e-9 else None)
            return Failure(f"bias_correction(0.9, {t}) = {got!r}; the lecture's table says {expected:.10g}",
                           expected, got, hint)
        return None

    return Property("bias_correction", "the lecture's table for β₁ = 0.9", public=True,
                    examples=st.sampled_from(sorted(LECTURE_TABLE)).map(lambda t: {"t": t}), case=case,
                    judge=judge, formula="1 − βᵗ",
                    explicit=tuple({"t": t} for t in sorted(LECTURE_TABLE)))


def returns_float() -> Property:
    def case(ex: Example) -> Case:
        return Case(ex, (Call("bias_correction", (ex["beta"], ex["t"])),))

    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        outcome = outcomes[0]
        if outcome.problem is not None:
            return Failure(f"the call {outcome.problem}")
        value = outcome.returned
        ok = isinstance(value, float) or (isinstance(value, TensorOut) and value.type_name == "numpy.float64")
        if ok:
            return None
        kind = "a tensor" if isinstance(value, TensorOut) else type(value).__name__
        return Failure(f"returned {kind}; expected a Python float (use float(...) or Python's ** on numbers)")

    return Property("bias_correction", "returns a Python float", public=True,
                    examples=st.fixed_dictionaries({"beta": s.betas1, "t": s.timesteps}), case=case, judge=judge,
                    formula="1 − βᵗ")


def large_t() -> Property:
    """1 − β²ᵗ = (1 − βᵗ)(1 + βᵗ), i.e. bc(β, 2t) = bc(β, t)·(2 − bc(β, t)), at t up to 10⁶: reference-free,
    and it states how large t gets (a recursion t deep or a slow loop fails here)."""

    def case(ex: Example) -> Case:
        return Case(ex, (Call("bias_correction", (ex["beta"], ex["t"] // 2)),
                         Call("bias_correction", (ex["beta"], ex["t"]))))

    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        half, whole = unpack_number(outcomes[0], float), unpack_number(outcomes[1], float)
        if isinstance(half, Failure):
            return half
        if isinstance(whole, Failure):
            return whole
        beta, t = case.example["beta"], case.example["t"]
        expected = half * (2 - half)
        if not (0 <= whole <= 1 and abs(whole - expected) <= 1e-12 + 1e-9 * abs(expected)):
            return Failure(f"bias_correction({beta!r}, {t}) = {whole!r}, but bias_correction({beta!r}, {t // 2}) = "
                           f"{half!r}, and 1 − β²ᵗ = (1 − βᵗ)(1 + βᵗ) gives {expected!r}", expected, whole,
                           hint="βᵗ is a power: compute beta ** t directly (t reaches 10⁶)")
        return None

    examples = st.fixed_dictionaries({"beta": st.one_of(s.betas1, s.betas2),
                                      "t": s.large_timesteps.map(lambda t: t - t % 2)})
    # A shrunk counter-example keeps t large, as the title says: at t = 1 the half call would be t = 0, which
    # the contract never passes (a student who checks t ≥ 1 would be shown their own error for it).
    return Property("bias_correction", "large t (up to 10⁶ steps): 1 − β²ᵗ = (1 − βᵗ)(1 + βᵗ)", public=True,
                    examples=examples, case=case, judge=judge, formula="1 − βᵗ",
                    accepts=lambda ex: ex["t"] >= 1_000 and ex["t"] % 2 == 0)


def properties() -> list[Property]:
    bias_correction_args = st.fixed_dictionaries({"beta": s.betas1, "t": s.timesteps})
    return [first_step(), bounded_step(), scale_invariant(), uncorrected_state(), lecture_table(), returns_float(),
            large_t(), leaves_global_state("bias_correction", bias_correction_args, lambda ex: (ex["beta"], ex["t"]),
                                           a_number, "1 − βᵗ")]


def a_number(outcome: Outcome) -> Failure | None:
    got = unpack_number(outcome, float)
    return got if isinstance(got, Failure) else None
