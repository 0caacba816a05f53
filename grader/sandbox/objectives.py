"""Gradient functions a ``GradFn`` can name; materialised inside the worker (runs in the sandbox).

Each entry takes the GradFn's params and returns ``grad(x)``.  Add an objective by adding a function
here; the trusted side validates names and params before a job starts (``check``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

Gradient = Callable[[Any], Any]  # called by student code, possibly with non-tensors


def _quadratic(params: Mapping[str, torch.Tensor]) -> Gradient:
    """f(x) = ½ Σ a (x − c)², so grad(x) = a · (x − c)."""
    a, c = params["a"], params["c"]

    def grad(x: Any) -> Any:
        if isinstance(x, torch.Tensor):
            return a.to(x.device) * (x - c.to(x.device))
        return a * (x - c)

    return grad


OBJECTIVES: dict[str, tuple[tuple[str, ...], Callable[[Mapping[str, torch.Tensor]], Gradient]]] = {
    "quadratic": (("a", "c"), _quadratic),
}


def check(objective: str, params: Mapping[str, torch.Tensor]) -> None:
    """Raise ValueError naming the objective/param when a GradFn cannot be materialised."""
    if objective not in OBJECTIVES:
        raise ValueError(
            f"GradFn objective {objective!r} is not registered; expected one of "
            f"{sorted(OBJECTIVES)}. Fix: add it to grader/sandbox/objectives.py."
        )
    needed = OBJECTIVES[objective][0]
    if set(params) != set(needed):
        raise ValueError(f"GradFn {objective!r} needs params {list(needed)}, got {sorted(params)}.")


def build(objective: str, params: Mapping[str, torch.Tensor]) -> Gradient:
    check(objective, params)
    return OBJECTIVES[objective][1](params)
