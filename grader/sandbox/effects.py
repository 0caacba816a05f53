"""What a call did besides answering: inputs modified in place, an answer that is (or shares memory
with) an input, torch's global settings left changed.

The contract asks every function for new tensors, untouched inputs and no lasting change to torch's
process-wide state (a student's training script would inherit it).  The worker's ``call`` driver and
the in-process runner (``optigrade check``) both use this module, so both report the same effects; the
properties judge them (grader/suite/public/).  Each effect is a short code:

* ``inplace:i``: argument i (a tensor) was modified in place: its version counter moved (any in-place op
  on it or on a view of it, even one that leaves the values as they were).
* ``alias:i``: a returned tensor is argument i, or shares its memory (a view).
* ``default_dtype:torch.float64``, ``grad_mode:False``, ``deterministic:True``, ``anomaly:True``: the
  setting the call left behind (it is put back at once, so the next call starts as this one did).
* ``rng``: torch's default random generator moved (checked only where asked: it costs more than a call).

Runs in sandbox workers (imported by the zygote) and in the student bundle: torch and stdlib only.
Tensors are read through the C base type, so a hostile subclass cannot answer for itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

# Captured at import (in the zygote), like wire.py does, so student code cannot swap them.
_TB: Any = torch._C.TensorBase
_DisableTorchFunction = torch._C.DisableTorchFunction
_version = _TB._version.__get__
_storage, _numel = _TB.untyped_storage, _TB.numel
_get_default_dtype, _set_default_dtype = torch.get_default_dtype, torch.set_default_dtype
_is_grad_enabled, _set_grad_enabled = torch.is_grad_enabled, torch._C._set_grad_enabled
_deterministic, _set_deterministic = torch.are_deterministic_algorithms_enabled, torch.use_deterministic_algorithms
_anomaly, _set_anomaly = torch.is_anomaly_enabled, torch.set_anomaly_enabled
_generator = torch._C.default_generator
_get_rng, _set_rng, _seed_rng = _generator.get_state, _generator.set_state, _generator.manual_seed
PROBE_SEED = 0x0971_5EED_C0FF_EE11  # the generator's state while a call is checked: no student seeds this
_tuple, _list, _tuple_items, _list_items = tuple, list, tuple.__iter__, list.__iter__
MAX_ITEMS = 16

GlobalState = tuple[torch.dtype, bool, bool, bool]
SETTINGS = ("default_dtype", "grad_mode", "deterministic", "anomaly")


def global_state() -> GlobalState:
    """torch's process-wide settings a function could leave changed (the generator is read apart)."""
    return _get_default_dtype(), _is_grad_enabled(), _deterministic(), _anomaly()


RngCheck = tuple[torch.Tensor, bytes]


def rng_state() -> RngCheck:
    """Start watching the generator: it is set to a state of its own (so a call that reseeds it to where an
    earlier call left it still shows), and the state it had is kept to be put back afterwards."""
    original = _get_rng()
    _seed_rng(PROBE_SEED)
    return original, _get_rng().numpy().tobytes()


def restore_global_state(before: GlobalState, rng: RngCheck | None = None) -> list[str]:
    """Put back what changed since ``before`` (and the generator, when it was watched from ``rng``); the
    effects, named as in this module's docstring."""
    changed: list[str] = []
    try:
        setters: tuple[Callable[[Any], object], ...] = (_set_default_dtype, _set_grad_enabled, _set_deterministic,
                                                         _set_anomaly)
        for name, old, new, put in zip(SETTINGS, before, global_state(), setters, strict=True):
            if new != old:
                changed.append(f"{name}:{new}")
                put(old)
        if rng is not None:
            if _get_rng().numpy().tobytes() != rng[1]:
                changed.append("rng")
            _set_rng(rng[0])
    except BaseException:  # noqa: BLE001 - the student replaced what these need: that is a change too
        changed.append("global_state:unreadable")
    return changed


def items_of(value: object) -> list[object]:
    """The items of a tuple or list, NamedTuples and other subclasses included, read through the base
    type's own C iterator (a subclass's ``__iter__`` is never called)."""
    return _list(_tuple_items(value) if issubclass(type(value), _tuple) else _list_items(value))  # type: ignore[arg-type]


def _tensors_in(value: object) -> list[object]:
    """The tensors a function returned: the value itself, or the items of a returned tuple or list."""
    if issubclass(type(value), _tuple | _list):
        try:
            items = items_of(value)
        except BaseException:  # noqa: BLE001
            return []
        return [v for v in items[:MAX_ITEMS] if issubclass(type(v), _TB)]
    return [value] if issubclass(type(value), _TB) else []


def _memory(t: object) -> int:
    """The address of ``t``'s storage, 0 when it has none to share (call inside _DisableTorchFunction)."""
    try:
        return 0 if _numel(t) == 0 else int(_storage(t).data_ptr())
    except BaseException:  # noqa: BLE001 - a hostile tensor subclass
        return 0


def versions_of(args: tuple[object, ...]) -> list[int | None]:
    """Each tensor argument's version counter (None for the others), read before the call."""
    return [_version(a) if issubclass(type(a), _TB) else None for a in args]


def effects_of(args: tuple[object, ...], versions: list[int | None], value: object) -> list[str]:
    """``inplace:i`` and ``alias:i`` for the call of ``args`` (their ``versions`` read before it) that
    returned ``value``."""
    found: list[str] = []
    out = _tensors_in(value)
    with _DisableTorchFunction():  # a returned subclass's __torch_function__ never runs
        memories = {_memory(t) for t in out} - {0}
        for i, (arg, before) in enumerate(zip(args, versions, strict=True)):
            if before is None:
                continue
            if _version(arg) != before:
                found.append(f"inplace:{i}")
            if any(arg is t for t in out) or (memories and _memory(arg) in memories):
                found.append(f"alias:{i}")
    return found
