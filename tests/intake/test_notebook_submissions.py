"""Real notebooks, filled in and run in a Jupyter kernel (outputs, an image, magics, a redefinition, a
cell that failed), saved by Jupyter and by Colab, are staged and graded like the same code in .py files."""

from __future__ import annotations

import copy
import csv
import io
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import nbformat
import pytest

from grader.grade.run import grade_class
from grader.intake.staging import stage_submissions
from tests.notebooks import CORRECT, NESTEROV_BUG, colab_saved, execute, released, solved, stub_cell

FAST = {"examples": 4, "wall_s": 5.0, "jobs": 2}
NOISE = {  # cells a student adds: index of the cell they go before -> source
    "imports": ["!pip --version", "%matplotlib inline\nimport matplotlib.pyplot as plt"],
    "sgd_step": ["def sgd_step(param, grad, lr):\n    return param + lr * grad  # a first try, wrong"],
    "momentum_step": ["%%capture\nprint('quiet')\nx0 = torch.ones(3)",
                      "assert sgd_step(x0, x0, 0.1).sum() == 0, 'my own test fails'",  # raises when run
                      "plt.plot([3, 1, 2])\nplt.title('loss')\nplt.show()",
                      "%time _ = [sgd_step(x0, x0, 0.1) for _ in range(3)]"],
}


def student_notebook(nb: Any, **overrides: str) -> Any:
    """The released notebook as a student leaves it: solved, with extra cells of every kind."""
    nb = solved(nb, **overrides)
    for where, sources in NOISE.items():
        anchor = (next(c for c in nb.cells if c.cell_type == "code" and "import torch" in c.source)
                  if where == "imports" else stub_cell(nb, where))
        at = nb.cells.index(anchor) + (1 if where == "imports" else 0)
        nb.cells[at:at] = [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("notebooks")
    edition = released(work / "bundle")
    good = execute(student_notebook(edition), work, allow_errors=True)
    buggy = copy.deepcopy(good)
    stub_cell(buggy, "nesterov_step").source = NESTEROV_BUG  # edited after the run: outputs stay
    return {"good": good, "buggy": buggy}


def test_the_notebooks_are_real_ones(notebooks: dict[str, Any]) -> None:
    outputs = [o for c in notebooks["good"].cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert any(o.output_type == "error" and o.ename == "AssertionError" for o in outputs)
    assert any(o.output_type == "stream" and "pip" in o.text for o in outputs)
    assert any(o.output_type == "stream" and "Wall time" in o.text for o in outputs)


def _class(folder: Path, notebooks: dict[str, Any]) -> Path:
    jupyter = nbformat.writes(notebooks["good"]).encode()
    (folder / "py_student").mkdir(parents=True)
    for f in CORRECT.glob("*.py"):
        shutil.copy(f, folder / "py_student" / f.name)
    (folder / "jupyter_student").mkdir()
    (folder / "jupyter_student" / "exercises.ipynb").write_bytes(jupyter)
    (folder / "colab_student.ipynb").write_bytes(colab_saved(notebooks["good"]))
    (folder / "bug_student").mkdir()
    (folder / "bug_student" / "Copy of exercises.ipynb").write_bytes(nbformat.writes(notebooks["buggy"]).encode())
    (folder / "mixed_student").mkdir()
    shutil.copy(CORRECT / "epochs.py", folder / "mixed_student" / "epochs.py")
    (folder / "mixed_student" / "hw.ipynb").write_bytes(jupyter)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("hw2/exercises.ipynb", jupyter)
        archive.writestr("hw2/.ipynb_checkpoints/exercises-checkpoint.ipynb", b"{ not json")
    (folder / "zip_student.zip").write_bytes(buf.getvalue())
    (folder / "eve_12345_67890_exercises.ipynb").write_bytes(b"{}")  # Canvas: an older upload ...
    (folder / "eve_12345_67891_exercises-1.ipynb").write_bytes(colab_saved(notebooks["good"]))  # ... and the newest
    (folder / "broken_student").mkdir()
    (folder / "broken_student" / "exercises.ipynb").write_bytes(jupyter[: len(jupyter) // 2])
    return folder


def test_staging_takes_the_notebook_for_the_files_not_submitted(tmp_path: Path, notebooks: dict[str, Any]) -> None:
    report = stage_submissions(_class(tmp_path / "class", notebooks), tmp_path / "boxes")
    by_id = {s.student_id: s for s in report.submissions}
    assert set(by_id) == {"py_student", "jupyter_student", "colab_student", "bug_student", "mixed_student",
                          "zip_student", "broken_student", "eve_12345"}
    assert not any("checkpoint" in p or "not valid" in p for p in by_id["zip_student"].problems)
    assert any("more than one exercises.ipynb; used the newest upload" in p for p in by_id["eve_12345"].problems)
    for sid in ("jupyter_student", "colab_student", "zip_student", "eve_12345"):
        sub = by_id[sid]
        assert sub.missing == [], sub.problems
        assert any("optimizers.py and epochs.py and regression.py were taken from the code cells of" in p
                   for p in sub.problems), sub.problems
        assert any("sgd_step is defined 2 times" in p for p in sub.problems)
        text = sub.staged["optimizers"].read_text()
        for left_out in ("plt.", "assert ", "%time", "!pip", "print('quiet')", "x0 ="):
            assert left_out not in text, left_out
    jupyter, colab = (by_id[s].staged["optimizers"].read_bytes().split(b"\n", 1) for s in ("jupyter_student",
                                                                                          "colab_student"))
    assert jupyter[1] == colab[1]  # the same code, whoever saved it (the first line names the file)
    mixed = by_id["mixed_student"]
    assert mixed.staged["epochs"].read_bytes() == (CORRECT / "epochs.py").read_bytes()
    assert "epochs.py was submitted, so its functions in hw.ipynb were not used" in mixed.problems
    broken = by_id["broken_student"]
    assert broken.staged == {}
    assert any("exercises.ipynb is not valid notebook JSON" in p for p in broken.problems)


def test_notebooks_are_graded_like_the_same_code_in_files(tmp_path: Path, notebooks: dict[str, Any]) -> None:
    out = tmp_path / "graded"
    grade_class(_class(tmp_path / "class", notebooks), out, **FAST)
    with (out / "grades.csv").open() as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    reference = rows["py_student"]
    assert float(reference["total"]) == float(reference["max_total"]) > 0
    for sid in ("jupyter_student", "colab_student", "mixed_student", "zip_student"):
        assert rows[sid]["total"] == reference["total"], sid
        assert rows[sid]["status"] == "ok"
    bug = rows["bug_student"]
    assert float(bug["nesterov_step"]) < float(reference["nesterov_step"])
    others = [f for f in reference if f not in ("student", "nesterov_step", "total", "status")]
    assert all(bug[f] == reference[f] for f in others)
    assert rows["broken_student"]["status"] == "student_error"
    feedback = (out / "broken_student" / "feedback.md").read_text()
    assert "is not valid notebook JSON" in feedback
    data = json.loads((out / "jupyter_student" / "results.json").read_text())
    assert data["score"] == float(reference["total"])
