"""Job.substitutes: a helper the student got wrong is replaced while another function is graded."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from grader.sandbox import Job, Request, Sandbox
from tests.sandbox.conftest import write_student

STUDENT = """
def bias_correction(beta, t):
    return beta ** t  # wrong: that is the power, not 1 - beta^t

def corrected(m, beta, t):
    return m / bias_correction(beta, t)
"""


def test_the_named_helper_is_replaced_for_this_job_only(sandbox: Sandbox, tmp_path: Path) -> None:
    path = write_student(tmp_path, STUDENT)
    m = torch.tensor(0.05, dtype=torch.float64)
    request = Request("call", (m, 0.9, 1))
    plain = sandbox.run(Job(path, "corrected", [request]))
    fixed = sandbox.run(Job(path, "corrected", [request], substitutes=("bias_correction",)))
    assert plain.replies[0].value.tensor.item() == pytest.approx(0.05 / 0.9)  # type: ignore[union-attr]
    assert fixed.replies[0].value.tensor.item() == pytest.approx(0.5)  # type: ignore[union-attr]  # 0.05 / 0.1
    own = sandbox.run(Job(path, "bias_correction", [Request("call", (0.9, 1))]))
    assert own.replies[0].value == pytest.approx(0.9)  # the helper itself is still graded as written


def test_a_module_without_the_helper_is_left_alone(sandbox: Sandbox, tmp_path: Path) -> None:
    path = write_student(tmp_path, "def f(x):\n    return 'bias_correction' in globals()\n")
    result = sandbox.run(Job(path, "f", [Request("call", (1,))], substitutes=("bias_correction",)))
    assert result.replies[0].value is False


def test_unknown_substitutes_are_refused_before_anything_runs(sandbox: Sandbox, tmp_path: Path) -> None:
    path = write_student(tmp_path, STUDENT)
    with pytest.raises(ValueError, match="not stand-ins"):
        sandbox.run(Job(path, "corrected", [], substitutes=("adam_step",)))
