"""Argument checks shared by the reference solutions.

Each check raises :class:`ValueError` with a message that names the argument,
shows the value, says what was expected and how to fix it.  Students never see
this module: the stubs in ``exercises/`` are generated without it.
"""

from __future__ import annotations

import math
from numbers import Real

import torch

FLOAT_DTYPES = (torch.float32, torch.float64)


def _describe(t: torch.Tensor) -> str:
    return f"shape {tuple(t.shape)}, dtype {t.dtype}, device {t.device}"


def tensors(func: str, **named: object) -> None:
    """All named values are float32/float64 tensors of one shape, dtype and device."""
    first_name, first = None, None
    for name, value in named.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(
                f"{func}: {name} is a {type(value).__name__} ({value!r}); expected a torch.Tensor. "
                f"Fix: wrap it with torch.tensor({name})."
            )
        if value.dtype not in FLOAT_DTYPES:
            raise ValueError(
                f"{func}: {name} has dtype {value.dtype}; expected torch.float32 or torch.float64. "
                f"Fix: convert it with {name}.double() or {name}.float()."
            )
        if first is None:
            first_name, first = name, value
        elif (value.shape, value.dtype, value.device) != (first.shape, first.dtype, first.device):
            raise ValueError(
                f"{func}: {name} ({_describe(value)}) does not match {first_name} "
                f"({_describe(first)}); expected one shape, dtype and device for all tensors. "
                f"Fix: pass tensors that belong to the same parameter."
            )


def number(func: str, name: str, value: object, *, low: float, high: float = math.inf,
           high_open: bool = False) -> None:
    """``value`` is a finite real number in [low, high] (or [low, high) when ``high_open``)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(
            f"{func}: {name}={value!r} is a {type(value).__name__}; expected a Python number. "
            f"Fix: pass float({name})."
        )
    v = float(value)
    too_high = v >= high if high_open else v > high
    if not math.isfinite(v) or v < low or too_high:
        bracket = ")" if high_open else "]"
        raise ValueError(
            f"{func}: {name}={value!r} is out of range; expected a number in [{low:g}, {high:g}{bracket}. "
            f"Fix: use a typical value such as the lecture's defaults."
        )


def integer(func: str, name: str, value: object, *, low: int, hint: str = "") -> None:
    """``value`` is a Python int (not bool) ≥ ``low``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(
            f"{func}: {name}={value!r} is a {type(value).__name__}; expected an int. Fix: pass int({name})."
        )
    if value < low:
        raise ValueError(
            f"{func}: {name}={value!r} is too small; expected an int ≥ {low}.{' ' + hint if hint else ''}"
        )
