"""Trusted stand-ins for contract helpers, put into a student's module while *another* function is graded.

A student's ``adam_step`` often calls their own ``bias_correction(β, t)``, ``adamw_step`` their own
``adam_step``, ``momentum_step`` their own ``sgd_step``, ``nesterov_step`` their own ``momentum_step``.
When such a helper failed its own tests, the grader asks for it to be replaced (``Job.substitutes``)
while the caller runs, so the helper's bug is charged to the helper alone.  Each stand-in is the
lecture's formula for that helper and nothing more.

A stand-in is the answer to its own exercise, so a worker holds only the ones its job asked for: this
module is never imported in a worker.  The trusted side sends each asked-for stand-in's *source* with the
job (:func:`sources`); the worker compiles each alone, with nothing but builtins as globals
(``grader/sandbox/worker.py``), so from one stand-in no other can be reached.  ``grader/sandbox/stand_ins.py``
puts them in place, through the student's own signature, and notes where one ran.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable


# Unannotated on purpose: a worker compiles each one alone, with nothing but builtins to name types with.
def sgd_step(param, grad, lr):  # type: ignore[no-untyped-def]
    return param - lr * grad


def momentum_step(param, grad, velocity, lr, gamma=0.9):  # type: ignore[no-untyped-def]
    v = gamma * velocity + lr * grad
    return param - v, v


def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):  # type: ignore[no-untyped-def]
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    return param - lr * (m / (1 - beta1**t)) / ((v / (1 - beta2**t)) ** 0.5 + eps), m, v


def bias_correction(beta, t):  # type: ignore[no-untyped-def]
    return 1 - beta**t


def steps_per_epoch(num_examples, batch_size, drop_last=False):  # type: ignore[no-untyped-def]
    return num_examples // batch_size if drop_last else -(-num_examples // batch_size)


SUBSTITUTES: dict[str, Callable[..., object]] = {
    f.__name__: f for f in (sgd_step, momentum_step, adam_step, bias_correction, steps_per_epoch)
}


def sources(names: object) -> dict[str, str]:
    """Trusted side: the source of each named stand-in (unknown names are left out; callers validate)."""
    if not isinstance(names, tuple | list):
        return {}
    return {n: inspect.getsource(SUBSTITUTES[n]) for n in names if isinstance(n, str) and n in SUBSTITUTES}


