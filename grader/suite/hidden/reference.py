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


def step(f: StepFunction, ex: Example, *, defaults: bool = False,
         dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, ...]:
    """The reference outputs of ``f`` for ``ex``, computed in ``dtype`` (float64 whatever the example's)."""
    args = (as_float64(a) for a in f.args(ex, defaults=defaults))
    if dtype != torch.float64:  # e.g. float32: what a student gets who lets a float32 value in
        args = (_to(a, dtype) for a in args)
    out = REFERENCE[f.name](*args)
    return out if isinstance(out, tuple) else (out,)


def _to(value: Any, dtype: torch.dtype) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(dtype)
    if isinstance(value, GradientFunction):
        return GradientFunction(value.a.to(dtype), value.c.to(dtype))
    return value
