"""Fixtures for the sandbox's adversarial tests: one shared Sandbox per test process, canary files,
a loopback listener that must never see a connection, and a leftover-process check after every test."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from grader.sandbox import Limits, Sandbox
from grader.sandbox.policy import REPO_ROOT

CANARY = "CANARY-7f3a9c-reference-token"
if os.environ.get("OPTIGRADE_TEST_NO_USERNS"):  # exercise the no-namespace fallback when not root
    Sandbox.allow_userns = False
LIMITS = Limits(wall_s=2.0, cpu_s=2, output_kb=32)


@dataclass
class Listener:
    port: int
    connections: int = 0
    stop: threading.Event = field(default_factory=threading.Event)


@pytest.fixture(scope="session")
def listener() -> Iterator[Listener]:
    """A TCP listener on 127.0.0.1 that counts connections; no student may ever reach it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    state = Listener(server.getsockname()[1])

    def accept() -> None:
        while not state.stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            state.connections += 1
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield state
    state.stop.set()
    thread.join(2)
    server.close()
    assert state.connections == 0, "a sandboxed worker connected to the loopback listener"


@dataclass
class Canaries:
    """Files a student must never read, change or delete, with their hashes."""

    paths: dict[str, Path]
    hashes: dict[Path, str]

    def unchanged(self) -> list[str]:
        problems = []
        for path, digest in self.hashes.items():
            if not path.exists():
                problems.append(f"{path} was removed")
            elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                problems.append(f"{path} was changed")
        return problems


@pytest.fixture(scope="session")
def canaries(tmp_path_factory: pytest.TempPathFactory) -> Canaries:
    root = tmp_path_factory.mktemp("instructor")
    fake_reference = root / "solutions" / "optimizers.py"
    fake_reference.parent.mkdir()
    fake_reference.write_text(f'SECRET = "{CANARY}"\ndef sgd_step(p, g, lr):\n    return p - lr * g\n')
    out_dir = root / "OUT"
    out_dir.mkdir()
    (out_dir / "results.json").write_text('{"alice": 0}')
    other = root / "submissions" / "bob" / "optimizers.py"
    other.parent.mkdir(parents=True)
    other.write_text(f"# bob's work {CANARY}\n")
    ssh = root / "home" / ".ssh" / "id_rsa"
    ssh.parent.mkdir(parents=True)
    ssh.write_text(f"-----BEGIN KEY----- {CANARY}\n")
    paths = {
        "fake_reference": fake_reference,
        "real_reference": REPO_ROOT / "solutions" / "optimizers.py",
        "out_results": out_dir / "results.json",
        "other_student": other,
        "ssh_key": ssh,
        "repo_readme": REPO_ROOT / "README.md",
    }
    hashes = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths.values()}
    return Canaries(paths, hashes)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(jobs=3, limits=LIMITS) as box:
        yield box


def sandbox_processes(box: Sandbox) -> list[str]:
    """Processes that belong to the sandbox's workers: its uids (as root) or the zygote's children."""
    found = []
    zygote = box.zygote_pid
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            uid = os.stat(f"/proc/{entry}").st_uid
            with open(f"/proc/{entry}/stat", "rb") as f:
                state, ppid_text = f.read().rsplit(b")", 1)[1].split()[:2]
            ppid = int(ppid_text)
        except OSError:
            continue
        if state in (b"Z", b"X"):  # dead; an orphan's zombie waits for PID 1, which may never reap it
            continue
        if uid in box.uids or (zygote is not None and ppid == zygote):
            found.append(f"pid {entry} (uid {uid}, parent {ppid})")
    return found


@pytest.fixture(autouse=True)
def _nothing_left_running(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sandbox" in request.fixturenames:
        box = request.getfixturevalue("sandbox")
        assert sandbox_processes(box) == [], "sandboxed processes outlived their job"


def write_student(tmp_path: Path, source: str | bytes, name: str = "optimizers.py") -> Path:
    box = tmp_path / "student"
    box.mkdir(parents=True, exist_ok=True)
    path = box / name
    if isinstance(source, bytes):
        path.write_bytes(source)
    else:
        path.write_text(source)
    return path
