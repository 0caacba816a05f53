"""Public properties of RMSProp: r is a running average, and the first step is about η/√(1 − p)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from grader.suite.compare import first_mismatch, unpack
from grader.suite.contract import STEP_FUNCTIONS, step_examples
from grader.suite.model import Call, Case, Example, Failure, Outcome, Property

RMSPROP = STEP_FUNCTIONS["rmsprop_step"]


def first_step() -> Property:
    """From r = 0 with δ = 0: r₁ = (1 − p)g², so every nonzero coordinate moves η/√(1 − p) against g."""

    def case(ex: Example) -> Case:
        return Case(ex, (Call(RMSPROP.name, RMSPROP.args(ex)),))

    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        got = unpack(outcomes[0], RMSPROP.outputs)
        if isinstance(got, Failure):
            return got
        ex = case.example
        g = ex["grad"].double()
        expected = ex["param"].double() - ex["lr"] / math.sqrt(1 - ex["decay"]) * torch.sign(g)
        mismatch = first_mismatch(got[0].tensor, expected, ex["dtype"])
        if mismatch is not None:
            return Failure(f"the first step from r = 0 (δ = 0) should move each coordinate by η/√(1 − p) against "
                           f"the gradient: {mismatch.describe('param')}", expected=expected, got=got[0].tensor)
        return None

    examples = step_examples(RMSPROP, zero_state=True).map(
        lambda ex: {**ex, "delta": 0.0, "grad": torch.where(ex["grad"] == 0, 1.0, ex["grad"]).to(ex["dtype"])}
    )
    return Property(RMSPROP.name, "first step from r = 0 moves η/√(1 − p)", public=True, examples=examples,
                    case=case, judge=judge, formula=RMSPROP.formula)


def properties() -> list[Property]:
    return [first_step()]
