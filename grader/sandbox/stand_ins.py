"""Put a helper's stand-in into a student's module (see grader/sandbox/substitutes.py for what they are).

The stand-in takes the place of the student's helper under every global name bound to it (``_bc =
bias_correction`` included), and is called through the student's own signature: a caller that passes
``bias_correction(beta1, step=t)`` to a helper the student declared as ``bias_correction(beta, step)``
reaches the stand-in's ``t``.  Runs in sandbox workers and in the in-process runner; stdlib only.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def install(namespace: dict[str, object], name: str, stand_in: Callable[..., object],
            ran: Callable[[], None]) -> dict[str, object]:
    """Replace the student's ``name`` and its aliases by the stand-in; ``ran()`` is called whenever it is
    used.  Returns the bindings replaced (name -> the student's object), to restore them."""
    original = namespace.get(name)
    if original is None:
        return {}
    adapted = _through_their_signature(original, stand_in, ran)
    replaced = {k: v for k, v in namespace.items() if v is original}
    for k in replaced:
        namespace[k] = adapted
    return replaced


def _through_their_signature(theirs: object, stand_in: Callable[..., object],
                             ran: Callable[[], None]) -> Callable[..., object]:
    try:
        signature = inspect.signature(theirs)  # type: ignore[arg-type]
        names = [p.name for p in signature.parameters.values() if p.kind in _POSITIONAL]
        rename = dict(zip(names, inspect.signature(stand_in).parameters, strict=False))  # by position
    except Exception:  # noqa: BLE001 - not introspectable (a student's callable object): call as given
        signature, rename = None, {}

    @functools.wraps(stand_in)
    def standing_in(*args: object, **kwargs: object) -> object:
        ran()
        if signature is not None:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError:
                pass  # their own signature refuses this call; let the stand-in say what is wrong
            else:  # the contract's defaults, not theirs, for what the caller left out
                return stand_in(**{rename[k]: v for k, v in bound.arguments.items() if k in rename})
        return stand_in(*args, **kwargs)

    return standing_in
