"""A GPU fault is the machine's, never the student's: the canary before grading, the fallback to the CPU
under --device auto, and a CUDA start that fails mid-run.  Runs on any machine: ``Sandbox.cuda_fault``
makes every worker's CUDA start fail as a dead GPU would."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from grader.errors import GraderFault
from grader.grade import gpu
from grader.grade.run import grade_class
from grader.sandbox import Sandbox
from grader.suite import runners
from grader.suite.hidden import steps
from grader.suite.model import Call
from grader.suite.runners import Batch, SandboxRunner
from tests.grading.conftest import DEMO

FAST = {"examples": 3, "wall_s": 5.0, "jobs": 2}
CORRECT = "b11002001"


@pytest.fixture
def dead_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch sees a GPU here, but no sandboxed worker can start CUDA on it."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(Sandbox, "cuda_fault", "the GPU fell off the bus (test)")


def one_student(tmp_path: Path) -> Path:
    import shutil

    subs = tmp_path / "subs"
    shutil.copytree(DEMO / CORRECT, subs / CORRECT)
    return subs


def test_device_cuda_stops_before_grading_anyone(dead_gpu: None, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(GraderFault, match=r"--device cuda: CUDA does not start in the sandbox.*nothing was graded"
                                          r".*fell off the bus.*Fix:.*grader.sandbox.trace"):
        grade_class(one_student(tmp_path), out, device="cuda", **FAST)  # type: ignore[arg-type]
    assert not list(out.rglob("results.json"))


def test_device_auto_grades_on_the_cpu_and_says_why(dead_gpu: None, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from rich.console import Console

    out = tmp_path / "out"
    result = grade_class(one_student(tmp_path), out, device="auto", console=Console(stderr=True, width=200),
                         **FAST)  # type: ignore[arg-type]
    assert result.grader_errors == 0
    assert "CUDA did not start on the grading machine" in capsys.readouterr().err
    data = json.loads((out / CORRECT / "results.json").read_text())
    skipped = [t for t in data["tests"] if t.get("extra_data", {}).get("skipped")]
    assert skipped
    assert all("CUDA did not start" in t["output"] and "fell off the bus" in t["output"] for t in skipped)
    assert data["score"] == data["extra_data"]["max_score"]  # every mark that could be graded, none charged


def test_a_cuda_start_that_fails_mid_run_is_a_grader_error_then_regraded(dead_gpu: None, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The canary passed, then the GPU went away: the CUDA properties' jobs fail to start CUDA.  They are
    retried, then the student is a grader error (no results.json, nothing charged), regraded on resume."""
    monkeypatch.setattr(gpu, "cuda_problem", lambda sandbox: None)

    def fake_cuda(value: object) -> object:  # CPU tensors marked as if on the GPU: their calls go to CUDA jobs
        if isinstance(value, torch.Tensor):
            value = value.clone()
            value._on_fake_gpu = True  # type: ignore[attr-defined]
        return value

    monkeypatch.setattr(steps, "_to_cuda", fake_cuda)
    monkeypatch.setattr(runners, "on_cuda", lambda call: any(getattr(a, "_on_fake_gpu", False) for a in call.args))
    subs, out = one_student(tmp_path), tmp_path / "out"
    result = grade_class(subs, out, device="cuda", **FAST)  # type: ignore[arg-type]
    assert result.grader_errors == 1
    assert not (out / CORRECT / "results.json").exists()
    error = (out / CORRECT / "grader_error.txt").read_text()
    assert "grading machine failed" in error
    assert "CUDA did not start" in error
    assert "3 tries" in error
    with (out / "grades.csv").open() as f:
        assert [r["status"] for r in csv.DictReader(f)] == ["grader_error"]
    monkeypatch.undo()
    again = grade_class(subs, out, device="cpu", **FAST)  # type: ignore[arg-type]
    assert (again.graded, again.grader_errors) == (1, 0)
    assert not (out / CORRECT / "grader_error.txt").exists()


class Scripted:
    """A sandbox whose jobs end with ``status`` at the request for which ``fails(function, index, job)``
    says so; records every job."""

    def __init__(self, fails: Any) -> None:
        self.fails, self.jobs = fails, []  # type: ignore[var-annotated]

    def run(self, job: Any) -> SimpleNamespace:
        self.jobs.append(job)
        replies = []
        for request in job.requests:
            function = request.function or job.function
            status = self.fails(function, request.args[0], len(self.jobs))
            if status is not None:
                return SimpleNamespace(status=status, replies=replies, detail=f"{status} (test)", stdout="")
            replies.append(SimpleNamespace(value=(function, request.args[0]), raised=None, inputs_after=(),
                                           grad_fn_points=(), stand_ins=()))
        return SimpleNamespace(status="ok", replies=replies, detail="", stdout="")


FILES = {"optimizers": Path("optimizers.py")}


def test_an_infra_error_is_retried_and_then_raised_never_charged() -> None:
    box = Scripted(lambda f, i, job: "infra_error" if job == 1 and i == 1 else None)
    outcomes = SandboxRunner(box).run(FILES, "optimizers", "f", [Call("f", (i,)) for i in range(3)])
    assert [o.returned for o in outcomes] == [("f", 0), ("f", 1), ("f", 2)]
    assert all(o.failure is None for o in outcomes)
    forever = Scripted(lambda f, i, job: "infra_error")
    with pytest.raises(GraderFault, match="grading machine failed.*3 tries"):
        SandboxRunner(forever).run(FILES, "optimizers", "f", [Call("f", (0,))])
    assert len(forever.jobs) == 3


def test_cuda_calls_of_every_function_share_one_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runners, "on_cuda", lambda call: True)
    box = Scripted(lambda f, i, job: None)
    batches = [Batch("optimizers", f, [Call(f, (i,)) for i in range(3)], subs)
               for f, subs in (("sgd_step", ()), ("momentum_step", ("sgd_step",)), ("adam_step", ()))]
    got = SandboxRunner(box).run_many(FILES, batches)
    assert len(box.jobs) == 1
    assert box.jobs[0].device == "cuda"
    assert dict(box.jobs[0].functions) == {"sgd_step": (), "momentum_step": ("sgd_step",), "adam_step": ()}
    assert got == [[runners.outcome_of_reply(SimpleNamespace(value=(b.function, i), raised=None, inputs_after=(),
                                                             grad_fn_points=(), stand_ins=())) for i in range(3)]
                   for b in batches]


def test_in_a_shared_job_a_crashing_function_costs_no_other_function(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runners, "on_cuda", lambda call: True)
    box = Scripted(lambda f, i, job: "crashed" if f == "momentum_step" else None)
    batches = [Batch("optimizers", f, [Call(f, (i,)) for i in range(4)]) for f in
               ("sgd_step", "momentum_step", "adam_step")]
    sgd, momentum, adam = SandboxRunner(box).run_many(FILES, batches)
    assert all(o.failure is None for o in sgd + adam)
    assert all(o.failure and "crashed" in o.failure for o in momentum)
    # The crash (after sgd_step's calls, so once more in a fresh worker), two retries, the rest of Adam's.
    assert len(box.jobs) == 5
