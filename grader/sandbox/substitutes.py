"""Trusted stand-ins for contract helpers, put into a student's module while *another* function is graded.

A student's ``adam_step`` often calls their own ``bias_correction(β, t)``, ``adamw_step`` their own
``adam_step``, ``momentum_step`` their own ``sgd_step``, ``nesterov_step`` their own ``momentum_step``.
When such a helper failed its own tests, the grader asks for it to be replaced (``Job.substitutes``)
while the caller runs, so the helper's bug is charged to the helper alone.  Each stand-in is the
lecture's formula for that helper and nothing more.

A stand-in is the answer to its own exercise, so a worker holds only the ones its job asked for: this
module is never imported in a worker.  The trusted side sends each asked-for stand-in's *source* with the
job (:func:`sources`); the worker compiles each alone, with nothing but builtins as globals
(``grader/sandbox/worker.py``), so from one stand-in no other can be reached.  A stand-in records that it
ran in ``STAND_INS_USED``, so the feedback can say where one stood in.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping


# Unannotated on purpose: a worker compiles each one alone, with nothing but builtins to name types with.
def sgd_step(param, grad, lr):  # type: ignore[no-untyped-def]
    STAND_INS_USED.add("sgd_step")
    return param - lr * grad


def momentum_step(param, grad, velocity, lr, gamma=0.9):  # type: ignore[no-untyped-def]
    STAND_INS_USED.add("momentum_step")
    v = gamma * velocity + lr * grad
    return param - v, v


def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):  # type: ignore[no-untyped-def]
    STAND_INS_USED.add("adam_step")
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    return param - lr * (m / (1 - beta1**t)) / ((v / (1 - beta2**t)) ** 0.5 + eps), m, v


def bias_correction(beta, t):  # type: ignore[no-untyped-def]
    STAND_INS_USED.add("bias_correction")
    return 1 - beta**t


def steps_per_epoch(num_examples, batch_size, drop_last=False):  # type: ignore[no-untyped-def]
    STAND_INS_USED.add("steps_per_epoch")
    return num_examples // batch_size if drop_last else -(-num_examples // batch_size)


SUBSTITUTES: dict[str, Callable[..., object]] = {
    f.__name__: f for f in (sgd_step, momentum_step, adam_step, bias_correction, steps_per_epoch)
}
STAND_INS_USED: set[str] = set()  # what this module's own copies ran (in-process runner); a worker has its own


def sources(names: object) -> dict[str, str]:
    """Trusted side: the source of each named stand-in (unknown names are left out; callers validate)."""
    if not isinstance(names, tuple | list):
        return {}
    return {n: inspect.getsource(SUBSTITUTES[n]) for n in names if isinstance(n, str) and n in SUBSTITUTES}


def apply(namespace: dict[str, object], stand_ins: Mapping[str, Callable[..., object]]) -> None:
    """Replace each global the student's module defines by its stand-in (the worker has the same 3 lines)."""
    for name, fn in stand_ins.items():
        if name in namespace:
            namespace[name] = fn
