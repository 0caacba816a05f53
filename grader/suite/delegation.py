"""Grade a function on its own when the student built it from another contract function.

Students often write ``adamw_step`` as the decay followed by their own ``adam_step``.  Every
``adamw_step`` property therefore also asks, next to each ``adamw_step`` call, for the student's
``adam_step`` on the decayed parameter.  When a property fails but every ``adamw_step`` answer is what
the student's own ``adam_step`` gives there, the bug is ``adam_step``'s, already charged to it, and the
property passes.  (``adamw_step: equals decay θ(1 − αλ) then your adam_step`` checks the decay itself.)
Helpers the other way round (``bias_correction`` inside ``adam_step``) are handled by stand-ins: see
``HELPERS`` in contract.py.  Nothing here knows an answer; the student bundle ships it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import torch

from grader.suite.compare import first_mismatch
from grader.suite.contract import STEP_FUNCTIONS
from grader.suite.model import Call, Case, Example, Failure, Outcome, Property, TensorOut

_ADAMW = STEP_FUNCTIONS["adamw_step"]
_DEFAULTS = {h.name: h.default for h in _ADAMW.hypers}
_N_TENSORS = len(_ADAMW.tensors) + 1  # param, grad, m, v, then t


def _adam_after_decay(args: tuple[object, ...]) -> tuple[object, ...]:
    """adamw_step's positional arguments → adam_step's on the decayed parameter θ·(1 − αλ)."""
    names = [h.name for h in _ADAMW.hypers]
    given = dict(zip(names, args[_N_TENSORS:], strict=False))
    lr, wd = given.get("lr", _DEFAULTS["lr"]), given.get("weight_decay", _DEFAULTS["weight_decay"])
    param = args[0]
    if not (isinstance(param, torch.Tensor) and isinstance(lr, float | int) and isinstance(wd, float | int)):
        raise TypeError(f"adamw_step call with unexpected arguments: {[type(a).__name__ for a in args]}")
    return (param * (1 - lr * wd), *args[1:_N_TENSORS], *[given[n] for n in names[:-1] if n in given])


DELEGATES: dict[str, tuple[str, Callable[[tuple[object, ...]], tuple[object, ...]]]] = {
    "adamw_step": ("adam_step", _adam_after_decay),
}
OWN_CHECKS = frozenset({"adamw_step: equals decay θ(1 − αλ) then your adam_step"})


def same_answer(mine: Outcome, theirs: Outcome, dtype: torch.dtype | None) -> bool:
    """Whether two answers agree: the same tensors (within the dtype's tolerance, NaN where NaN is,
    the same infinity where one is) or the same exception."""
    if mine.failure is not None or theirs.failure is not None:
        return False
    if mine.raised is not None or theirs.raised is not None:
        first = [(o.raised or "").splitlines()[:1] for o in (mine, theirs)]
        return mine.raised is not None and theirs.raised is not None and first[0] == first[1]
    a, b = mine.returned, theirs.returned
    a, b = (a if isinstance(a, tuple | list) else (a,)), (b if isinstance(b, tuple | list) else (b,))
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if not (isinstance(x, TensorOut) and isinstance(y, TensorOut)):
            return False
        if x.tensor.shape != y.tensor.shape or x.tensor.dtype != y.tensor.dtype or x.device != y.device:
            return False
        # Non-finite answers must agree exactly (NaN where NaN, the same ±inf): inf − inf is NaN, so
        # first_mismatch alone would call two identical infinities different.
        finite_x, finite_y = torch.isfinite(x.tensor), torch.isfinite(y.tensor)
        if not torch.equal(finite_x, finite_y):
            return False
        odd_x, odd_y = x.tensor[~finite_x], y.tensor[~finite_y]
        if not torch.equal(torch.isnan(odd_x), torch.isnan(odd_y)) or not torch.equal(
                torch.nan_to_num(odd_x, nan=0.0), torch.nan_to_num(odd_y, nan=0.0)):
            return False
        keep = finite_x
        if first_mismatch(x.tensor[keep], y.tensor[keep], dtype or x.tensor.dtype) is not None:
            return False
    return True


def delegated(prop: Property) -> Property:
    """``prop`` with the delegate calls added, passing when a failure is the delegate's bug."""
    if prop.function not in DELEGATES or prop.name in OWN_CHECKS:
        return prop
    target, derive = DELEGATES[prop.function]

    def case(ex: Example) -> Case:
        inner = prop.case(ex)
        extra = tuple(Call(target, derive(c.args)) for c in inner.calls if c.function == prop.function)
        return Case(inner.example, inner.calls + extra, {**inner.data, "_inner_calls": len(inner.calls)})

    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        n = int(case.data["_inner_calls"])
        failure = prop.judge(Case(case.example, case.calls[:n], case.data), outcomes[:n])
        if failure is None:
            return None
        mine = [o for c, o in zip(case.calls[:n], outcomes[:n], strict=True) if c.function == prop.function]
        dtype = case.example.get("dtype")
        if mine and all(same_answer(a, b, dtype if isinstance(dtype, torch.dtype) else None)
                        for a, b in zip(mine, outcomes[n:], strict=True)):
            return None  # exactly their own delegate's answer: that function pays for it
        return failure

    return dataclasses.replace(prop, case=case, judge=judge)
