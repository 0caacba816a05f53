"""Hidden properties of mse_gradients, against the reference."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from hypothesis import strategies as st

from grader.suite import strategies as s
from grader.suite.model import Case, Example, Failure, Outcome, Property
from grader.suite.public.regression import FORMULA, call, datasets, gradient_values, judge_gradients
from solutions.regression import mse_gradients

NOISE = 1e-4
"""How far the near-optimum datasets' labels are from the model's predictions, at most."""


def _expected(ex: Example) -> tuple[torch.Tensor, torch.Tensor]:
    return mse_gradients(ex["w"], ex["b"], ex["x"].double(), ex["y"].double())


def regression_matches() -> Property:
    def case(ex: Example) -> Case:
        return Case(ex, (call(ex),), {"expected": _expected(ex)})

    return Property("mse_gradients", "matches the reference (float64 and float32)", public=False,
                    examples=datasets(), case=case, judge=judge_gradients, formula=FORMULA)


@st.composite
def near_optimum(draw: st.DrawFn) -> Example:
    """A float64 dataset the model almost fits, as at the end of training: yᵢ = w·xᵢ + b plus noise of at most
    NOISE, none at all in some elements."""
    ex = draw(datasets(torch.float64))
    noise_values = st.one_of(st.just(0.0), st.tuples(st.sampled_from([-1.0, 1.0]), st.floats(-9.0, -4.0))
                             .map(lambda p: p[0] * 10.0 ** p[1]))
    noise = draw(s.tensors(noise_values, tuple(ex["x"].shape)))
    y = ex["w"] * ex["x"].double() + ex["b"] + noise
    return {**ex, "y": y}


def _near(ex: Example) -> bool:
    """The residuals are still small (a shrunk counter-example keeps what the title says)."""
    x, y = ex["x"].double(), ex["y"].double()
    return x.dim() == 1 and bool(((y - (ex["w"] * x + ex["b"])).abs() <= 10 * NOISE + 1e-6 * y.abs()).all())


def float32_in_float64(ex: Example, outcome: Outcome) -> str | None:
    """The hint for a float64 answer that is what w and b rounded to float32 give (torch.tensor(w))."""
    if ex["dtype"] != torch.float64:
        return None
    got = gradient_values(outcome)
    if isinstance(got, Failure):
        return None
    w32, b32 = (float(torch.tensor(v, dtype=torch.float32)) for v in (ex["w"], ex["b"]))
    rounded = _expected({**ex, "w": w32, "b": b32})
    if all(torch.allclose(g, e.double(), rtol=1e-9, atol=1e-12) for g, e in zip(got, rounded, strict=True)):
        return ("Right to float32 precision only: w or b was rounded to float32 (torch.tensor(w) is float32 unless "
                "you pass dtype=x.dtype). Near the optimum the residuals almost cancel, so that rounding shows.")
    return None


def near_optimum_matches() -> Property:
    """Where the gradient is about 0 (the lecture's convergence: ∇L(θ) = 0), the residuals almost cancel, so an
    input rounded on the way (w as a float32 tensor in float64 work) is off by far more than the gradient."""

    def case(ex: Example) -> Case:
        return Case(ex, (call(ex),), {"expected": _expected(ex)})

    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        failure = judge_gradients(case, outcomes, " (near the optimum: yᵢ ≈ w·xᵢ + b, so the gradient is about 0)")
        if failure is None or failure.hint is not None:
            return failure
        hint = float32_in_float64(case.example, outcomes[0])
        return failure if hint is None else Failure(failure.message, failure.expected, failure.got, hint)

    return Property("mse_gradients", "matches the reference near the optimum (gradient ≈ 0, float64)", public=False,
                    examples=near_optimum(), case=case, judge=judge, formula=FORMULA, accepts=_near)


def properties() -> list[Property]:
    # The step counts' large datasets are public (grader/suite/public/epochs.py): their oracles (DataLoader,
    # range slicing) need no reference, and the contract states how large n gets.
    return [regression_matches(), near_optimum_matches()]
