"""Public properties of Momentum and Nesterov Momentum."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from grader.suite.compare import first_mismatch, unpack
from grader.suite.contract import STEP_FUNCTIONS, step_examples
from grader.suite.model import Call, Case, Example, Failure, GradientFunction, Outcome, Property, TensorOut

MOMENTUM, NESTEROV = STEP_FUNCTIONS["momentum_step"], STEP_FUNCTIONS["nesterov_step"]


def gamma_zero_is_sgd(name: str) -> Property:
    """With γ = 0 both forget the past: x' = x − η·g, with g taken at x itself."""
    f = STEP_FUNCTIONS[name]

    def case(ex: Example) -> Case:
        return Case(ex, (Call(f.name, f.args(ex)),))

    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        got = unpack(outcomes[0], f.outputs)
        if isinstance(got, Failure):
            return got
        ex = case.example
        g = GradientFunction(ex["a"], ex["c"])(ex["param"]) if name == "nesterov_step" else ex["grad"]
        expected = ex["param"] - ex["lr"] * g
        mismatch = first_mismatch(got[0].tensor, expected, ex["dtype"])
        if mismatch is not None:
            return Failure(f"with γ = 0 (no momentum) the step should be plain SGD: {mismatch.describe('param')}",
                           expected=expected, got=got[0].tensor)
        return None

    return Property(name, "with γ = 0 equals SGD (x − η·g)", public=True,
                    examples=step_examples(f).map(lambda ex: {**ex, "gamma": 0.0}), case=case, judge=judge,
                    formula=f.formula)


def look_ahead() -> Property:
    """Nesterov asks for the gradient at x_t − γ·v_{t−1} (asking elsewhere too is wasteful, not wrong:
    whether the right gradient was *used* is what the differential tests check)."""

    def case(ex: Example) -> Case:
        return Case(ex, (Call(NESTEROV.name, NESTEROV.args(ex)),))

    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        outcome = outcomes[0]
        if outcome.problem is not None:
            return Failure(f"the call {outcome.problem}")
        ex = case.example
        expected = ex["param"] - ex["gamma"] * ex["velocity"]
        points = [p for p in outcome.grad_fn_points if isinstance(p, TensorOut)]
        if not points:
            return Failure("grad_fn was never called with a tensor; call it at x_t − γ·v_{t−1}")
        if any(p.tensor.shape == expected.shape and first_mismatch(p.tensor, expected, ex["dtype"]) is None
               for p in points):
            return None
        got = points[0].tensor
        if got.shape != expected.shape:
            return Failure(f"grad_fn was called with shape {tuple(got.shape)}; expected x_t − γ·v_{{t−1}} of "
                           f"shape {tuple(expected.shape)}", expected=expected, got=got)
        mismatch = first_mismatch(got, expected, ex["dtype"])
        where = mismatch.describe("point") if mismatch is not None else "not at x_t − γ·v_{t−1}"
        hint = "that is x_t itself: Nesterov looks ahead first" if torch.equal(got, ex["param"]) else None
        return Failure(f"grad_fn was never called at the look-ahead point: {where}", expected=expected, got=got,
                       hint=hint)

    return Property(NESTEROV.name, "takes the gradient at the look-ahead point x − γ·v", public=True,
                    examples=step_examples(NESTEROV, zero_state=False).filter(lambda ex: ex["gamma"] > 0),
                    case=case, judge=judge, formula=NESTEROV.formula)


def properties() -> list[Property]:
    return [gamma_zero_is_sgd("momentum_step"), gamma_zero_is_sgd("nesterov_step"), look_ahead()]


