"""Sandbox lifecycle: zygote death is an infra error (then a restart), limits, close(), fail-closed."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from grader.sandbox import Job, Limits, Opaque, Request, Sandbox, SandboxUnavailable, isolation
from grader.sandbox.api import JobResult
from grader.sandbox.sandbox import DIR_PREFIX, _process_identity, _remove_stale_dirs, _State, classify
from tests.sandbox.conftest import sandbox_processes, write_student
from tests.sandbox.corpus import CASES, HONEST
from tests.sandbox.test_corpus import REFERENCE_SNIPPET

SLEEPER = "import time\ndef f():\n    time.sleep(30)\n"


def _honest(sandbox: Sandbox, tmp_path: Path) -> JobResult:
    path = write_student(tmp_path / "honest", HONEST)
    x = torch.ones(2, dtype=torch.float64)
    return sandbox.run(Job(path, "sgd_step", [Request("call", (x, x, 0.5))]))


def test_zygote_death_is_an_infra_error_and_it_restarts(tmp_path: Path) -> None:
    with Sandbox(limits=Limits(wall_s=5)) as box:
        first_zygote = box.zygote_pid
        assert first_zygote is not None
        results: list[JobResult] = []
        runner = threading.Thread(target=lambda: results.append(
            box.run(Job(write_student(tmp_path, SLEEPER), "f", [Request()]))))
        runner.start()
        time.sleep(0.5)
        os.kill(first_zygote, signal.SIGKILL)
        runner.join(10)
        (result,) = results
        assert result.status == "infra_error", result.detail
        assert not result.student_fault
        after = _honest(box, tmp_path)
        assert after.status == "ok", after.detail
        assert box.zygote_pid not in (None, first_zygote)
        assert sandbox_processes(box) == []


def test_close_leaves_nothing_running(tmp_path: Path) -> None:
    box = Sandbox(jobs=2, limits=Limits(wall_s=10))
    zygote, uids, private = box.zygote_pid, box.uids, box._dir
    runner = threading.Thread(target=lambda: box.run(Job(write_student(tmp_path, SLEEPER), "f", [Request()])))
    runner.start()
    time.sleep(0.5)
    box.close()
    runner.join(10)
    assert zygote is not None
    assert not Path(f"/proc/{zygote}").exists() or "Z" in Path(f"/proc/{zygote}/stat").read_text().split()[2]
    assert uids or os.getuid() != 0  # (only root has a uid per slot)
    assert sandbox_processes(box) == []  # closed: only the uids are checked
    assert not private.exists()
    box.close()  # idempotent


@pytest.fixture(scope="module")
def tight() -> Iterator[Sandbox]:
    """A sandbox with a 1 s CPU limit (the wall clock is longer) and a 1 MiB reply cap."""
    with Sandbox(limits=Limits(wall_s=8, cpu_s=1, reply_mb=1)) as box:
        yield box


@pytest.fixture(scope="module")
def unsafe() -> Iterator[Sandbox]:
    with Sandbox(limits=Limits(wall_s=5), unsafe_no_sandbox=True) as box:
        yield box


def test_cpu_time_limit_is_enforced_by_the_kernel(tight: Sandbox, tmp_path: Path) -> None:
    box = tight
    path = write_student(tmp_path, "def f():\n    while True:\n        pass\n")
    result = box.run(Job(path, "f", [Request()]))
    assert result.status == "timeout"
    assert "CPU time limit" in result.detail
    assert result.seconds < 5


def test_reply_cap(tight: Sandbox, tmp_path: Path) -> None:
    source = (
        "import torch, os\n"
        "def f():\n    return torch.zeros(300_000)\n"
        # A header as long as the cap itself can never complete before the cap is hit, however the
        # pipe chunks it (a shorter one may parse first and fail as bad JSON instead).
        "def g():\n    os.write(4, (1 << 20).to_bytes(4, 'big') + b' ' * 1_500_000)\n"
    )
    path = write_student(tmp_path, source)
    result = tight.run(Job(path, "f", [Request()]))
    assert result.status == "ok"
    value = result.replies[0].value
    assert isinstance(value, Opaque)
    assert "reply cap" in value.repr
    flood = tight.run(Job(path, "g", [Request()]))
    assert flood.status == "protocol_error"
    assert "cap" in flood.detail


def test_fails_closed_without_isolation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(isolation, "probe", lambda: ([], ["Landlock is unavailable (...); fix: use Linux ≥ 5.13"]))
    with pytest.raises(SandboxUnavailable, match="Landlock is unavailable.*unsafe_no_sandbox=True"):
        Sandbox()


def test_cuda_without_a_gpu_is_refused() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU; see test_cuda_job")
    with pytest.raises(SandboxUnavailable, match="torch.cuda.is_available"):
        Sandbox(device="cuda")


@pytest.fixture
def readable_secret() -> Iterator[Path]:
    """A file every uid may read by its permissions (what Landlock alone must keep from a worker), in a
    folder others may enter wherever the checkout lies (pytest's own tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="optigrade-secret-", dir="/tmp"))
    os.chmod(folder, 0o755)
    secret = folder / "answer_key.py"
    secret.write_text(f"KEY = {REFERENCE_SNIPPET!r}\n")
    os.chmod(secret, 0o644)
    yield secret
    shutil.rmtree(folder)


def test_unsafe_mode_is_marked_and_really_unsafe(unsafe: Sandbox, sandbox: Sandbox, tmp_path: Path,
                                                 readable_secret: Path) -> None:
    """A read that the sandbox refuses succeeds without isolation: the checks have teeth.  Unsafe mode still
    drops root, so what that uid may not read (a checkout in a private home) stays unread: less unsafe."""
    path = write_student(tmp_path, "import os\ndef f(path):\n    return open(path).read(), os.getuid()\n")
    job = Job(path, "f", [Request("call", (str(readable_secret),))])
    assert unsafe.backend == "unsafe"
    result = unsafe.run(job)
    assert result.backend == "unsafe"
    assert result.status == "ok", result.detail
    assert result.replies[0].raised is None, result.replies[0].raised
    text, uid = result.replies[0].value  # type: ignore[misc]
    assert REFERENCE_SNIPPET in text
    assert uid != 0  # unsandboxed, but still never root
    assert _honest(unsafe, tmp_path).status == "ok"
    sandboxed = sandbox.run(job).replies[0].raised
    assert sandboxed is not None
    assert sandboxed.startswith("PermissionError")


def test_a_private_tmpdir_is_refused_with_the_fix_as_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.getuid() != 0:
        pytest.skip("only root drops to a uid that could not reach a private TMPDIR")
    private = tmp_path / "home"
    (private / "tmp").mkdir(parents=True)
    os.chmod(private, 0o700)
    monkeypatch.setattr(tempfile, "tempdir", str(private / "tmp"))
    with pytest.raises(SandboxUnavailable, match=r"lies inside /.*, which only its owner may enter.*TMPDIR=/tmp"):
        Sandbox()


def test_unsafe_mode_can_import_the_stdlib_lazily(unsafe: Sandbox, tmp_path: Path) -> None:
    """As root the worker still drops to a slot uid, which must reach a Python kept in root's home."""
    source = "def f():\n    import fractions, statistics, sysconfig\n    return str(statistics.mean([1, 2]))\n"
    result = unsafe.run(Job(write_student(tmp_path, source), "f", [Request()]))
    assert result.status == "ok", result.detail
    assert result.replies[0].raised is None, result.replies[0].raised
    assert result.replies[0].value == "1.5"


def test_unsafe_mode_still_kills_daemons(unsafe: Sandbox, tmp_path: Path) -> None:
    daemon = next(c for c in CASES if c.name == "daemonize")
    try:
        result = unsafe.run(Job(write_student(tmp_path, daemon.source), "f", [Request()]))
        assert result.status == "ok"
        assert "forked" in result.replies[0].value  # type: ignore[operator]
        deadline = time.monotonic() + 5
        while sandbox_processes(unsafe) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sandbox_processes(unsafe) == []
    finally:
        for line in sandbox_processes(unsafe):
            os.kill(int(line.split()[1]), signal.SIGKILL)


@pytest.mark.parametrize(
    ("state", "timed_out", "exit_info", "status", "detail"),
    [
        (_State(1, ready=True, imported=True, ending="done", replies=[None] * 1), False,  # type: ignore[list-item]
         {"status": 9}, "ok", "1 replies"),
        (_State(1, infra="setup failed"), False, None, "infra_error", "setup failed"),
        (_State(1), False, {"status": 0}, "infra_error", "before it was ready"),
        (_State(1, ready=True), True, {"status": 9}, "timeout", "during import"),
        (_State(2, ready=True, imported=True), False, {"status": 11, "cpu": 0.1}, "crashed",
         "SIGSEGV during request 0"),
        (_State(2, ready=True, imported=True), False, {"status": 9, "cpu": 1.9}, "timeout", "CPU time limit"),
        (_State(2, ready=True, imported=True), False, {"status": 3 << 8, "cpu": 0.1}, "crashed", "status 3"),
        (_State(2, ready=True, imported=True, fault="bad"), False, {"status": 9}, "protocol_error", "bad"),
        (_State(2, ready=True, imported=True), False, None, "infra_error", "lost"),
        (_State(2, ready=True, ending="not_found", ending_detail="no f"), False, {"status": 0}, "not_found", "no f"),
    ],
)
def test_classify(state: _State, timed_out: bool, exit_info: dict[str, object] | None, status: str,
                  detail: str) -> None:
    got_status, got_detail = classify(state, timed_out=timed_out, exit_info=exit_info, limits=Limits(cpu_s=2))
    assert got_status == status
    assert detail in got_detail


def test_a_job_stopped_at_its_end_says_the_budget_stopped_it() -> None:
    state = _State(3, ready=True, imported=True, replies=[None])  # type: ignore[list-item]
    assert classify(state, timed_out=True, exit_info={"status": 9}, limits=Limits(wall_s=10), over_budget=True) == (
        "timeout", "stopped when the submission's time budget ran out, during request 1")
    assert classify(state, timed_out=True, exit_info={"status": 9}, limits=Limits(wall_s=10))[1].startswith(
        "killed after 10 s")


def test_stale_private_dirs_of_dead_graders_are_removed() -> None:
    stale = Path(tempfile.mkdtemp(prefix=DIR_PREFIX))
    (stale / "owner").write_text("999999999:1")  # no such process
    alive = Path(tempfile.mkdtemp(prefix=DIR_PREFIX))
    (alive / "owner").write_text(_process_identity(os.getpid()))
    try:
        _remove_stale_dirs()
        assert not stale.exists()
        assert alive.exists()
    finally:
        shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(alive, ignore_errors=True)


def test_values_that_cannot_be_sent_raise_for_the_grader(sandbox: Sandbox, tmp_path: Path) -> None:
    """A Request the wire cannot carry is the grader's bug: run() raises (early or mid-job) and the
    sandbox stays usable with nothing left running."""
    path = write_student(tmp_path, "def f(x):\n    return x\n")
    with pytest.raises(TypeError, match="cannot send set"):
        sandbox.run(Job(path, "f", [Request("call", ({1},))]))
    many = [Request("call", (i,)) for i in range(200)] + [Request("call", ({1},))]
    with pytest.raises(TypeError, match="cannot send set"):
        sandbox.run(Job(path, "f", many))
    assert sandbox_processes(sandbox) == []
    result = sandbox.run(Job(path, "f", many[:200]))
    assert result.status == "ok"
    assert [r.value for r in result.replies] == list(range(200))
