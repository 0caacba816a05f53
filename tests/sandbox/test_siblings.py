"""Job.siblings: a submission's files import each other inside the worker, and nothing else comes with them."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.sandbox import Job, Request, Sandbox
from tests.sandbox.conftest import CANARY, Canaries, write_student

REGRESSION = """
from optimizers import sgd_step  # reused across files, as on the student's machine
import exercises.epochs as package_form

def uses_both(x):
    import epochs  # also at call time
    return sgd_step(x, 1.0, 0.5), package_form.steps(10, 3), epochs.steps(10, 4)

def box_listing():
    import os
    return sorted(os.listdir(os.path.dirname(__file__)))
"""


def _submission(tmp_path: Path) -> dict[str, Path]:
    return {
        "regression": write_student(tmp_path, REGRESSION, "regression.py"),
        "optimizers": write_student(tmp_path, "def sgd_step(p, g, lr):\n    return p - lr * g\n"),
        "epochs": write_student(tmp_path, "def steps(n, b):\n    return -(-n // b)\n", "epochs.py"),
    }


def test_a_module_imports_its_siblings_by_name_and_as_exercises(sandbox: Sandbox, tmp_path: Path) -> None:
    files = _submission(tmp_path)
    siblings = {k: v for k, v in files.items() if k != "regression"}
    result = sandbox.run(Job(files["regression"], "uses_both", [Request("call", (2.0,))], siblings=siblings))
    assert result.status == "ok", result.detail
    assert result.replies[0].value == (1.5, 4, 3)
    listing = sandbox.run(Job(files["regression"], "box_listing", [Request()], siblings=siblings))
    assert listing.replies[0].value == ["epochs.py", "optimizers.py", "regression.py"]


def test_a_sibling_may_import_the_graded_module_back(sandbox: Sandbox, tmp_path: Path) -> None:
    """A circular import in the package form: epochs imports exercises.optimizers, which imports it."""
    optimizers = write_student(tmp_path, "import exercises.epochs\ndef sgd_step(p, g, lr):\n    return p - lr * g\n"
                                         "def f():\n    return exercises.epochs.twice(1.0)\n")
    epochs = write_student(tmp_path, "def twice(x):\n    import exercises.optimizers as o\n"
                                     "    return o.sgd_step(x, -x, 1.0)\n", "epochs.py")
    result = sandbox.run(Job(optimizers, "f", [Request()], siblings={"epochs": epochs}))
    assert result.status == "ok", result.detail
    assert result.replies[0].value == 2.0


def test_without_siblings_nothing_else_is_importable(sandbox: Sandbox, tmp_path: Path) -> None:
    files = _submission(tmp_path)
    result = sandbox.run(Job(files["regression"], "uses_both", [Request("call", (2.0,))]))
    assert result.status == "import_error"
    assert "No module named 'optimizers'" in result.detail


def test_a_sibling_is_a_copy_of_this_submission_only(sandbox: Sandbox, tmp_path: Path, canaries: Canaries) -> None:
    """Naming another student's file or the reference as a sibling only copies it: the student's own
    name for a module never reaches the instructor's files, and a symlinked sibling is not followed."""
    files = _submission(tmp_path)
    link = tmp_path / "student" / "linked.py"
    link.symlink_to(canaries.paths["fake_reference"])
    probe = write_student(tmp_path, "def f():\n    import linked\n    return linked.SECRET\n", "probe.py")
    result = sandbox.run(Job(probe, "f", [Request()], siblings={"linked": link, "epochs": files["epochs"]}))
    assert result.status == "ok", result.detail
    assert result.replies[0].raised is not None
    assert "No module named 'linked'" in result.replies[0].raised
    assert CANARY not in repr(result)


@pytest.mark.parametrize("name", ["regression", "../x", "os.path", ""])
def test_bad_sibling_names_are_refused_before_anything_runs(sandbox: Sandbox, tmp_path: Path, name: str) -> None:
    files = _submission(tmp_path)
    with pytest.raises(ValueError, match="Job.siblings name"):
        sandbox.run(Job(files["regression"], "uses_both", [Request()], siblings={name: files["epochs"]}))
