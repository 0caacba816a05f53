"""How student answers are compared with expected values, and how mismatches are described.

Tolerances: float64 is the correctness oracle and is tight; float32 allows for
float32 arithmetic (hyperparameters rounded to float32, as fused CUDA kernels do)
against a float64 reference.  A value is close when
``|got − expected| ≤ atol + rtol·|expected|`` elementwise (as ``torch.isclose``);
NaN or ±inf where the expected value is finite is never close.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from grader.suite.model import Failure, OpaqueOut, Outcome, TensorOut

TOLERANCES: dict[torch.dtype, tuple[float, float]] = {
    torch.float64: (1e-7, 1e-9),
    torch.float32: (2e-4, 1e-5),
}
"""(rtol, atol) by the dtype the student computed in."""
SMALL = 16  # elements compared as Python floats (cheaper than numpy for a few)


@dataclass(frozen=True)
class Mismatch:
    index: tuple[int, ...]
    got: float
    expected: float
    problem: str = ""  # not comparable element by element: "has shape (3,), expected (2,)"

    def describe(self, name: str) -> str:
        if self.problem:
            return f"{name} {self.problem}"
        where = f"{name}[{', '.join(map(str, self.index))}]" if self.index else name
        if math.isfinite(self.expected) and not math.isfinite(self.got):
            return f"{where} is {self.got} where the expected value is finite ({fmt(self.expected)})"
        return f"{where} = {fmt(self.got)}, expected {fmt(self.expected)}{ratio_note(self.got, self.expected)}"


def fmt(x: float) -> str:
    return f"{x:.10g}"


def ratio_note(got: float, expected: float) -> str:
    """' (about 3.16× too small)' when got and expected have one sign and differ by a clear factor."""
    if expected == 0 or got == 0 or (got > 0) != (expected > 0):
        return " (wrong sign)" if got * expected < 0 else ""
    r = got / expected
    if 0.98 < r < 1.02:
        return ""
    return f" (about {r:.3g}× too large)" if r > 1 else f" (about {1 / r:.3g}× too small)"


def first_mismatch(got: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype,
                   *, scale: float = 1.0) -> Mismatch | None:
    """The worst element where ``got`` is not close to ``expected``; None when all are close.

    ``scale`` multiplies atol for quantities whose natural size is not 1 (e.g. an update of size lr).
    """
    rtol, atol = TOLERANCES.get(dtype, TOLERANCES[torch.float32])
    # Judges check shape and dtype first; these guard the rest (a student's answer must never make a
    # comparison raise in the grading process).
    if tuple(got.shape) != tuple(expected.shape):
        return Mismatch((), math.nan, math.nan, f"has shape {tuple(got.shape)}, expected {tuple(expected.shape)}")
    if got.is_complex():
        return Mismatch((), math.nan, math.nan, f"is a complex tensor ({got.dtype}), expected real numbers")
    if got.dtype not in (torch.float32, torch.float64):  # e.g. bfloat16, which numpy cannot hold
        got = got.detach().to(torch.float64)
    # Fast paths (most answers are right; tensors are small, so per-op overhead dominates): a few
    # elements as Python floats, more in numpy; both float64 arithmetic, as the careful path below.
    if got.numel() <= SMALL and expected.numel() == got.numel():
        limit = atol * scale
        if all(abs(g - e) <= limit + rtol * abs(e) for g, e in zip(_floats(got), _floats(expected), strict=True)):
            return None  # NaN compares False, so NaN (and inf - inf) take the careful path below
    gn = got.numpy(force=True).astype(np.float64, copy=False).reshape(-1)
    en = expected.numpy(force=True).astype(np.float64, copy=False).reshape(-1)
    with np.errstate(invalid="ignore", over="ignore"):
        if gn.shape == en.shape and bool(np.all(np.abs(gn - en) <= atol * scale + rtol * np.abs(en))):
            return None  # NaN compares False, so NaN (and inf - inf) take the careful path below
    g, e = got.detach().double().reshape(-1), expected.detach().double().reshape(-1)
    err = (g - e).abs()
    bad = ~(err <= atol * scale + rtol * e.abs())  # NaN compares False, so NaN is bad
    bad |= torch.isfinite(e) & ~torch.isfinite(g)
    if not bool(bad.any()):
        return None
    excess = torch.where(bad, torch.nan_to_num(err / (atol * scale + rtol * e.abs()), nan=math.inf), -1.0)
    flat = int(torch.argmax(excess))
    # numpy's, not torch.unravel_index: that one imports sympy (half a second) on first use
    index = tuple(int(i) for i in np.unravel_index(flat, tuple(expected.shape))) if expected.dim() else ()
    return Mismatch(index, float(g[flat]), float(e[flat]))


def _floats(t: torch.Tensor) -> list[Any]:
    """The elements of ``t`` as Python numbers, in order."""
    dims = t.dim()
    return [t.item()] if dims == 0 else t.tolist() if dims == 1 else t.reshape(-1).tolist()


NO_RETURN = "None (no `return` was reached: a function without one returns None; end it with return …)"


def describe_value(value: Any) -> str:
    """A short, safe description of anything a student returned (None: the usual reason, a missing return)."""
    return NO_RETURN if value is None else _describe(value)


def _describe(value: Any) -> str:
    if isinstance(value, TensorOut):
        t, name = value.tensor, value.type_name
        if name == "numpy.ndarray":  # the wire carries numpy arrays and scalars as tensors
            return f"numpy array of shape {tuple(t.shape)}, dtype {str(t.dtype).removeprefix('torch.')}"
        if name.startswith("numpy.") and t.dim() == 0:
            return f"{name} {t.item()!r} (a numpy scalar)"
        kind = "tensor" if name == "torch.Tensor" else f"{name} (a tensor subclass)"
        return f"{kind} of shape {tuple(t.shape)}, dtype {t.dtype}, on {value.device}"
    if isinstance(value, OpaqueOut):
        return f"{value.type_name} object {value.repr}"
    if isinstance(value, tuple | list):
        inner = ", ".join(_describe(v) for v in value[:4])
        return f"{type(value).__name__} of {len(value)} ({inner}{', …' if len(value) > 4 else ''})"
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}"


TENSOR_TYPES = ("torch.Tensor", "torch.nn.parameter.Parameter")
"""What "a torch.Tensor" accepts: the plain type and torch's own Parameter (what ``torch.optim`` updates,
a genuine torch type whose data is the tensor); a student's own subclass may lie about its values."""

SETTING_NAMES = {"default_dtype": "torch's default dtype", "grad_mode": "grad mode (torch.is_grad_enabled())",
                 "deterministic": "torch.use_deterministic_algorithms", "anomaly": "anomaly detection"}


def effects(outcome: Outcome, kind: str) -> list[str]:
    """The details of ``outcome``'s effects of ``kind`` (grader/sandbox/effects.py): ``["1"]`` for
    ``inplace:1``; for ``state``, every global-state effect as ``name:detail``."""
    found = []
    for code in outcome.effects:
        name, _, detail = code.partition(":")
        if kind == "state" and name not in ("inplace", "alias"):
            found.append(code)
        elif name == kind:
            found.append(detail)
    return found


def argument_names(indexes: Sequence[str], names: Sequence[str]) -> str:
    """``"param and r"`` for effects' argument indexes ``["0", "2"]`` of a call with ``names``."""
    out = [names[int(i)] if i.isdigit() and int(i) < len(names) else f"argument {i}" for i in indexes]
    return " and ".join(dict.fromkeys(out))


def describe_state_change(code: str) -> str:
    """``"torch's default dtype was left at torch.float64"`` for ``default_dtype:torch.float64``."""
    name, _, detail = code.partition(":")
    if name == "rng":
        return "torch's random number generator was used or reseeded (its state changed)"
    if name in SETTING_NAMES:
        return f"{SETTING_NAMES[name]} was left at {detail}"
    return "torch's global state could not be read after the call"


def whole_number(value: Any, *, tensors: bool = False) -> int | None:
    """``value`` as an int if it is one: a Python int (not a bool) or a numpy integer scalar (``np.int64``
    from ``np.floor_divide``, which the wire carries as a 0-d tensor), and with ``tensors`` a 0-d integer
    torch tensor too (it slices like an int); None otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if (isinstance(value, TensorOut) and value.tensor.dim() == 0 and value.tensor.dtype in _INTEGER_DTYPES
            and (tensors or value.type_name.startswith(("numpy.int", "numpy.uint")))):
        return int(value.tensor.item())
    return None


_INTEGER_DTYPES = (torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64)


def whole_numbers(value: Any) -> list[int] | None:
    """A tuple or list of whole numbers (:func:`whole_number`, tensors included) as ints; None otherwise."""
    if not isinstance(value, tuple | list):
        return None
    ints = [whole_number(v, tensors=True) for v in value]
    return None if any(i is None for i in ints) else ints  # type: ignore[return-value]


def unpack(outcome: Outcome, names: Sequence[str]) -> list[TensorOut] | Failure:
    """The returned tensors named ``names`` (one tensor, or a tuple of them), or why not."""
    if outcome.problem is not None:
        return Failure(f"the call {outcome.problem}")
    value = outcome.returned
    single = len(names) == 1
    items = value
    if single:  # one tensor, itself: a 1-tuple (from a trailing comma) is not one
        items = None if isinstance(value, tuple | list) else [value]
    if not isinstance(items, tuple | list) or len(items) != len(names):
        want = "a tensor" if len(names) == 1 else f"a tuple of {len(names)} tensors ({', '.join(names)})"
        comma = " (a trailing comma after the return value makes a tuple)" if single else ""
        return Failure(f"expected {want}, got {describe_value(value)}{comma}")
    bad = [(n, v) for n, v in zip(names, items, strict=True) if not isinstance(v, TensorOut)]
    if bad:
        name, v = bad[0]
        return Failure(f"{name}: expected a torch.Tensor, got {describe_value(v)}")
    return list(items)


def unpack_number(outcome: Outcome, kind: type) -> float | int | Failure:
    """A returned Python number (an int where ``kind`` is int), or why not."""
    if outcome.problem is not None:
        return Failure(f"the call {outcome.problem}")
    value = outcome.returned
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, TensorOut) and value.tensor.numel() == 1:
            return value.tensor.item()  # type: ignore[no-any-return]
        return Failure(f"expected a Python {kind.__name__}, got {describe_value(value)}")
    return value
