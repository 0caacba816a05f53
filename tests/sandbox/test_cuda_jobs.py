"""CUDA jobs: a GPU fault is an infra error (never the student's), CPU jobs never need CUDA (several
functions sharing one worker: tests/sandbox/test_segments.py).  The tests marked ``cuda`` need a GPU; the
rest run anywhere, with ``Sandbox.cuda_fault`` making a worker's CUDA start fail as a GPU fault would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from grader.sandbox import Job, Limits, Request, Sandbox, TensorValue, isolation, policy
from grader.sandbox.trace import run_bpf
from tests.sandbox.conftest import write_student
from tests.sandbox.corpus import CASES
from tests.sandbox.test_corpus import check_case, check_nothing_leaked, run_case

STATE = """
import torch
CALLS = []
def f(x=None):
    CALLS.append(1)
    return len(CALLS), torch.cuda.is_available()
def g(x=None):
    CALLS.append(1)
    return len(CALLS)
def h():
    return helper(2)
def helper(n):
    return n * 10
"""


@pytest.fixture(scope="module")
def faulty(monkeypatch_module: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """A CUDA sandbox whose workers' CUDA start fails (on any machine, GPU or not)."""
    monkeypatch_module.setattr(torch.cuda, "is_available", lambda: True)  # let a GPU-less machine build one
    monkeypatch_module.setattr(Sandbox, "cuda_fault", "GPU fell off the bus (test)")
    with Sandbox(device="cuda", limits=Limits(wall_s=20)) as box:
        yield box


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_a_cuda_start_that_fails_is_an_infra_error_before_any_student_code(faulty: Sandbox, tmp_path: Path) -> None:
    path = write_student(tmp_path, "raise SystemExit('student code ran')\ndef f():\n    return 1\n")
    result = faulty.run(Job(path, "f", [Request()], device="cuda"))
    assert result.status == "infra_error"
    assert not result.student_fault
    assert "CUDA did not start in the sandboxed worker" in result.detail
    assert "GPU fell off the bus" in result.detail


def test_cpu_jobs_in_a_cuda_sandbox_never_start_cuda(faulty: Sandbox, tmp_path: Path) -> None:
    path = write_student(tmp_path, STATE)
    result = faulty.run(Job(path, "f", [Request()] * 2))
    assert result.status == "ok", result.detail
    assert [r.value for r in result.replies] == [(1, False), (2, False)]  # no GPU visible to a CPU job


def test_a_cuda_job_is_refused_by_a_cpu_sandbox(sandbox: Sandbox, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="device='cuda'"):
        sandbox.run(Job(write_student(tmp_path, STATE), "f", [Request()], device="cuda"))


def test_the_cuda_filter_allows_unix_seqpacket_sockets_only() -> None:
    arch = 0xC000003E
    cuda = isolation.seccomp_program("x86_64", 7, frozenset(policy.CUDA_SYSCALLS))
    plain = isolation.seccomp_program("x86_64", 7)
    socket = 41
    allowed = {(1, 0x80005): True, (1, 5): True, (1, 1): False, (1, 2): False, (2, 5): False, (10, 1): False,
               (16, 3): False}  # AF_UNIX seqpacket only; not stream, dgram, inet, inet6, netlink
    for (family, kind), ok in allowed.items():
        assert (run_bpf(cuda, socket, arch, (family, kind, 0, 0, 0, 0)) == isolation.RET_ALLOW) is ok
        assert run_bpf(plain, socket, arch, (family, kind, 0, 0, 0, 0)) != isolation.RET_ALLOW
    assert run_bpf(cuda, 57, arch, (0,) * 6) != isolation.RET_ALLOW  # fork stays refused


def test_cuda_grants_are_for_cuda_jobs_only() -> None:
    built = policy.build("cuda")
    assert "/proc/sys/vm/mmap_min_addr" not in built.read
    assert "/proc/sys/vm/mmap_min_addr" in built.cuda_read or not Path("/proc/sys/vm/mmap_min_addr").exists()
    assert not any("nvidia" in p for p in built.devices)
    assert built.cuda_syscalls == list(policy.CUDA_SYSCALLS)
    assert policy.build("cpu").cuda_read == policy.build("cpu").cuda_syscalls == []


# ------------------------------------------------------------------------------------ on a GPU


@pytest.fixture(scope="module")
def gpu() -> Iterator[Sandbox]:
    with Sandbox(device="cuda", jobs=2, limits=Limits(wall_s=5.0, cpu_s=5, output_kb=32)) as box:
        yield box


@pytest.mark.cuda
def test_cuda_starts_in_the_full_sandbox(gpu: Sandbox, tmp_path: Path) -> None:
    source = ("import torch\ndef f(x):\n    return x * 2, torch.cuda.is_initialized()\n"
              "def g():\n    return torch.cuda.is_available()\n")
    path = write_student(tmp_path, source)
    assert gpu.backend == "landlock+seccomp"
    x = torch.arange(3.0, device="cuda")
    result = gpu.run(Job(path, "f", [Request("call", (x,))] * 2, device="cuda"))
    assert result.status == "ok", result.detail + result.stderr
    value, initialised = result.replies[1].value  # type: ignore[misc]
    assert isinstance(value, TensorValue)
    assert value.device.startswith("cuda")
    assert torch.equal(value.tensor, torch.arange(3.0) * 2)
    assert initialised is True
    cpu = gpu.run(Job(path, "g", [Request()]))  # a CPU job in the same sandbox sees no GPU
    assert cpu.status == "ok"
    assert cpu.replies[0].value is False


@pytest.mark.cuda
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_corpus_in_cuda_jobs(gpu: Sandbox, case: object, tmp_path: Path, canaries: object,
                                     listener: object) -> None:
    """Every hostile case gets the same status in a CUDA job (more grants) as in a CPU job."""
    result = run_case(gpu, case, tmp_path, canaries, listener, device="cuda")  # type: ignore[arg-type]
    check_case(case, result, gpu)  # type: ignore[arg-type]
    check_nothing_leaked(result, canaries)  # type: ignore[arg-type]
