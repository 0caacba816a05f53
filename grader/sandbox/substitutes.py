"""Trusted stand-ins for contract helpers, put into a student's module while *another* function is graded.

A student's ``adam_step`` often calls their own ``bias_correction(β, t)``.  When that helper failed its
own tests, the grader asks for it to be replaced (``Job.substitutes``) while ``adam_step`` runs, so the
helper's bug is charged to the helper alone.  Only formulas printed on the lecture slides belong here:
this file is readable from inside the sandbox.
"""

from __future__ import annotations

from collections.abc import Callable


def bias_correction(beta: float, t: int) -> float:
    """1 − βᵗ (the lecture's bias-correction term)."""
    return 1 - beta**t


SUBSTITUTES: dict[str, Callable[..., object]] = {"bias_correction": bias_correction}


def apply(namespace: dict[str, object], names: object) -> None:
    """Replace each named global the student's module defines by its stand-in (names were validated)."""
    if not isinstance(names, tuple | list):
        return
    for name in names:
        if isinstance(name, str) and name in SUBSTITUTES and name in namespace:
            namespace[name] = SUBSTITUTES[name]
