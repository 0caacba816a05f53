"""Put a helper's stand-in into a student's module (see grader/sandbox/substitutes.py for what they are).

The stand-in takes the place of the student's helper *function object*: its code is swapped for a
trampoline, so every way of reaching it (the module name, an alias ``_bc = bias_correction``, a default
argument, a dict of helpers, a ``functools.partial``, a closure) reaches the stand-in.  It is called
through the student's own signature: arguments are matched to the contract's parameters by name where
the student kept the contract's names, by position otherwise, keyword-only ones included, so
``bias_correction(beta1, step=t)`` to a helper declared ``bias_correction(beta, step)`` reaches ``t``.
Its result keeps the kind the student's helper returns: a helper whose code builds a tuple subclass of
its module (``return MomentumResult(param - v, v)``, a NamedTuple) gets the stand-in's values in that
class, so a caller that reads ``step.param`` runs as it would with a correct helper of its own.
Runs in sandbox workers and in the in-process runner; stdlib only.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_TRAMPOLINE = "def {name}(*args, **kwargs):\n    return {target}(*args, **kwargs)\n"


def install(namespace: dict[str, object], name: str, stand_in: Callable[..., object],
            ran: Callable[[], None], *, graded: object = None) -> Callable[[], None]:
    """Make the student's ``name`` in ``namespace`` run the stand-in; ``ran()`` is called whenever it does.
    ``graded`` (the function being graded) is never changed itself, even if the student made it the same
    object as the helper.  Returns a function that undoes it all (the in-process runner grades the helper
    itself as written afterwards)."""
    original = namespace.get(name)
    if original is None:
        return lambda: None
    adapted = _through_their_signature(original, stand_in, ran, _result_type(original, namespace))
    aliases = {k: v for k, v in namespace.items() if v is original}
    if isinstance(original, types.FunctionType) and not original.__code__.co_freevars and original is not graded:
        # A trampoline in the student's own globals: the function object itself now calls the stand-in.
        target = f"__optigrade_stand_in_{name}"
        namespace[target] = adapted
        scope: dict[str, object] = {}
        exec(_TRAMPOLINE.format(name=name, target=target), scope)  # noqa: S102 - our template
        code, defaults, kwdefaults = original.__code__, original.__defaults__, original.__kwdefaults__
        original.__code__ = scope[name].__code__  # type: ignore[attr-defined]
        original.__defaults__, original.__kwdefaults__ = None, None

        def undo() -> None:
            original.__code__, original.__defaults__, original.__kwdefaults__ = code, defaults, kwdefaults
            namespace.pop(target, None)

        return undo
    for k in aliases:  # not a plain function (a callable object, a nested def): rebind the names at least
        namespace[k] = adapted
    return lambda: namespace.update(aliases)


def _result_type(theirs: object, namespace: dict[str, object]) -> type | None:
    """The one tuple subclass of the student's module that ``theirs`` names in its code (its result type,
    e.g. a NamedTuple), or None: none, several, or not a plain function.  Nothing of the student's runs."""
    code = getattr(theirs, "__code__", None) if isinstance(theirs, types.FunctionType) else None
    if not isinstance(code, types.CodeType):
        return None
    names: set[str] = set()
    pending = [code]
    while pending:  # the function's own names and those of code nested in it (a comprehension)
        c = pending.pop()
        names.update(c.co_names)
        pending += [k for k in c.co_consts if isinstance(k, types.CodeType)]
    found = {v for n in names if isinstance(v := namespace.get(n), type) and issubclass(v, tuple) and v is not tuple}
    return found.pop() if len(found) == 1 else None


def _as_their_type(value: object, kind: type | None) -> object:
    """``value`` (a stand-in's tuple) in the student's result type, built by ``tuple.__new__`` (the class's
    own ``__new__`` and ``__init__`` are not run); as it is when the field count does not match."""
    if kind is None or type(value) is not tuple:
        return value
    fields = getattr(kind, "_fields", None)
    if isinstance(fields, tuple) and len(fields) != len(value):
        return value
    try:
        return tuple.__new__(kind, value)
    except Exception:  # noqa: BLE001 - a class tuple.__new__ cannot build: the plain tuple, then
        return value


def _through_their_signature(theirs: object, stand_in: Callable[..., object],
                             ran: Callable[[], None], kind: type | None = None) -> Callable[..., object]:
    try:
        signature = inspect.signature(theirs)  # type: ignore[arg-type]
        contract = list(inspect.signature(stand_in).parameters)
        params = [p for p in signature.parameters.values()
                  if p.kind in (*_POSITIONAL, inspect.Parameter.KEYWORD_ONLY)]
        # The contract's own names map to themselves; the rest, by position, to the names left over.
        rename = {p.name: p.name for p in params if p.name in contract}
        left = [c for c in contract if c not in rename]
        rename |= dict(zip([p.name for p in params if p.name not in rename], left, strict=False))
    except Exception:  # noqa: BLE001 - not introspectable (a student's callable object): call as given
        signature, rename = None, {}

    def standing_in(*args: object, **kwargs: object) -> object:
        ran()
        if signature is not None:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError:
                pass  # their own signature refuses this call; let the stand-in say what is wrong
            else:  # the contract's defaults, not theirs, for what the caller left out
                return _as_their_type(stand_in(**{rename[k]: v for k, v in bound.arguments.items() if k in rename}),
                                      kind)
        return _as_their_type(stand_in(*args, **kwargs), kind)

    standing_in.__name__ = getattr(stand_in, "__name__", "stand_in")
    return standing_in
