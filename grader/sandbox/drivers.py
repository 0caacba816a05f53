"""Request drivers: how one request exercises the student's function (runs inside the sandbox).

A driver gets the student's callable and the decoded arguments and returns an :class:`Outcome`; the
worker encodes it as one reply frame.  Drivers must catch ``BaseException`` from student code (so
``sys.exit``/``KeyboardInterrupt`` become answers, not crashes) and never trust what comes back.
Register new drivers in ``DRIVERS``; the trusted side rejects unknown names before a job starts.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from grader.sandbox import objectives
from grader.sandbox.values import GradFn, Value
from grader.sandbox.wire import safe_repr, type_name

MAX_POINTS = 1024
MAX_RAISED = 4000
HIDDEN_PREFIXES: list[str] = []  # the box dir: tracebacks show "optimizers.py", not a temp path
_SANDBOX_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_TB: Any = torch._C.TensorBase
_DisableTorchFunction = torch._C.DisableTorchFunction


@dataclass
class Outcome:
    raised: str | None
    value: object = None
    inputs_after: tuple[object, ...] = ()
    grad_fn_points: list[object] = field(default_factory=list)
    seconds: float = 0.0


class RecordingGradFn:
    """A GradFn materialised as a callable that remembers (a copy of) every point it is called at."""

    def __init__(self, spec: GradFn, points: list[object]) -> None:
        self.spec = spec
        self._grad = objectives.build(spec.objective, spec.params)
        self._points = points

    def __call__(self, x: Any) -> Any:
        if len(self._points) < MAX_POINTS:
            self._points.append(_snapshot(x))
        return self._grad(x)


def _snapshot(x: object) -> object:
    if issubclass(type(x), _TB):
        try:
            with _DisableTorchFunction():
                return _TB.clone(_TB.detach(x))
        except BaseException:  # noqa: BLE001 - a hostile tensor subclass
            return x
    return x


def describe_exception(exc: BaseException) -> str:
    """``"ZeroDivisionError: msg"`` plus the student's part of the traceback (worker and importlib frames
    dropped); guarded, because ``str(exc)`` is student code."""
    try:
        frames = [
            f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith((_SANDBOX_DIR, "<frozen "))
        ][-6:]
        head = "".join(traceback.format_exception_only(type(exc), exc))
        text = head + "Traceback (most recent call last, shortened):\n" + "".join(traceback.format_list(frames))
    except BaseException:  # noqa: BLE001
        text = f"{type_name(exc)}: {safe_repr(exc)}"
    for prefix in HIDDEN_PREFIXES:
        text = text.replace(prefix, "")
    return text if len(text) <= MAX_RAISED else text[:MAX_RAISED] + "…"


def _materialise(value: Value, points: list[object]) -> object:
    return RecordingGradFn(value, points) if isinstance(value, GradFn) else value


def _dematerialise(value: object) -> object:
    return value.spec if type(value) is RecordingGradFn else value


def call(fn: Callable[..., object], args: tuple[Value, ...], kwargs: dict[str, Value]) -> Outcome:
    """``fn(*args, **kwargs)`` once; GradFn arguments become recording callables."""
    points: list[object] = []
    real_args = tuple(_materialise(a, points) for a in args)
    real_kwargs = {k: _materialise(v, points) for k, v in kwargs.items()}
    start = time.perf_counter()
    try:
        value = fn(*real_args, **real_kwargs)
        raised = None
    except BaseException as exc:  # noqa: BLE001 - SystemExit/KeyboardInterrupt are answers too
        value, raised = None, describe_exception(exc)
    seconds = time.perf_counter() - start
    return Outcome(raised, value, tuple(_dematerialise(a) for a in real_args), points, seconds)


Driver = Callable[[Callable[..., object], tuple[Value, ...], dict[str, Value]], Outcome]
DRIVERS: dict[str, Driver] = {"call": call}
