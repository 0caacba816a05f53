"""Public properties of Adagrad: r only grows, so each element's learning rate only shrinks."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from grader.suite.compare import unpack
from grader.suite.contract import STEP_FUNCTIONS, step_examples
from grader.suite.model import Call, Case, Example, Failure, Outcome, Property

ADAGRAD = STEP_FUNCTIONS["adagrad_step"]


def rate_never_increases() -> Property:
    """r_t ≥ r_{t−1}, and the step η/(δ + √r_t)·|g| is at most η/(δ + √r_{t−1})·|g|."""

    def case(ex: Example) -> Case:
        return Case(ex, (Call(ADAGRAD.name, ADAGRAD.args(ex)),))

    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        got = unpack(outcomes[0], ADAGRAD.outputs)
        if isinstance(got, Failure):
            return got
        ex = case.example
        x, g, r = (ex[k].double() for k in ("param", "grad", "r"))
        new_x, new_r = (t.tensor.double() for t in got)
        for name, value in (("param", new_x), ("r", new_r)):
            if bool(value.isnan().any()):  # NaN compares False: it would pass the bounds below
                return Failure(f"{name} holds NaN although every input is finite; expected finite values "
                               f"(check for 0/0 or √ of a negative number)", got=value)
        if bool((new_r < r).any()):
            return Failure("r decreased; Adagrad accumulates r_t = r_{t−1} + g⊙g, so it never shrinks",
                           expected=r, got=new_r)
        moved = (x - new_x).abs()
        limit = ex["lr"] / (ex["delta"] + torch.sqrt(r)) * g.abs()
        slack = 1e-6 * limit + (1e-6 if ex["dtype"] == torch.float32 else 1e-12) * (1 + x.abs())
        if bool((moved > limit + slack).any()):
            return Failure("the step |x − x′| is larger than η/(δ + √r_{t−1})·|g|: the learning rate went up",
                           expected=limit, got=moved)
        return None

    return Property(ADAGRAD.name, "effective learning rate never increases", public=True,
                    examples=step_examples(ADAGRAD), case=case, judge=judge, formula=ADAGRAD.formula)


def properties() -> list[Property]:
    return [rate_never_increases()]
