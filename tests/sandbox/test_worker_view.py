"""What a worker sees of the world: no trusted modules, no repo on its path, a clean environment,
and student code never enters the grading process."""

from __future__ import annotations

import sys
from pathlib import Path

from grader.sandbox import Job, Request, Sandbox
from grader.sandbox.policy import REPO_ROOT
from tests.sandbox.conftest import write_student

LOOK_AROUND = """
import os, sys
def f():
    return {
        "modules": sorted(m for m in sys.modules if m.split(".")[0] in
                          ("grader", "solutions", "tests", "quiz_bank", "exercises", "optigrade")),
        "path": list(sys.path),
        "meta_path": [type(f).__name__ for f in sys.meta_path],
        "env": sorted(os.environ),
        "cwd": os.getcwd(),
        "uid": os.getuid(),
        "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
    }
"""
WORKER_MODULES = {"grader", "grader.sandbox", "grader.sandbox.values", "grader.sandbox.wire",
                  "grader.sandbox.objectives", "grader.sandbox.drivers", "grader.sandbox.worker",
                  "grader.sandbox.isolation", "grader.sandbox.policy",
                  "grader.sandbox.siblings",  # the submission's own files, importable by name
                  "grader.sandbox.effects",  # what else a call did (no answers in it)
                  "grader.sandbox.wording",  # how an exception or a missing function is worded (no answers)
                  "grader.sandbox.residue",  # what a function left for the next (no answers in it)
                  "grader.sandbox.stand_ins"}  # puts a helper's stand-in in place (never the formulas)


def test_worker_holds_no_trusted_code_or_secrets(sandbox: Sandbox, tmp_path: Path) -> None:
    result = sandbox.run(Job(write_student(tmp_path, LOOK_AROUND), "f", [Request()]))
    assert result.status == "ok", result.detail
    seen = result.replies[0].value
    assert isinstance(seen, dict)
    assert set(seen["modules"]) <= WORKER_MODULES, seen["modules"]  # type: ignore[arg-type]
    # The stand-ins (grader/sandbox/substitutes.py) answer exercises: only their source comes, when asked.
    assert "grader.sandbox.substitutes" not in seen["modules"]  # type: ignore[operator]
    for entry in seen["path"]:  # type: ignore[union-attr]
        assert isinstance(entry, str)
        inside_repo = Path(entry) == REPO_ROOT or REPO_ROOT in Path(entry).parents
        assert not inside_repo or "site-packages" in entry, entry
    assert "_EditableFinder" not in seen["meta_path"]  # type: ignore[operator]
    assert seen["env"] == sorted(["HOME", "TMPDIR", "PATH", "LC_ALL", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                  "OPENBLAS_NUM_THREADS", "CUDA_VISIBLE_DEVICES"])  # "": a CPU job sees no GPU
    assert "/tmp/" in str(seen["cwd"])
    fds = seen["fds"]
    assert isinstance(fds, list)
    assert fds[:5] == [0, 1, 2, 3, 4]  # stdin, stdout, stderr, requests, replies ...
    assert len(fds) <= 6  # ... and the fd listdir itself used; no Landlock or control fds leak in


def test_student_code_never_enters_the_grading_process(sandbox: Sandbox, tmp_path: Path) -> None:
    path = write_student(tmp_path, "import sys\nMARK = 1\ndef f():\n    return MARK\n")
    assert sandbox.run(Job(path, "f", [Request()])).replies[0].value == 1
    loaded_from = [str(getattr(m, "__file__", "") or "") for m in list(sys.modules.values())]
    assert not any(str(tmp_path) in f or "optigrade-sandbox-" in f for f in loaded_from)


def test_string_hashing_is_the_same_in_every_zygote(sandbox: Sandbox, tmp_path: Path) -> None:
    """Set order of strings depends on the hash seed; a fresh zygote must not change a student's answer."""
    path = write_student(tmp_path, "def f():\n    return hash('adam'), list({'m', 'v', 'beta1', 'beta2', 'eps'})\n")
    first = sandbox.run(Job(path, "f", [Request()])).replies[0].value
    with Sandbox(jobs=1) as fresh:
        again = fresh.run(Job(path, "f", [Request()])).replies[0].value
    assert first == again


def test_a_worker_is_the_first_the_oom_killer_takes(sandbox: Sandbox, tmp_path: Path) -> None:
    path = write_student(tmp_path, "def f():\n    return open('/proc/self/oom_score_adj').read().strip()\n")
    assert sandbox.run(Job(path, "f", [Request()])).replies[0].value == "1000"
