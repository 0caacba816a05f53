"""Every hostile submission gets its expected status, and none of them reaches anything outside."""

from __future__ import annotations

import functools
import os
import random
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy
import pytest
import torch

from grader.sandbox import Job, JobResult, Request, Sandbox, TensorValue, effects, worker
from tests.sandbox.conftest import CANARY, Canaries, Listener, write_student
from tests.sandbox.corpus import CASES, HONEST, PATHS, PIDS, PORT, SAME_UID_PIDS, Case, X

REFERENCE_SNIPPET = '_validate.tensors("sgd_step"'  # a line only the real reference has


def _args(case: Case, canaries: Canaries, listener: Listener, sandbox: Sandbox,
          same_uid: list[int]) -> tuple[object, ...]:
    fill = {
        PATHS: [str(p) for p in canaries.paths.values()],
        PORT: listener.port,
        PIDS: [os.getpid(), sandbox.zygote_pid],
        SAME_UID_PIDS: [os.getpid(), sandbox.zygote_pid, *same_uid],
        X: torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64),
    }
    return tuple(fill.get(a, a) if isinstance(a, str) else a for a in case.args)


@contextmanager
def same_uid_processes(sandbox: Sandbox, case: Case) -> Iterator[list[int]]:
    """As root, a process with each sandbox uid: what the grader and zygote are to a worker without root
    (one uid for all), and another student's worker would be if two jobs shared a uid."""
    if SAME_UID_PIDS not in case.args or not sandbox.uids:
        yield []
        return
    procs = [subprocess.Popen(["sleep", "60"], preexec_fn=functools.partial(_become, uid))  # noqa: PLW1509
             for uid in sandbox.uids]
    try:
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.wait()


def _become(uid: int) -> None:
    os.setgid(uid)
    os.setuid(uid)


def run_case(sandbox: Sandbox, case: Case, tmp_path: Path, canaries: Canaries, listener: Listener,
             device: str = "cpu") -> JobResult:
    path = write_student(tmp_path, case.source)
    with same_uid_processes(sandbox, case) as same_uid:
        args = _args(case, canaries, listener, sandbox, same_uid)
        return sandbox.run(Job(path, case.function, [Request("call", args)] * case.calls, device=device))


def check_nothing_leaked(result: JobResult, canaries: Canaries) -> None:
    text = repr(result.replies) + result.stdout + result.stderr + result.detail
    assert CANARY not in text, "a canary token leaked into what the worker sent back"
    assert REFERENCE_SNIPPET not in text, "the real reference solution leaked"
    assert canaries.unchanged() == []


def check_case(case: Case, result: JobResult, sandbox: Sandbox) -> None:
    assert result.backend == "landlock+seccomp"
    assert result.status == case.status, f"{case.name}: {result.status} ({result.detail}) stderr={result.stderr[-500:]}"
    if case.detail is not None:
        assert case.detail in result.detail, result.detail
    expected_replies = case.replies if case.replies is not None else (case.calls if case.status == "ok" else 0)
    assert len(result.replies) == expected_replies
    if case.raised is not None:
        assert result.replies[0].raised is not None
        assert case.raised in result.replies[0].raised, result.replies[0].raised
    elif case.status == "ok":
        assert result.replies[0].raised is None, result.replies[0].raised
    value = result.replies[0].value if result.replies else None
    tags = set(case.tags)
    if "returns_empty" in tags:
        assert value in ([], {}), f"{case.name} got through: {value!r}"
    if "no_spawn" in tags:
        assert value == ["PermissionError"] * 3
    if "threads_capped" in tags:
        assert isinstance(value, int)
        # As root each slot has its own uid; otherwise the count is shared with the instructor's processes.
        assert 0 < value < (sandbox.limits.threads if os.getuid() == 0 else 100)
    if "tmp_capped" in tags and "namespaces:none" not in sandbox.features:  # else only RLIMIT_FSIZE applies
        assert isinstance(value, tuple)
        written, error = value
        assert error is not None
        assert written * 10 <= sandbox.limits.tmp_mb, value
    if "not_root" in tags:
        assert isinstance(value, tuple)
        uid, euid, regained = value
        assert uid != 0
        assert euid != 0
        assert regained is False
        if os.getuid() == 0:
            assert uid in sandbox.uids
    if "fake_output" in tags:
        assert "SCORE: 100/100" in result.stdout
        assert "ALL TESTS PASSED" in result.stderr
        assert value == "pass"  # only an answer; the grader decides
    if "huge_output" in tags:
        assert len(result.stdout) < (sandbox.limits.output_kb << 10) + 200
        assert "more bytes not kept" in result.stdout
        assert "more bytes not kept" in result.stderr
    if "seeded" in tags:  # the same draws in every job and on every run, so the same grade
        random.seed(worker.SEED)
        numpy.random.seed(worker.SEED)
        # A call whose effects are watched (the Request default) starts from the generator's probe state
        generator = torch.Generator().manual_seed(effects.PROBE_SEED)
        assert value == (random.random(), float(numpy.random.random()), torch.rand((), generator=generator).item())
    if "patched" in tags:
        assert value is True  # it fooled itself ...
        assert not torch.allclose(torch.zeros(1), torch.ones(1))  # ... and nobody else


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case(sandbox: Sandbox, case: Case, tmp_path: Path, canaries: Canaries, listener: Listener) -> None:
    result = run_case(sandbox, case, tmp_path, canaries, listener)
    check_case(case, result, sandbox)
    check_nothing_leaked(result, canaries)


def test_patches_do_not_reach_the_next_job(sandbox: Sandbox, tmp_path: Path) -> None:
    """Monkeypatching happens in a forked child; the zygote and later jobs keep the real functions."""
    patched = next(c for c in CASES if c.name == "monkeypatch_comparisons")
    first = sandbox.run(Job(write_student(tmp_path, patched.source), "f", [Request()]))
    assert first.replies[0].value is True
    source = "import torch\ndef f():\n    return torch.allclose(torch.zeros(1), torch.ones(1))\n"
    clean = write_student(tmp_path / "b", source)
    assert sandbox.run(Job(clean, "f", [Request()])).replies[0].value is False


def test_honest_jobs_survive_hostile_neighbours(
    sandbox: Sandbox, tmp_path: Path, canaries: Canaries, listener: Listener
) -> None:
    """Honest jobs run in parallel with the whole hostile corpus and still return the right answers."""
    honest = write_student(tmp_path / "honest", HONEST)
    x = torch.tensor([1.0, -2.0, 3.5], dtype=torch.float64)
    g = torch.tensor([0.5, 0.25, -1.0], dtype=torch.float64)

    def honest_job() -> JobResult:
        return sandbox.run(Job(honest, "sgd_step", [Request("call", (x, g, 0.1))] * 3))

    hostile = [c for c in CASES if c.name not in ("huge_output",)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        hostile_futures = [
            pool.submit(run_case, sandbox, case, tmp_path / f"h{i}", canaries, listener)
            for i, case in enumerate(hostile)
        ]
        honest_futures = [pool.submit(honest_job) for _ in range(12)]
        for case, future in zip(hostile, hostile_futures, strict=True):
            check_case(case, future.result(), sandbox)
        for future in honest_futures:
            result = future.result()
            assert result.status == "ok", result.detail
            for reply in result.replies:
                assert isinstance(reply.value, TensorValue)
                assert torch.equal(reply.value.tensor, x - 0.1 * g)
    assert canaries.unchanged() == []
