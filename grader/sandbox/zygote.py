"""The zygote: a fresh interpreter that imports torch once and forks one isolated child per job.

Started by the trusted side as ``python -s -S -B -u -P …/grader/sandbox/zygote.py <control fd>`` with an
environment of its own (grader/sandbox/pool.py; not ``-I``, which would ignore PYTHONHASHSEED) — an
exec, never a fork of the grading process, so no reference solution or hidden test is ever in its
memory.  ``-S`` skips site-packages ``.pth`` files, so the editable-install finder that maps
``solutions`` to the repository is never installed; ``sys.path`` comes from the trusted side's
policy.  ``grader`` and ``grader.sandbox`` are stub packages here, so neither ``__init__`` runs and
only the worker-side modules (values, wire, objectives, drivers, worker, isolation) are imported.

Control protocol (a SOCK_SEQPACKET socketpair, JSON messages, fds via SCM_RIGHTS), trusted → zygote:
``config`` (first), ``spawn`` with the child's 4 pipe ends; zygote → trusted: ``ready``, ``spawned``
with a pidfd, ``exited`` with the wait status and CPU seconds, ``error``.  The zygote never runs
student code and never reads what a child sends.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import time
import types
from collections.abc import Callable
from typing import Any

FORBIDDEN_MODULES = ("solutions", "tests", "quiz_bank", "exercises", "grader.suite", "grader.cli")
PREIMPORT = (
    "math",
    "random",
    "functools",
    "itertools",
    "collections",
    "typing",
    "dataclasses",
    "copy",
    "numbers",
    "fractions",
    "decimal",
    "statistics",
    "operator",
    "warnings",
    "abc",
    "enum",
)
FD_REQ, FD_RESP = 3, 4
CUDA_ENV = ("CUDA_VISIBLE_DEVICES", "CUDA_MODULE_LOADING", "LD_LIBRARY_PATH")


def _install_package_stubs() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    for name, path in (("grader", []), ("grader.sandbox", [here])):
        module = types.ModuleType(name)
        module.__path__ = path
        module.__package__ = name
        sys.modules[name] = module
    sys.modules["grader"].sandbox = sys.modules["grader.sandbox"]  # type: ignore[attr-defined]


def _move_high(fd: int) -> int:
    """Move an fd above the numbers a child reuses (0-4 and the 512+ staging range) and close the old."""
    import fcntl

    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 16)
    os.close(fd)
    return high


def _send(ctl: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> bool:
    """Send one control message; False when the grader is gone (the loop then sees EOF and shuts down)."""
    data = json.dumps(message).encode()
    try:
        if fds:
            socket.send_fds(ctl, [data], fds)
        else:
            ctl.send(data)
    except OSError:
        return False
    return True


class Zygote:
    def __init__(self, ctl: socket.socket, config: dict[str, Any]) -> None:
        from grader.sandbox import isolation, policy

        self.ctl = ctl
        self.config = config
        self.pid = os.getpid()
        self.root = os.getuid() == 0
        self.unsafe = bool(config["unsafe"])
        self.active: dict[int, int] = {}  # pid -> job id
        # Layers the trusted side said to go without (missing, or simulated missing in tests): Landlock only
        # as root, where each slot's uid and the file permissions keep a worker in (Sandbox allow_missing).
        without = set(config.get("without", ()))
        self.abi = 0 if self.unsafe or "landlock" in without else isolation.landlock_abi()
        # Probe once: a root without CAP_SYS_ADMIN (e.g. Docker's defaults) or a kernel that forbids
        # unprivileged user namespaces falls back to Landlock + seccomp + rlimits (+ uid drop) alone.
        # Unsafe mode too: there the mount namespace only lets the dropped uid read a Python kept in
        # root's 0700 home (a pyenv), which lazily imported stdlib modules need.
        namespaces = "namespaces" not in without
        self.rootns = self.root and namespaces and _probe(lambda d: isolation.enter_namespaces(d, 1, 0, 0, []))
        self.userns = (
            not self.root
            and not self.unsafe
            and namespaces
            and bool(config.get("userns"))
            and _probe(lambda d: isolation.enter_user_namespace(d, 1))
        )
        self.namespaces = "netns+mountns" if self.rootns else "userns+netns+mountns" if self.userns else "none"
        self.policy = policy.Policy(**config["policy"])
        self.seccomp = None if self.unsafe else isolation.SeccompFilter()
        # A CUDA job's filter lets through what CUDA's start asks for (policy.CUDA_SYSCALLS); CPU jobs
        # never get it, nor the GPU's paths: a worker that runs CPU properties does not need CUDA.
        self.seccomp_cuda = (None if self.unsafe or not self.policy.cuda_syscalls
                             else isolation.SeccompFilter(frozenset(self.policy.cuda_syscalls)))
        named = isolation.rights(max(self.abi, 1))
        # O_PATH fds for the static allow-lists, opened once; children add rules from them, then close.
        self.base_rules: list[tuple[int, int]] = []
        self.cuda_rules: list[tuple[int, int]] = []
        for rules, kind, paths in () if not self.abi else (
            (self.base_rules, "read", self.policy.read),
            (self.base_rules, "list", self.policy.list_only),
            (self.base_rules, "device", self.policy.devices),
            (self.cuda_rules, "read", self.policy.cuda_read),
            (self.cuda_rules, "device", self.policy.cuda_devices),
            (self.cuda_rules, "write", self.policy.cuda_write),
        ):
            rules += [(_move_high(fd), named[kind]) for fd in isolation.open_paths(paths)]

    def serve(self) -> None:
        import selectors

        from grader.sandbox import isolation

        isolation.prctl(isolation.PR_SET_CHILD_SUBREAPER, 1, "prctl(PR_SET_CHILD_SUBREAPER)")
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(wake_w)
        selector = selectors.DefaultSelector()
        selector.register(self.ctl, selectors.EVENT_READ)
        selector.register(wake_r, selectors.EVENT_READ)
        while True:
            for key, _ in selector.select():
                if key.fileobj is self.ctl:
                    data, fds, _, _ = socket.recv_fds(self.ctl, 1 << 16, 8)
                    if not data:
                        self.shutdown()
                        return
                    self.handle(json.loads(data), fds)
                else:
                    while True:
                        try:
                            if not os.read(wake_r, 512):
                                break
                        except BlockingIOError:
                            break
            self.reap()

    def handle(self, message: dict[str, Any], fds: list[int]) -> None:
        if message.get("op") == "templates" and len(fds) == 1:
            self.load_templates(message, fds[0])
            return
        if message.get("op") != "spawn" or len(fds) != 4:
            for fd in fds:
                os.close(fd)
            _send(
                self.ctl,
                {"op": "error", "job": message.get("job"), "detail": f"bad control message {message}"},
            )
            return
        try:
            pid = os.fork()
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            _send(self.ctl, {"op": "error", "job": message["job"], "detail": f"fork failed: {exc}"})
            return
        if pid == 0:
            _child(self, message, fds)  # never returns
        for fd in fds:
            os.close(fd)
        self.active[pid] = int(message["job"])
        pidfd = os.pidfd_open(pid)
        if not _send(self.ctl, {"op": "spawned", "job": message["job"], "pid": pid}, [pidfd]):
            os.kill(pid, signal.SIGKILL)
        os.close(pidfd)

    def load_templates(self, message: dict[str, Any], fd: int) -> None:
        """The grader's request frames (a memfd), decoded once here so every later worker copies them
        (``wire.Templates``); replaces any earlier set."""
        import gc

        from grader.sandbox import wire, worker

        try:
            with os.fdopen(fd, "rb") as f:
                blob = f.read()
            worker.TEMPLATES = wire.Templates(blob)
        except Exception as exc:  # noqa: BLE001 - the grader then sends whole frames, as without templates
            worker.TEMPLATES = None
            _send(self.ctl, {"op": "error", "job": message.get("job"), "detail": f"templates: {exc}"})
            return
        gc.collect()
        gc.freeze()  # as at start: workers' collections need not walk (or copy) them
        _send(self.ctl, {"op": "templates", "job": message.get("job"), "count": len(worker.TEMPLATES)})

    def reap(self) -> None:
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            job = self.active.pop(pid, None)
            if job is not None:
                _send(
                    self.ctl,
                    {
                        "op": "exited",
                        "job": job,
                        "pid": pid,
                        "status": status,
                        "cpu": usage.ru_utime + usage.ru_stime,
                        "maxrss_kb": usage.ru_maxrss,
                    },
                )
            # Workers cannot fork under seccomp, so orphans only exist without isolation, or when an
            # unknown child (an adopted orphan) has just died: then look for its live relatives.
            if self.unsafe or job is None:
                self.kill_strays()

    def kill_strays(self) -> None:
        """Kill adopted orphans (we are a subreaper); only reachable when isolation is off or broken."""
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in self.active:
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.pid:
                with contextlib.suppress(OSError):
                    os.kill(int(entry), signal.SIGKILL)

    def shutdown(self) -> None:
        for pid in list(self.active):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while self.active and time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            self.active.pop(pid, None)


def _child(zygote: Zygote, message: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: isolate, then run the worker.  Never returns."""
    try:
        _isolate(zygote, message, fds)
    except BaseException as exc:  # noqa: BLE001 - report, never fall through into zygote code
        _report_infra(f"sandbox setup failed: {type(exc).__name__}: {exc}")
        os._exit(70)
    if message.get("cuda"):
        try:  # before any student code: a CUDA that will not start is the machine's fault, not theirs
            _start_cuda(zygote.config.get("cuda_fault"), zygote.config.get("cuda_memory_fraction"))
        except BaseException as exc:  # noqa: BLE001
            _report_infra(f"CUDA did not start in the sandboxed worker: {type(exc).__name__}: {str(exc)[:1500]}")
            os._exit(71)
    try:
        from grader.sandbox import worker
        from grader.sandbox.wire import encode_frame

        ready = encode_frame("ready", {"uid": os.getuid(), "pid": os.getpid()})
        os.write(FD_RESP, ready)
        worker.SCRATCH = str(message["tmp_dir"])
        worker.serve(worker.Channel(FD_REQ, FD_RESP, int(message["reply_bytes"])))
    except BaseException as exc:  # noqa: BLE001
        with contextlib.suppress(BaseException):
            os.write(2, f"\n[sandbox worker stopped: {type(exc).__name__}: {exc}]\n".encode()[:2000])
        os._exit(3)
    os._exit(0)


def _start_cuda(fault: object, fraction: object) -> None:
    """Start CUDA and run one operation, so a GPU fault shows here (an infra error) and not inside the
    student's first call.  ``fault``: a test switch (``Sandbox.cuda_fault``) that makes the start fail;
    ``fraction``: the share of the GPU's memory torch's allocator may take in this worker."""
    if fault:
        raise RuntimeError(f"injected fault ({fault}): this worker's CUDA start was made to fail")
    import torch

    torch.cuda.init()  # type: ignore[no-untyped-call]
    if isinstance(fraction, float) and 0 < fraction <= 1:  # concurrent workers share the GPU's memory
        torch.cuda.set_per_process_memory_fraction(fraction)
    torch.ones(1, device="cuda").add_(1).item()


def _report_infra(detail: str) -> None:
    try:
        from grader.sandbox.wire import encode_frame

        os.write(FD_RESP, encode_frame("infra", {"detail": detail}))
    except BaseException:  # noqa: BLE001
        pass


def _isolate(zygote: Zygote, message: dict[str, Any], fds: list[int]) -> None:
    from grader.sandbox import isolation

    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    isolation.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL, "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != zygote.pid:
        os._exit(75)
    # Under memory pressure the kernel kills a worker (charged as a crash), never the grader or zygote.
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as f:
        f.write("1000")
    # fds: request read end, reply write end, stdout and stderr write ends -> 3, 4, 1, 2.
    devnull = os.open("/dev/null", os.O_RDWR)
    import fcntl

    high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 512) for fd in (devnull, fds[2], fds[3], fds[0], fds[1])]
    for target, fd in enumerate(high):
        os.dup2(fd, target, inheritable=True)
    keep = {0, 1, 2, FD_REQ, FD_RESP} | {fd for fd, _ in zygote.base_rules + zygote.cuda_rules}
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)
    box_file, tmp_dir = str(message["box_file"]), str(message["tmp_dir"])
    limits = message["limits"]
    uid, gid = message.get("uid") or 0, message.get("gid") or 0
    cuda = bool(message.get("cuda"))
    static = zygote.base_rules + (zygote.cuda_rules if cuda else [])
    for fd, _ in zygote.cuda_rules if not cuda else []:
        os.close(fd)
    if zygote.unsafe:  # no isolation, but limits still apply and root is still dropped
        for fd, _ in static:
            os.close(fd)
        if zygote.rootns:
            isolation.enter_namespaces(tmp_dir, int(limits["tmp_mb"]), int(uid), int(gid), zygote.policy.bind_roots)
        isolation.set_rlimits(
            isolation.ChildLimits(
                int(limits["cpu_s"]),
                limits["address_space_mb"],
                int(limits["threads"]) + (0 if zygote.root else isolation.tasks_of_uid(os.getuid()) - 1),
                int(limits["file_size_mb"]),
                int(limits["open_files"]),
                limits.get("data_mb"),
                int(limits.get("cpu_hard_s") or limits["cpu_s"]),
            )
        )
        if zygote.root:
            _drop_root(zygote, int(uid), int(gid))
        _enter_tmp(tmp_dir, cuda)
        return
    if zygote.rootns:
        isolation.enter_namespaces(tmp_dir, int(limits["tmp_mb"]), int(uid), int(gid), zygote.policy.bind_roots)
    elif zygote.userns:
        isolation.enter_user_namespace(tmp_dir, int(limits["tmp_mb"]))
    ruleset = None
    if zygote.abi:  # else (root only) the slot's uid and file permissions alone decide what it may touch
        named = isolation.rights(zygote.abi)
        # Its own /proc entry (isolation.own_proc_rights: in a CUDA job writable too); every other process's
        # stays unreadable.  Verified on the GPU exactly as written here, the fds kept open included.
        own_rights = isolation.own_proc_rights(named, cuda)
        own = [(fd, own_rights) for fd in isolation.open_paths(["/proc/self", *(["/proc/self/task"] if cuda else [])])]
        # The whole box: the module and its siblings (the submission's other files), nothing else.
        job_rules = [(fd, named["read"]) for fd in isolation.open_paths([os.path.dirname(box_file)])] + own
        job_rules += [(fd, named["write"]) for fd in isolation.open_paths([tmp_dir])]
        if len(job_rules) != 3 + cuda:
            raise isolation.IsolationError(2, f"cannot open the box of {box_file} or tmp dir {tmp_dir}")
        scopes = zygote.config.get("trace_scopes")  # diagnostics only (trace.py --variant scopes=…)
        ruleset = isolation.landlock_ruleset(zygote.abi, static + job_rules,
                                             *([int(scopes)] if isinstance(scopes, int) else []))
        for fd, _ in static + job_rules:
            if not (cuda and (fd, own_rights) in own):  # a CUDA job keeps its own /proc entries open
                os.close(fd)
    elif not zygote.root:
        raise isolation.IsolationError(1, "no Landlock and no root: nothing would keep this worker's files apart")
    # Without a uid or user namespace of its own, RLIMIT_NPROC also counts the instructor's processes.
    shared = not zygote.root and not zygote.userns
    nproc = int(limits["threads"]) + (isolation.tasks_of_uid(os.getuid()) - 1 if shared else 0)
    isolation.set_rlimits(
        isolation.ChildLimits(
            int(limits["cpu_s"]),
            limits["address_space_mb"],
            nproc,
            int(limits["file_size_mb"]),
            int(limits["open_files"]),
            limits.get("data_mb"),
            int(limits.get("cpu_hard_s") or limits["cpu_s"]),
        )
    )
    if zygote.root:
        _drop_root(zygote, int(uid), int(gid))
    isolation.drop_capabilities()
    isolation.lock_down(dumpable=cuda)
    trace = zygote.config.get("trace_landlock")
    if ruleset is not None and (trace is None or trace):
        isolation.landlock_restrict(ruleset)
    elif ruleset is not None:
        os.close(ruleset)
    if trace is not None:  # diagnostics (grader/sandbox/trace.py): a supervisor sees every call instead
        isolation.install_trace_filter()
    else:
        seccomp = zygote.seccomp_cuda if cuda and zygote.seccomp_cuda is not None else zygote.seccomp
        assert seccomp is not None
        seccomp.install(os.getpid())
    _enter_tmp(tmp_dir, cuda)


def _drop_root(zygote: Zygote, uid: int, gid: int) -> None:
    from grader.sandbox import isolation

    isolation.drop_privileges(uid, gid)
    # A credential change clears the parent-death signal; set it again and re-check the parent.
    isolation.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL, "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != zygote.pid:
        os._exit(75)


def _probe(setup: Callable[[str], None]) -> bool:
    """Whether ``setup(a temp dir)`` (entering namespaces) works, tried in a throw-away child."""
    import tempfile

    probe_dir = tempfile.mkdtemp(prefix="optigrade-ns-probe-")
    try:
        pid = os.fork()
        if pid == 0:
            try:
                setup(probe_dir)
            except BaseException:  # noqa: BLE001
                os._exit(1)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    finally:
        os.rmdir(probe_dir)


def _enter_tmp(tmp_dir: str, cuda: bool) -> None:
    os.chdir(tmp_dir)
    # CUDA initialises in the child, and only in a CUDA job's: a CPU job sees no GPU at all
    # (torch.cuda.is_available() is False there, so a student's `device = "cuda" if ...` picks the CPU).
    kept = {k: v for k, v in os.environ.items() if k in CUDA_ENV} if cuda else {"CUDA_VISIBLE_DEVICES": ""}
    os.environ.clear()
    os.environ.update(kept)
    os.environ.update(
        {
            "HOME": tmp_dir,
            "TMPDIR": tmp_dir,
            "PATH": "/usr/bin:/bin",
            "LC_ALL": "C.UTF-8",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
        }
    )
    import tempfile

    tempfile.tempdir = tmp_dir


def main() -> None:
    started = time.monotonic()
    ctl = socket.socket(fileno=int(sys.argv[1]))
    config = json.loads(ctl.recv(1 << 22))
    sys.path[:] = list(config["policy"]["sys_path"])
    _install_package_stubs()
    from grader.sandbox import policy

    # Before any import: what a worker may not read is not importable here either (nor in its memory).
    sys.path_importer_cache.update(policy.site_finders(config["policy"]["hidden"]))
    import numpy  # noqa: F401
    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    for name in PREIMPORT:
        __import__(name)
    import importlib.util  # noqa: F401

    from grader.sandbox import drivers, isolation, objectives, residue, values, wire, worker  # noqa: F401

    leaked = sorted(m for m in sys.modules if m.split(".")[0] in FORBIDDEN_MODULES or m in FORBIDDEN_MODULES)
    if leaked:
        raise SystemExit(f"zygote refused to start: trusted modules were imported: {leaked}")
    x = torch.linspace(-1.0, 1.0, 8, dtype=torch.float64)  # warm the dispatcher before forking
    (x - 0.1 * x.sign() * x.abs().sqrt()).sum().item()
    (x.float() * 2).mean().item()
    worker.seed_generators()  # numpy's first seed costs ~15 ms; paid here once, not in every job
    residue.refuse_audit_hooks()  # after every import of ours: a worker's student code can add none
    zygote = Zygote(ctl, config)
    import gc

    gc.collect()
    gc.freeze()  # children's garbage collections skip (so do not copy-on-write) the zygote's objects
    _send(
        ctl,
        {
            "op": "ready",
            "pid": os.getpid(),
            "abi": zygote.abi,
            "seconds": time.monotonic() - started,
            "threads": len(os.listdir("/proc/self/task")),
            "namespaces": zygote.namespaces,
        },
    )
    zygote.serve()
    os._exit(0)  # skip interpreter teardown (torch makes it slow); children are already gone


if __name__ == "__main__":
    main()
