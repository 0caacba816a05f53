"""Public properties: they need no reference, so they ship to students (``optigrade release``)."""

from __future__ import annotations

from grader.suite.model import Property


def properties() -> list[Property]:
    from grader.suite.public import adagrad, adam, epochs, momentum, regression, rmsprop, steps

    return [p for module in (steps, momentum, adagrad, rmsprop, adam, epochs, regression)
            for p in module.properties()]
