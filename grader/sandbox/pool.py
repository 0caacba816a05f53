"""Trusted-side handle on one zygote process: start it, ask it to spawn children, hear them exit."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from grader.sandbox.api import SandboxUnavailable
from grader.sandbox.policy import SANDBOX_DIR, Policy

START_TIMEOUT_S = 120.0  # importing torch on a cold, busy CI machine


class ZygoteDied(RuntimeError):
    """The zygote is gone (crashed, killed, or closed); the job it was serving is an infra error."""


def _clean_env(device: str, home: Path) -> dict[str, str]:
    """The zygote's whole environment: none of the instructor's variables (tokens, paths) leak in.  Its
    HOME is the sandbox's own private dir, so a library that writes a cache there (matplotlib does, as
    root) writes nothing outside this run's files."""
    env = {
        "PATH": "/usr/bin:/bin",
        "LC_ALL": "C.UTF-8",
        "HOME": str(home),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "2",
        # str hashes (so set and dict-of-set orders) the same on every run: a student who sums over a
        # set of names must get the same grade each time the class is graded.
        "PYTHONHASHSEED": "0",
    }
    if device == "cuda":
        env.update({k: v for k, v in os.environ.items() if k in ("CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH")})
        env["CUDA_MODULE_LOADING"] = "LAZY"
    return env


class ZygoteProcess:
    def __init__(self, *, policy: Policy, device: str, unsafe: bool, log_path: Path, userns: bool = True,
                 extra: dict[str, Any] | None = None) -> None:
        """``extra``: more of the zygote's config (e.g. ``without``: isolation layers it must not use)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock = ours
        self.cond = threading.Condition()
        self.messages: dict[tuple[str, int], tuple[dict[str, Any], list[int]]] = {}
        self.dead = False
        self.send_lock = threading.Lock()
        # request frame -> its template number, for the templates this zygote holds (Sandbox.preload)
        self.refs: dict[bytes, int] = {}
        started = time.monotonic()
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    # Not -I: it would ignore PYTHONHASHSEED.  The environment is ours alone (_clean_env),
                    # -s skips user site-packages, and the zygote replaces sys.path before importing.
                    "-s",
                    "-S",
                    "-B",
                    "-u",
                    *(["-P"] if sys.version_info >= (3, 11) else []),
                    str(SANDBOX_DIR / "zygote.py"),
                    str(theirs.fileno()),
                ],
                pass_fds=[theirs.fileno()],
                env=_clean_env(device, log_path.parent),
                cwd="/",
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        theirs.close()
        self.log_path = log_path
        config = {"policy": asdict(policy), "device": device, "unsafe": unsafe, "userns": userns, **(extra or {})}
        ours.send(json.dumps(config).encode())
        ours.settimeout(START_TIMEOUT_S)
        try:
            data = ours.recv(1 << 16)
        except OSError:
            data = b""
        ours.settimeout(None)
        if not data:
            self.close()
            raise SandboxUnavailable(f"the sandbox zygote did not start: {self.log_tail()}")
        self.ready: dict[str, Any] = json.loads(data)
        self.ready["start_seconds"] = time.monotonic() - started
        self.reader = threading.Thread(target=self._read, name="zygote-reader", daemon=True)
        self.reader.start()

    def log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode(errors="replace").strip() or "(no output)"
        except OSError:
            return "(no log)"

    def _read(self) -> None:
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(self.sock, 1 << 16, 4)
            except OSError:
                data, fds = b"", []
            with self.cond:
                if not data:
                    self.dead = True
                    self.cond.notify_all()
                    return
                message = json.loads(data)
                self.messages[(str(message["op"]), int(message["job"]))] = (message, fds)
                self.cond.notify_all()

    def _wait(self, keys: tuple[tuple[str, int], ...], timeout: float) -> tuple[dict[str, Any], list[int]] | None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for key in keys:
                    if key in self.messages:
                        return self.messages.pop(key)
                remaining = deadline - time.monotonic()
                if self.dead or remaining <= 0:
                    return None
                self.cond.wait(remaining)

    def spawn(self, job: int, message: dict[str, Any], fds: list[int]) -> tuple[int, int]:
        """(pid, pidfd) of a new child; raises ZygoteDied with the reason."""
        try:
            with self.send_lock:
                socket.send_fds(self.sock, [json.dumps({"op": "spawn", "job": job, **message}).encode()], fds)
        except OSError as exc:
            raise ZygoteDied(f"cannot reach the sandbox zygote: {exc}") from None
        got = self._wait((("spawned", job), ("error", job)), 30.0)
        if got is None:
            raise ZygoteDied(f"the sandbox zygote died or hung while starting a worker: {self.log_tail(500)}")
        reply, pidfds = got
        if reply["op"] == "error" or len(pidfds) != 1:
            for fd in pidfds:
                os.close(fd)
            raise ZygoteDied(f"the sandbox zygote could not start a worker: {reply.get('detail')}")
        return int(reply["pid"]), pidfds[0]

    def load_templates(self, blob: bytes, key: int) -> int:
        """Hand the zygote request frames to decode once (``wire.Templates``); how many it holds."""
        fd = os.memfd_create("optigrade-templates", os.MFD_CLOEXEC)
        try:
            with open(fd, "wb", closefd=False) as f:
                f.write(blob)
            os.lseek(fd, 0, os.SEEK_SET)
            with self.send_lock:
                socket.send_fds(self.sock, [json.dumps({"op": "templates", "job": key}).encode()], [fd])
        except OSError as exc:
            raise ZygoteDied(f"cannot reach the sandbox zygote: {exc}") from None
        finally:
            os.close(fd)
        got = self._wait((("templates", key), ("error", key)), 60.0)
        if got is None:
            raise ZygoteDied(f"the sandbox zygote died or hung while reading request templates: {self.log_tail(500)}")
        reply, fds = got
        for extra in fds:
            os.close(extra)
        if reply["op"] == "error":
            raise ZygoteDied(f"the sandbox zygote could not read request templates: {reply.get('detail')}")
        return int(reply["count"])

    def wait_exit(self, job: int, timeout: float) -> dict[str, Any] | None:
        got = self._wait((("exited", job),), timeout)
        return None if got is None else got[0]

    @property
    def alive(self) -> bool:
        return not self.dead and self.proc.poll() is None

    def close(self) -> None:
        """Closing the socket makes the zygote SIGKILL its children and exit; then make sure of it."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
