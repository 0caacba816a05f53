"""A NaN answer is not a right answer: properties that check a bound or a table value must fail on NaN.

``x > limit`` and ``abs(x - want) > tol`` are False for NaN, so a judge written as "fail if it is too
large" passes a NaN.  Each case below is the correct demo student with one function answering NaN.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.suite.engine import Suite
from grader.suite.runners import InProcessRunner
from tests.grading.conftest import submission_with

NAN_ANSWERS = {
    "bias_correction": ("def bias_correction(beta, t):\n    return math.nan\n",
                        "bias_correction: the lecture's table for β₁ = 0.9"),
    "adagrad_step": ("def adagrad_step(param, grad, r, lr, delta=1e-7):\n"
                     "    return torch.full_like(param, math.nan), torch.full_like(r, math.nan)\n",
                     "adagrad_step: effective learning rate never increases"),
    "adam_step": ("def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):\n"
                  "    nan = torch.full_like(param, math.nan)\n    return nan, nan.clone(), nan.clone()\n",
                  "adam_step: step is bounded by about α"),
}


@pytest.mark.parametrize("function", sorted(NAN_ANSWERS))
def test_a_nan_answer_does_not_pass_a_bound_or_a_table(suite: Suite, tmp_path: Path, function: str) -> None:
    source, name = NAN_ANSWERS[function]
    results = {r.prop.name: r for r in suite.grade(InProcessRunner(), submission_with(tmp_path, function, source))}
    assert results[name].status == "failed", f"{name} passed an answer of NaN"
    failure = results[name].failure
    assert failure is not None
    assert "nan" in failure.message.lower()
