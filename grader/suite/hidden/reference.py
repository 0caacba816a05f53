"""The reference, evaluated in float64 on copies of an example's inputs (trusted side only)."""

from __future__ import annotations

from typing import Any

import torch

from grader.suite.contract import StepFunction
from grader.suite.model import Example, GradientFunction
from solutions import optimizers

REFERENCE = {name: getattr(optimizers, name) for name in (
    "sgd_step", "momentum_step", "nesterov_step", "adagrad_step", "rmsprop_step", "adam_step", "adamw_step",
)}


def as_float64(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", torch.float64).clone()
    if isinstance(value, GradientFunction):
        return GradientFunction(as_float64(value.a), as_float64(value.c))
    return value


def step(f: StepFunction, ex: Example, *, defaults: bool = False) -> tuple[torch.Tensor, ...]:
    """The reference outputs of ``f`` for ``ex``, in float64 whatever the example's dtype."""
    out = REFERENCE[f.name](*(as_float64(a) for a in f.args(ex, defaults=defaults)))
    return out if isinstance(out, tuple) else (out,)
