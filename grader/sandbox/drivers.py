"""Request drivers: how one request exercises the student's function (runs inside the sandbox).

A driver gets the student's callable and the decoded arguments and returns an :class:`Outcome`; the
worker encodes it as one reply frame.  Drivers must catch ``BaseException`` from student code (so
``sys.exit``/``KeyboardInterrupt`` become answers, not crashes) and never trust what comes back.
Register new drivers in ``DRIVERS``; the trusted side rejects unknown names before a job starts.

* ``call``: one call, ``fn(*args, **kwargs)``, and what else it did (:func:`effects_of`): an input
  modified in place, an answer that shares memory with an input, torch's global settings left changed
  (put back at once, so the next call starts as this one did).
* ``rollout``: the student's optimizer step iterated from ``args``, its own outputs fed back in; kwargs
  are the layout (see :func:`check_rollout`), not arguments of ``fn``.  Informational (trajectory plots).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch

from grader.sandbox import objectives
from grader.sandbox.effects import effects_of, global_state, items_of, restore_global_state, rng_state, versions_of
from grader.sandbox.values import GradFn, TensorValue, Value
from grader.sandbox.wire import safe_repr, type_name
from grader.sandbox.wording import MAX_RAISED, exception_text

MAX_POINTS = 1024
HIDDEN_PREFIXES: list[str] = []  # the box dir: tracebacks show "optimizers.py", not a temp path
_SANDBOX_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_TB: Any = torch._C.TensorBase
_DisableTorchFunction = torch._C.DisableTorchFunction
_clock = time.perf_counter


@dataclass
class Outcome:
    raised: str | None
    value: object = None
    inputs_after: tuple[object, ...] = ()
    grad_fn_points: list[object] = field(default_factory=list)
    seconds: float = 0.0
    effects: tuple[str, ...] = ()  # see effects_of


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
    dropped), worded as ``optigrade check`` words it (grader/sandbox/wording.py); guarded, because
    ``str(exc)`` is student code."""
    try:
        return exception_text(exc, skip=(_SANDBOX_DIR, "<frozen "), hide=HIDDEN_PREFIXES)
    except BaseException:  # noqa: BLE001
        text = f"{type_name(exc)}: {safe_repr(exc)}"
    return text if len(text) <= MAX_RAISED else text[:MAX_RAISED] + "…"


def _materialise(value: Value, points: list[object]) -> object:
    return RecordingGradFn(value, points) if isinstance(value, GradFn) else value


def _dematerialise(value: object) -> object:
    return value.spec if type(value) is RecordingGradFn else value


def call(fn: Callable[..., object], args: tuple[Value, ...], kwargs: dict[str, Value], *,
         rng: bool = False) -> Outcome:
    """``fn(*args, **kwargs)`` once; GradFn arguments become recording callables.  The effects (see
    :func:`effects_of`, :func:`restore_global_state`) include ``rng`` only when ``rng`` asks for the check
    (it costs more than the call of a small function)."""
    points: list[object] = []
    real_args = tuple(_materialise(a, points) for a in args)
    real_kwargs = {k: _materialise(v, points) for k, v in kwargs.items()}
    versions, state, generator = versions_of(real_args), global_state(), rng_state() if rng else None
    start = _clock()
    try:
        value = fn(*real_args, **real_kwargs)
        raised = None
    except BaseException as exc:  # noqa: BLE001 - SystemExit/KeyboardInterrupt are answers too
        value, raised = None, describe_exception(exc)
    seconds = _clock() - start
    effects = restore_global_state(state, generator)
    if raised is None:
        effects = effects_of(real_args, versions, value) + effects
    return Outcome(raised, value, tuple(_dematerialise(a) for a in real_args), points, seconds, tuple(effects))


MAX_ROLLOUT_STEPS = 200
MAX_ROLLOUT_S = 1.0  # informational: a slow student gets a shorter path, never a timeout of the job
MAX_ROLLOUT_NUMEL = 4096
ROLLOUT_LAYOUT = ("param", "grads", "state", "t", "steps")
# Captured at import (in the zygote), like wire.py does, so student code cannot swap them.
_ndarray, _isfinite, _from_numpy = np.ndarray, np.isfinite, torch.from_numpy


class RolloutLayout(NamedTuple):
    param: int
    grads: tuple[int, ...]
    state: tuple[int, ...]
    t: int | None
    steps: int


def _tensor_of(value: object) -> torch.Tensor | None:
    if isinstance(value, TensorValue):
        return value.tensor
    return value if type(value) is torch.Tensor else None


def _index(value: object, n_args: int, role: str) -> int:
    if type(value) is not int or not 0 <= value < n_args:
        raise ValueError(f"rollout {role} must be an index into the {n_args} positional args, got {value!r}")
    return value


def _indexes(value: object, n_args: int, role: str) -> tuple[int, ...]:
    if type(value) is not tuple:
        raise ValueError(f"rollout {role} must be a tuple of indexes, got {type_name(value)}")
    return tuple(_index(v, n_args, role) for v in value)


def check_rollout(args: tuple[Value, ...], layout: Mapping[str, Value]) -> RolloutLayout:
    """The layout of a ``rollout`` request, or ValueError saying what is wrong (checked on both sides).

    ``layout`` (the request's kwargs): ``param``, the index of the parameter tensor; ``grads``, indexes
    holding a GradFn replaced by g = ∇f(x) before each step; ``state``, indexes fed by the step's
    outputs after the parameter, in order; ``t``, the index of the step counter (1, 2, …) or None;
    ``steps``, how many steps (1 to MAX_ROLLOUT_STEPS).  A GradFn at any other index is passed as a
    callable (nesterov_step's ``grad_fn``).
    """
    if set(layout) != set(ROLLOUT_LAYOUT):
        raise ValueError(f"rollout layout needs exactly the keys {list(ROLLOUT_LAYOUT)}, got {sorted(layout)}")
    steps, n = layout["steps"], len(args)
    if type(steps) is not int or not 1 <= steps <= MAX_ROLLOUT_STEPS:
        raise ValueError(f"rollout steps must be an int from 1 to {MAX_ROLLOUT_STEPS}, got {steps!r}")
    lay = RolloutLayout(_index(layout["param"], n, "param"), _indexes(layout["grads"], n, "grads"),
                        _indexes(layout["state"], n, "state"),
                        None if layout["t"] is None else _index(layout["t"], n, "t"), steps)
    roles = [lay.param, *lay.grads, *lay.state, *(() if lay.t is None else (lay.t,))]
    if len(set(roles)) != len(roles):
        raise ValueError(f"rollout indexes {roles} overlap: each argument has one role")
    start = _tensor_of(args[lay.param])
    if start is None or not start.dtype.is_floating_point or not 0 < start.numel() <= MAX_ROLLOUT_NUMEL:
        raise ValueError(f"rollout param (arg {lay.param}) must be a floating tensor of 1 to {MAX_ROLLOUT_NUMEL} "
                         f"elements, got {type_name(args[lay.param])}")
    for i in lay.grads:
        if not isinstance(args[i], GradFn):
            raise ValueError(f"rollout grads (arg {i}) must hold the GradFn to differentiate, got {type_name(args[i])}")
    for i in lay.state:
        s = _tensor_of(args[i])
        if s is None or s.shape != start.shape:
            raise ValueError(f"rollout state (arg {i}) must be a tensor shaped like param {tuple(start.shape)}")
    if lay.t is not None and type(args[lay.t]) is not int:
        raise ValueError(f"rollout t (arg {lay.t}) must be an int, got {type_name(args[lay.t])}")
    return lay


def _read_output(value: object, shape: tuple[int, ...]) -> np.ndarray | str:
    """A copy of a returned floating tensor's data (read through the C base type), or what is wrong."""
    if not issubclass(type(value), _TB):
        return f"{type_name(value)}, not a tensor"
    try:
        with _DisableTorchFunction():
            data = _TB.numpy(value, force=True)
        if type(data) is not _ndarray:
            return "a tensor that cannot be read"
        if data.dtype.kind != "f":
            return f"a tensor of dtype {data.dtype}, not floating point"
        if data.shape != shape:
            return f"a tensor of shape {data.shape}, expected {shape}"
        return data.copy()
    except BaseException as exc:  # noqa: BLE001 - a hostile tensor subclass can raise anything
        return f"a tensor that cannot be read ({type_name(exc)})"


def _first_line(text: str) -> str:
    return text.split("\n", 1)[0][:300]


def rollout(fn: Callable[..., object], args: tuple[Value, ...], kwargs: dict[str, Value]) -> Outcome:
    """Iterate the student's step from ``args``: before step k, each ``grads`` arg is g = ∇f(x_{k−1}) and
    ``t`` is k; the outputs (x_k, *state) are fed back as the next step's parameter and state.

    The value is ``{"path": [x_1, …, x_k], "stopped": None | why}`` (float64 CPU copies); the path stops
    early, with the reason, when a step raises, returns anything but the expected tensors, leaves a
    non-finite parameter (kept as the last point), or the steps run longer than MAX_ROLLOUT_S.
    """
    try:
        lay = check_rollout(args, kwargs)
    except ValueError as exc:
        return Outcome(f"ValueError: bad rollout request: {exc}")
    start = _tensor_of(args[lay.param])
    assert start is not None
    shape = tuple(start.shape)
    grads = {i: objectives.build(g.objective, g.params) for i in lay.grads if isinstance(g := args[i], GradFn)}
    current: list[object] = [objectives.build(a.objective, a.params) if isinstance(a, GradFn) else a for a in args]
    path: list[object] = []
    stopped: str | None = None
    seconds = 0.0
    for k in range(1, lay.steps + 1):
        try:  # trusted code on our own copies, unless the student patched torch in this process
            for i, grad in grads.items():
                current[i] = grad(current[lay.param])
        except BaseException as exc:  # noqa: BLE001
            stopped = f"step {k}: the gradient could not be computed ({type_name(exc)})"
            break
        if lay.t is not None:
            current[lay.t] = k
        begin = _clock()
        try:
            value = fn(*current)
        except BaseException as exc:  # noqa: BLE001 - SystemExit/KeyboardInterrupt are answers too
            stopped = f"step {k} raised {_first_line(describe_exception(exc))}"
            break
        finally:
            seconds += _clock() - begin
        # tuples (NamedTuples included) and lists, read through the base type's own methods (no student code)
        exact = issubclass(type(value), tuple | list)
        try:
            items: list[object] = items_of(value) if exact else [value]
        except BaseException:  # noqa: BLE001
            items = [value]
        if len(items) != 1 + len(lay.state):
            want = "1 tensor" if not lay.state else f"{1 + len(lay.state)} tensors (the parameter, then the state)"
            stopped = f"step {k} returned {type_name(value)}{f' of {len(items)}' if exact else ''}; expected {want}"
            break
        read = [_read_output(v, shape) for v in items]
        bad = next(((j, r) for j, r in enumerate(read) if isinstance(r, str)), None)
        if bad is not None:
            stopped = f"step {k}: output {bad[0] + 1} is {bad[1]}"
            break
        arrays = [r for r in read if isinstance(r, _ndarray)]
        path.append(_from_numpy(arrays[0].astype(np.float64)))
        current[lay.param] = _from_numpy(arrays[0])
        for i, data in zip(lay.state, arrays[1:], strict=True):
            current[i] = _from_numpy(data)
        if not bool(_isfinite(arrays[0]).all()):
            stopped = f"diverged: the parameter is not finite after step {k}"
            break
        if seconds > MAX_ROLLOUT_S:
            stopped = f"stopped after step {k}: the steps took longer than {MAX_ROLLOUT_S:g} s"
            break
    return Outcome(None, {"path": path, "stopped": stopped}, (), [], seconds)


Driver = Callable[[Callable[..., object], tuple[Value, ...], dict[str, Value]], Outcome]
DRIVERS: dict[str, Driver] = {"call": call, "rollout": rollout}
