"""The tracer (grader/sandbox/trace.py) judges calls as the kernel would: the real seccomp program, and
Landlock's rights per path — the model that found what CUDA's start needs on a GPU."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import pytest

from grader.sandbox import isolation
from grader.sandbox.trace import FS, Grants, _rights, main, run_bpf

O_RDWR, O_WRONLY, O_CREAT, O_TRUNC, O_PATH = 2, 1, 0o100, 0o1000, 0o10000000
AT_FDCWD = (1 << 64) - 100


def test_landlock_model_needs_truncate_for_o_trunc() -> None:
    """CUDA opens /proc/self/task/<tid>/comm with O_TRUNC: write alone is not enough (seen on an H200)."""
    comm = f"/proc/self/task/{os.getpid()}/comm"
    where, needed = _rights("openat", [AT_FDCWD, 0, O_WRONLY | O_CREAT | O_TRUNC], comm)
    assert where == comm
    assert needed == FS["write_file"] | FS["truncate"]
    write_only = Grants((("/proc/self", FS["read_file"] | FS["write_file"]),))
    assert write_only.missing(comm, needed) == FS["truncate"]
    named = isolation.rights(7)
    assert Grants((("/proc/self", isolation.own_proc_rights(named, cuda=True)),)).missing(comm, needed) == 0
    assert Grants((("/proc/self", isolation.own_proc_rights(named, cuda=False)),)).missing(comm, needed)


def test_landlock_model_unions_rules_on_the_way_up(tmp_path: Path) -> None:
    grants = Grants(((str(tmp_path), FS["read_file"]), (str(tmp_path / "a"), FS["write_file"])))
    assert grants.missing(str(tmp_path / "a" / "f"), FS["read_file"] | FS["write_file"]) == 0
    assert grants.missing(str(tmp_path / "b"), FS["write_file"]) == FS["write_file"]
    assert _rights("openat", [AT_FDCWD, 0, O_PATH], "/etc/shadow")[1] == 0  # O_PATH opens check nothing
    assert _rights("mkdir", [0, 0], "/tmp/x/y") == ("/tmp/x", FS["make_dir"])  # checked on the parent
    assert grants.missing("/etc/passwd", 0) == 0  # stat and friends: Landlock does not check them


def test_the_interpreter_runs_the_real_filter() -> None:
    program = isolation.seccomp_program("x86_64", 42)
    arch = 0xC000003E
    assert run_bpf(program, 0, arch, (0,) * 6) == isolation.RET_ALLOW  # read
    assert run_bpf(program, 41, arch, (2, 1, 0, 0, 0, 0)) != isolation.RET_ALLOW  # socket(AF_INET)
    assert run_bpf(program, 62, arch, (42, 9, 0, 0, 0, 0)) == isolation.RET_ALLOW  # kill(itself)
    assert run_bpf(program, 62, arch, (1, 9, 0, 0, 0, 0)) != isolation.RET_ALLOW  # kill(init)
    assert run_bpf(program, 0, 0xDEAD, (0,) * 6) == isolation.RET_KILL_PROCESS  # another architecture


@pytest.mark.skipif(os.getuid() != 0 or platform.machine() != "x86_64", reason="the tracer needs root on x86_64")
def test_a_trace_names_what_the_box_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import socket\ndef probe():\n    open('/etc/hostname').read()\n    socket.socket()\n")
    assert main(["--device", "cpu", "--source", str(probe)]) == 1  # refused as graded ...
    out = capsys.readouterr().out
    assert "traced, Landlock off): ok" in out  # ... runs when every call is let through and recorded
    assert "read_file   /etc/hostname  (openat)" in out
    assert "socket(0x2, 0x80001, 0x0) -> error EACCES" in out or "socket(0x2, 0x1, 0x0) -> error EACCES" in out
