"""Public properties of mse_gradients: autograd on the lecture's MSE loss is the oracle."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from hypothesis import strategies as st

from grader.suite import strategies as s
from grader.suite.compare import first_mismatch, unpack
from grader.suite.model import Call, Case, Example, Failure, Outcome, Property

FORMULA = "∂L/∂w = 1/n Σ 2(yᵢ − (w·xᵢ + b))·(−xᵢ);  ∂L/∂b = 1/n Σ 2(yᵢ − (w·xᵢ + b))·(−1)"


@st.composite
def datasets(draw: st.DrawFn, dtype: torch.dtype | None = None) -> Example:
    n = draw(st.integers(1, 12))
    dt = dtype or draw(st.sampled_from(s.DTYPES))
    return {"w": draw(s.parameter_values), "b": draw(s.parameter_values), "dtype": dt,
            "x": draw(s.tensors(s.parameter_values, (n,), dt)), "y": draw(s.tensors(s.parameter_values, (n,), dt))}


def autograd(ex: Example) -> tuple[torch.Tensor, torch.Tensor]:
    w = torch.tensor(ex["w"], dtype=torch.float64, requires_grad=True)
    b = torch.tensor(ex["b"], dtype=torch.float64, requires_grad=True)
    x, y = ex["x"].double(), ex["y"].double()
    loss = ((y - (w * x + b)) ** 2).mean()
    dw, db = torch.autograd.grad(loss, (w, b))
    return dw, db


def equals_autograd() -> Property:
    def case(ex: Example) -> Case:
        return Case(ex, (Call("mse_gradients", (ex["w"], ex["b"], ex["x"], ex["y"])),), {"expected": autograd(ex)})

    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        got = unpack(outcomes[0], ("dw", "db"))
        if isinstance(got, Failure):
            return got
        ex = case.example
        for name, g, e in zip(("dw", "db"), got, case.data["expected"], strict=True):
            if g.tensor.dim() != 0 or g.tensor.dtype != ex["dtype"] or g.device != "cpu":
                return Failure(f"{name} should be a 0-d tensor of x's dtype ({ex['dtype']}) on cpu, got shape "
                               f"{tuple(g.tensor.shape)}, dtype {g.tensor.dtype}, on {g.device}")
            scale = float(1 + (ex["x"].double().abs().max() + abs(ex["w"])) * (ex["y"].double().abs().max() + 1))
            mismatch = first_mismatch(g.tensor, e, ex["dtype"], scale=scale)
            if mismatch is not None:
                return Failure(mismatch.describe(name) + " (from autograd on L = 1/n Σ (yᵢ − (w·xᵢ + b))²)",
                               expected=e, got=g.tensor)
        return None

    return Property("mse_gradients", "equals autograd on the MSE loss", public=True, examples=datasets(),
                    case=case, judge=judge, formula=FORMULA)


def properties() -> list[Property]:
    return [equals_autograd()]
