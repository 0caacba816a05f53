"""Public properties of mse_gradients: autograd on the lecture's MSE loss is the oracle."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from hypothesis import strategies as st

from grader.suite import strategies as s
from grader.suite.compare import TENSOR_TYPES, describe_value, first_mismatch, unpack
from grader.suite.model import Call, Case, Example, Failure, Outcome, Property, TensorOut
from grader.suite.public.effects import leaves_global_state, leaves_inputs_alone

ARGUMENTS = ("w", "b", "x", "y")

FORMULA = "∂L/∂w = 1/n Σ 2(yᵢ − (w·xᵢ + b))·(−xᵢ);  ∂L/∂b = 1/n Σ 2(yᵢ − (w·xᵢ + b))·(−1)"


@st.composite
def datasets(draw: st.DrawFn, dtype: torch.dtype | None = None) -> Example:
    n = draw(st.integers(1, 12))
    dt = dtype or draw(st.sampled_from(s.DTYPES))
    return {"w": draw(s.parameter_values), "b": draw(s.parameter_values), "dtype": dt,
            "x": draw(s.tensors(s.parameter_values, (n,), dt)), "y": draw(s.tensors(s.parameter_values, (n,), dt)),
            "layout": draw(st.sampled_from(["contiguous", "strided"]))}  # x[::2] of a larger batch


def autograd(ex: Example) -> tuple[torch.Tensor, torch.Tensor]:
    w = torch.tensor(ex["w"], dtype=torch.float64, requires_grad=True)
    b = torch.tensor(ex["b"], dtype=torch.float64, requires_grad=True)
    x, y = ex["x"].double(), ex["y"].double()
    loss = ((y - (w * x + b)) ** 2).mean()
    dw, db = torch.autograd.grad(loss, (w, b))
    return dw, db


def arguments(ex: Example) -> tuple[object, ...]:
    layout = ex.get("layout", "contiguous")
    return ex["w"], ex["b"], s.laid_out(ex["x"], layout), s.laid_out(ex["y"], layout)


def call(ex: Example, *, report_inputs: bool = False) -> Call:
    return Call("mse_gradients", arguments(ex), report_inputs=report_inputs)


def gradient_values(outcome: Outcome) -> list[torch.Tensor] | Failure:
    """(∂L/∂w, ∂L/∂b) as numbers (0-d float64 tensors), whatever numeric form they came in: the values
    are judged here, their type by ``returns_tensors``."""
    if outcome.problem is not None:
        return Failure(f"the call {outcome.problem}")
    value = outcome.returned
    if not isinstance(value, tuple | list) or len(value) != 2:
        return Failure(f"expected a tuple (dw, db), got {describe_value(value)}")
    numbers = []
    for name, v in zip(("dw", "db"), value, strict=True):
        if isinstance(v, TensorOut) and v.tensor.numel() == 1 and not v.tensor.is_complex():
            numbers.append(v.tensor.detach().reshape(()).double())
        elif isinstance(v, int | float) and not isinstance(v, bool):
            numbers.append(torch.tensor(float(v), dtype=torch.float64))
        else:
            return Failure(f"{name}: expected a number (a 0-d tensor), got {describe_value(v)}")
    return numbers


def judge_gradients(case: Case, outcomes: Sequence[Outcome], source: str = "") -> Failure | None:
    """The returned values against ``case.data["expected"]``, with atol scaled to the data's size."""
    got = gradient_values(outcomes[0])
    if isinstance(got, Failure):
        return got
    ex = case.example
    scale = float(1 + (ex["x"].double().abs().max() + abs(ex["w"])) * (ex["y"].double().abs().max() + 1))
    for name, g, e in zip(("dw", "db"), got, case.data["expected"], strict=True):
        mismatch = first_mismatch(g, e.double().reshape(()), ex["dtype"], scale=scale)
        if mismatch is not None:
            return Failure(mismatch.describe(name) + source, expected=e, got=g)
    return None


def equals_autograd() -> Property:
    def case(ex: Example) -> Case:
        return Case(ex, (call(ex),), {"expected": autograd(ex)})

    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        return judge_gradients(case, outcomes, " (from autograd on L = 1/n Σ (yᵢ − (w·xᵢ + b))²)")

    return Property("mse_gradients", "equals autograd on the MSE loss", public=True, examples=datasets(),
                    case=case, judge=judge, formula=FORMULA)


def returns_tensors() -> Property:
    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        got = unpack(outcomes[0], ("dw", "db"))
        if isinstance(got, Failure):
            return Failure(got.message + "; return (dw, db) as 0-d tensors, e.g. the .mean() of a tensor")
        ex = case.example
        for name, g in zip(("dw", "db"), got, strict=True):
            if g.type_name not in TENSOR_TYPES or g.tensor.dim() != 0 or g.tensor.dtype != ex["dtype"] \
                    or g.device != "cpu":
                return Failure(f"{name} should be a 0-d torch.Tensor of x's dtype ({ex['dtype']}) on cpu, got "
                               f"{describe_value(g)}")
        return None

    return Property("mse_gradients", "returns two 0-d tensors of x's dtype and device", public=True,
                    examples=datasets(), case=lambda ex: Case(ex, (call(ex),)), judge=judge, formula=FORMULA)


def pure() -> Property:
    judge = leaves_inputs_alone(ARGUMENTS, answer, "compute with new tensors (e.g. residual = y - (w * x + b), "
                                                   "not y.sub_(...))")
    return Property("mse_gradients", "does not modify x or y", public=True, examples=datasets(),
                    case=lambda ex: Case(ex, (call(ex, report_inputs=True),)), judge=judge, formula=FORMULA)


def properties() -> list[Property]:
    return [equals_autograd(), returns_tensors(), pure(),
            leaves_global_state("mse_gradients", datasets(), arguments, answer, FORMULA)]


def answer(outcome: Outcome) -> Failure | None:
    got = gradient_values(outcome)
    return got if isinstance(got, Failure) else None
