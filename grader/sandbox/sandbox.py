"""Trusted side: run one Job in a fresh isolated child and turn what comes back into a JobResult.

Each ``run`` (a ``Session`` of one batch) stages the student's file into a private job dir, asks the zygote
for a child, writes the request frames, and drains replies, stdout and stderr until the worker says
``done``, dies, sends something malformed, or the wall clock runs out (then it is SIGKILLed through a
pidfd).  A ``Session`` keeps its worker for further batches of the same submission.  The child can
never fork, so killing it kills the whole job; as root each slot also has its own uid, swept after
every job.  Verdicts are never made here; only statuses.
"""

from __future__ import annotations

import fcntl
import itertools
import math
import os
import selectors
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

import torch

from grader.sandbox import drivers, isolation, objectives, policy, substitutes
from grader.sandbox.api import Job, JobResult, Limits, Reply, Request, SandboxUnavailable
from grader.sandbox.pool import ZygoteDied, ZygoteProcess
from grader.sandbox.values import GradFn, Value
from grader.sandbox.wire import Frame, FrameReader, encode_frame

UID_BASE = 1_600_000_000  # far above real and subordinate (100000+) uids
UID_LOCK_DIR = Path(tempfile.gettempdir()) / "optigrade-sandbox-uids"
DIR_PREFIX = "optigrade-sandbox-"
F_SETPIPE_SZ = 1031
DRAIN_AFTER_EXIT_S = 2.0
GATHER_S, GATHER_BELOW = 0.002, 1 << 16  # wait for more replies after a read of fewer bytes than this
CPU_SHARES = 1000  # a several-function worker's hard RLIMIT_CPU, in per-function shares (a backstop)
# Layers a caller may accept to go without (Sandbox(allow_missing=...)), and what keeps the promises then.
ALLOWED_MISSING = {"landlock": "only as root: each slot's own unprivileged uid, so file permissions decide what a "
                               "worker reads and writes; the caller must have made its secrets root-only"}


class CappedBuffer:
    """Keeps the first ``cap / 2`` bytes of a stream and its last ``cap / 2``, and counts those between.

    The tail is kept because a worker serves several functions one after another (worker.Segments): what
    the function that failed printed last is at the end, even when an earlier one filled the head."""

    def __init__(self, cap: int) -> None:
        self.cap, self.head, self.tail, self.total = cap, bytearray(), bytearray(), 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.cap // 2 - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk[-(self.cap - self.cap // 2):]
            del self.tail[: max(0, len(self.tail) - (self.cap - self.cap // 2))]

    def text(self) -> str:
        head = self.head.decode("utf-8", errors="replace")
        skipped = self.total - len(self.head) - len(self.tail)
        if skipped <= 0:
            return head + self.tail.decode("utf-8", errors="replace")
        return (f"{head}\n[… {skipped} more bytes not kept …]\n"
                + self.tail.decode("utf-8", errors="replace"))


REPLY_FIELDS = frozenset({"raised", "value", "inputs_after", "grad_fn_points", "seconds", "stand_ins", "effects"})


@dataclass
class _State:
    """What one job's reply stream has said so far."""

    n_requests: int
    ready: bool = False
    imported: bool = False
    infra: str | None = None
    ending: str | None = None  # import_error | not_found | done | stale
    ending_detail: str = ""
    fault: str | None = None
    replies: list[Reply] = field(default_factory=list)
    # Reply counts at which a segment other than the worker's first starts.  There, and only there, the
    # worker says ``segment`` (with its own count of replies) or ``stale``: a reply forged mid-function
    # shifts the count and is caught at the next function's start, and a fresh worker always serves its
    # first segment.
    restartable: set[int] = field(default_factory=set)
    marked: set[int] = field(default_factory=set)  # the restartable counts whose ``segment`` frame came

    def fail(self, fault: str) -> None:
        """A fault; the replies of the function being served are dropped back to its start (where that is
        not the worker's first), since one frame too many or too few leaves each of them in doubt: its calls
        are then run again, in a fresh worker, before any is charged (runners.SandboxRunner)."""
        self.fault = fault
        start = max((p for p in self.restartable if p <= len(self.replies)), default=None)
        if start is not None:
            del self.replies[start:]

    def on_frame(self, frame: Frame) -> None:
        body, kind = frame.body, frame.kind
        if self.fault is not None or self.ending is not None:
            return
        here = len(self.replies)
        if self.imported and kind in ("reply", "unrunnable") and here in self.restartable and here not in self.marked:
            self.fail(f"a reply after {here} replies, where the next function's start was due (a forged frame?)")
            return
        if not self.ready:
            if kind == "infra":
                self.infra = str(body.get("detail"))
            elif kind == "ready":
                self.ready = True
            else:
                self.fault = f"expected a 'ready' frame first, got {kind!r}"
            return
        if self.imported and kind == "unrunnable":
            self._unrunnable(body)
        elif not self.imported and kind in ("import_error", "not_found"):
            detail = body.get("detail")
            self.ending, self.ending_detail = kind, detail if isinstance(detail, str) else "(no detail)"
        elif not self.imported and kind == "imported":
            self.imported = True
        elif self.imported and kind == "reply":
            self._reply(body)
        elif self.imported and kind == "segment":
            if here not in self.restartable or here in self.marked or body != {"replies": here}:
                self.fail(f"a function's start after {here} replies, where none is due or with another count")
            else:
                self.marked.add(here)
        elif self.imported and kind == "stale":
            detail = body.get("detail")
            if here not in self.restartable or here in self.marked or set(body) != {"detail"} or not isinstance(
                    detail, str):
                self.fail(f"a 'stale' frame after {here} replies, where no later function starts")
            else:
                self.ending, self.ending_detail = "stale", detail
        elif self.imported and kind == "done":
            if here != self.n_requests:
                self.fail(f"'done' after {here} of {self.n_requests} replies")
            else:
                self.ending = "done"
        else:
            self.fail(f"unexpected {kind!r} frame {'after import' if self.imported else 'before import'}")

    def _unrunnable(self, body: dict[str, Value]) -> None:
        status, detail = body.get("status"), body.get("detail")
        if len(self.replies) >= self.n_requests:
            self.fail(f"more replies than the {self.n_requests} requests")
        elif (set(body) != {"status", "detail"} or status not in ("import_error", "not_found")
              or not isinstance(detail, str)):
            self.fail("malformed 'unrunnable' frame")
        else:
            self.replies.append(Reply(None, None, (), unrunnable=(str(status), detail)))

    def _reply(self, body: dict[str, Value]) -> None:
        # A field at its default (None, an empty tuple) may be left out: most replies are a value alone.
        raised, after, points, seconds, stand_ins, effects = (
            body.get("raised"), body.get("inputs_after", ()), body.get("grad_fn_points", ()), body.get("seconds"),
            body.get("stand_ins", ()), body.get("effects", ()))
        if len(self.replies) >= self.n_requests:
            self.fail(f"more replies than the {self.n_requests} requests")
        elif "value" not in body or "seconds" not in body or not body.keys() <= REPLY_FIELDS:
            self.fail(f"reply frame has fields {sorted(body)}")
        elif (
            not (raised is None or isinstance(raised, str))
            or not isinstance(after, tuple)
            or not isinstance(points, tuple)
            or not isinstance(seconds, float)
            or not _strings(stand_ins)
            or not _strings(effects)
        ):
            self.fail("reply frame fields have the wrong types")
        else:
            self.replies.append(Reply(raised, body["value"], after, points, seconds, stand_ins, effects))


def _strings(items: object) -> TypeGuard[tuple[str, ...]]:
    return isinstance(items, tuple) and (not items or all(isinstance(n, str) for n in items))


def _describe_exit(status: int) -> tuple[int | None, str]:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return sig, f"exited with signal {name}"
    return None, f"exited with status {os.WEXITSTATUS(status)}"


def classify(state: _State, *, timed_out: bool, exit_info: dict[str, Any] | None, limits: Limits,
             over_budget: bool = False) -> tuple[str, str]:
    """(status, detail) for a finished job; pure, so the decision table is testable on its own.
    ``over_budget``: the job was stopped at its ``Job.until``, not at a function's wall-clock limit."""
    where = (
        "during import"
        if not state.imported
        else f"during request {len(state.replies)}"
        if len(state.replies) < state.n_requests
        else "after the last request"
    )
    if state.infra is not None:
        return "infra_error", state.infra
    if state.ending == "done":
        return "ok", f"{len(state.replies)} replies"
    if state.ending == "stale":
        return "restart", f"the worker could not serve the next function as a fresh one would ({state.ending_detail})"
    if state.fault is not None:
        return "protocol_error", f"malformed reply stream {where}: {state.fault}"
    if state.ending in ("import_error", "not_found"):
        return state.ending, state.ending_detail
    if not state.ready:
        how = "timed out" if timed_out else _describe_exit(exit_info["status"])[1] if exit_info else "vanished"
        return "infra_error", f"the sandboxed worker {how} before it was ready (sandbox setup problem)"
    if timed_out:
        if over_budget:
            return "timeout", f"stopped when the submission's time budget ran out, {where}"
        return "timeout", f"killed after {limits.wall_s:g} s (wall clock) {where}"
    if exit_info is None:
        return "infra_error", f"the worker's exit status was lost {where} (zygote died?)"
    sig, text = _describe_exit(int(exit_info["status"]))
    # SIGXCPU: a several-function job's soft limit (each function's share, sandbox worker.Segments)
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and float(exit_info.get("cpu", 0.0)) >= limits.cpu_s - 0.5):
        return "timeout", f"killed by the kernel at the CPU time limit ({limits.cpu_s} s) {where}"
    return "crashed", f"{text} {where}"


def segment_starts(job: Job) -> list[int]:
    """Where a several-function job's requests move on to another function (each starts a segment)."""
    if not job.functions:
        return []
    requests = job.requests
    return [i for i in range(1, len(requests)) if requests[i].function != requests[i - 1].function]


MAX_REFS = 256  # template numbers per ``refs`` frame


def _encode_requests(requests: Sequence[Request], refs: Mapping[bytes, int]) -> Iterator[bytes]:
    """Each request's frame or, where the worker's zygote holds it (Sandbox.preload), its template number:
    a run of numbers in one ``refs`` frame (the worker still answers each request on its own)."""
    run: list[int] = []
    for r in requests:
        frame = r.frame
        number = refs.get(frame)
        if number is not None:
            run.append(number)
            if len(run) < MAX_REFS:
                continue
        if run:
            yield encode_frame("refs", {"i": run})
            run = []
        if number is None:
            yield frame
    if run:
        yield encode_frame("refs", {"i": run})


def _check_device(job: Job, device: str) -> None:
    if job.device not in ("cpu", device):
        raise ValueError(f"Job.device {job.device!r} in a sandbox for {device!r}; expected 'cpu'"
                         + (" or 'cuda'" if device == "cuda" else " (start the Sandbox with device='cuda')"))


_checked: dict[int, Request] = {}  # requests already found well-formed (a suite's are sent again and again)
MAX_CHECKED = 200_000


def _validate(job: Job, device: str) -> None:
    _check_device(job, device)
    for i, request in enumerate(job.requests):
        if job.functions and request.function not in job.functions:
            raise ValueError(f"request {i}: function {request.function!r} is not one of Job.functions "
                             f"{sorted(job.functions)}; expected each request of a several-function job to name one")
    every = {*job.substitutes, *(name for names in job.functions.values() for name in names)}
    unknown = sorted(name for name in every if name not in substitutes.SUBSTITUTES)
    if unknown:
        raise ValueError(f"Job.substitutes {unknown} are not stand-ins; expected names from "
                         f"{sorted(substitutes.SUBSTITUTES)} (grader/sandbox/substitutes.py)")
    own = Path(job.module_path).stem
    for name in job.siblings:
        if not (isinstance(name, str) and name.isidentifier() and name != own):
            raise ValueError(f"Job.siblings name {name!r} is not a module name other than {own!r}; expected "
                             f"the stem of another file of the submission, e.g. 'epochs'")
    for function, module in job.modules.items():
        if function not in job.functions or (module != own and module not in job.siblings):
            raise ValueError(f"Job.modules maps {function!r} to {module!r}; expected a function of Job.functions "
                             f"{sorted(job.functions)} and the module {own!r} or one of Job.siblings "
                             f"{sorted(job.siblings)}")
    for i, request in enumerate(job.requests):
        if _checked.get(id(request)) is request:
            continue
        if request.driver not in drivers.DRIVERS:
            raise ValueError(
                f"request {i}: driver {request.driver!r} is not registered; expected one of "
                f"{sorted(drivers.DRIVERS)} (grader/sandbox/drivers.py)"
            )
        for value in (*request.args, *request.kwargs.values()):
            if isinstance(value, GradFn):
                objectives.check(value.objective, value.params)
        if request.driver == "rollout":
            try:
                drivers.check_rollout(tuple(request.args), request.kwargs)
            except ValueError as exc:
                raise ValueError(f"request {i}: {exc} (grader/sandbox/drivers.py: check_rollout)") from None
        if len(_checked) > MAX_CHECKED:  # (shrink candidates are new requests per student)
            _checked.clear()
        _checked[id(request)] = request  # immutable (api.Request): checked once is checked for good


def _copy_in(source: Path, target: Path) -> Path | None:
    """A read-only copy of ``source`` at ``target`` (never through a symlink); None if unreadable."""
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.chmod(target, 0o444)
    except OSError:
        return None
    return target


def _process_identity(pid: int) -> str:
    """``pid:start time``: stays unique even when the pid is reused."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f"{pid}:{f.read().rsplit(b')', 1)[1].split()[19].decode()}"
    except (OSError, IndexError):
        return f"{pid}:?"


def _remove_stale_dirs() -> None:
    """Remove the private dirs (copies of student files) of graders that died without close()."""
    for path in Path(tempfile.gettempdir()).glob(DIR_PREFIX + "*"):
        try:
            if path.stat().st_uid != os.getuid():
                continue
            owner = (path / "owner").read_text()
        except OSError:
            continue
        pid = owner.split(":", 1)[0]
        if pid.isdigit() and _process_identity(int(pid)) != owner:
            shutil.rmtree(path, ignore_errors=True)


def _check_reachable(base: Path) -> None:
    """As root, each job runs as an unprivileged uid that must reach its job dir under ``base``."""
    private = isolation.hidden_ancestor(str(base / "x"))
    if private is not None:
        raise SandboxUnavailable(
            f"the temporary folder {base} lies inside {private}, which only its owner may enter, so the "
            f"sandbox's unprivileged uid cannot reach the job files there. Fix: point TMPDIR at a folder "
            f"others may enter (e.g. TMPDIR=/tmp), or unset it")


def _uid_in_use(uid: int) -> bool:
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    return True
            except OSError:
                continue
    return False


class Sandbox:
    """Runs student functions in isolated workers forked from a torch-loaded zygote.  Thread-safe."""

    allow_userns = True  # without root, use a user namespace when the kernel allows (False: tests only)
    # Tests and diagnostics only: make every CUDA job's CUDA start fail with this text (a GPU fault,
    # on any machine); trace syscalls instead of refusing them (grader/sandbox/trace.py), Landlock on/off.
    cuda_fault: str | None = None
    trace_landlock: bool | None = None
    trace_scopes: int | None = None  # Landlock scopes (isolation.SCOPE_*) instead of all of them
    # Tests only: layers treated as absent on this machine ("landlock", "namespaces").
    simulate_missing: frozenset[str] = frozenset()

    def __init__(
        self,
        *,
        jobs: int = 1,
        limits: Limits = Limits(),  # noqa: B008 - frozen, so sharing it is safe
        device: str = "cpu",
        unsafe_no_sandbox: bool = False,
        uid_base: int = UID_BASE,
        allow_missing: Collection[str] = (),
    ) -> None:
        if device not in ("cpu", "cuda"):
            raise ValueError(f"device={device!r}; expected 'cpu' or 'cuda'")
        if jobs < 1:
            raise ValueError(f"jobs={jobs}; expected at least 1 concurrent job")
        unknown = sorted(set(allow_missing) - set(ALLOWED_MISSING))
        if unknown:
            raise ValueError(f"allow_missing={unknown}; expected some of {sorted(ALLOWED_MISSING)}")
        if device == "cuda" and not torch.cuda.is_available():
            raise SandboxUnavailable(
                "device='cuda' but torch.cuda.is_available() is False here; fix: install a "
                "CUDA build of torch and run on a machine with an NVIDIA GPU, or use 'cpu'"
            )
        self.limits, self.device, self.unsafe = limits, device, unsafe_no_sandbox
        self.root = os.getuid() == 0  # never run student code as root, not even unsandboxed
        self.features, problems = isolation.probe()
        self.missing: list[str] = []  # isolation layers this sandbox runs without ("landlock", "namespaces")
        if "landlock" in self.simulate_missing or not any(f.startswith("landlock") for f in self.features):
            self.features = [f for f in self.features if not f.startswith("landlock")]
            said = [p for p in problems if p.startswith("Landlock")] or ["Landlock is unavailable (simulated)"]
            problems = [p for p in problems if not p.startswith("Landlock")]
            if "landlock" in allow_missing and self.root and not unsafe_no_sandbox:
                self.missing.append("landlock")
            elif not unsafe_no_sandbox:
                why = " (allow_missing needs root: without it no uid of its own keeps files apart)"
                problems += [said[0] + (why if "landlock" in allow_missing else "")]
        if problems and not unsafe_no_sandbox:
            raise SandboxUnavailable(
                "cannot sandbox student code: "
                + "; ".join(problems)
                + ". Only for trusted code: Sandbox(unsafe_no_sandbox=True)."
            )
        self.backend = ("unsafe" if unsafe_no_sandbox else "seccomp+uid (no Landlock)" if "landlock" in self.missing
                        else "landlock+seccomp")
        if self.root:
            _check_reachable(Path(tempfile.gettempdir()))
        self.policy = self._build_policy(device)
        _remove_stale_dirs()
        self._dir = Path(tempfile.mkdtemp(prefix=DIR_PREFIX))
        os.chmod(self._dir, 0o711)  # sandbox uids may traverse to their own job dir, not list others
        (self._dir / "owner").write_text(_process_identity(os.getpid()))
        self._uid_locks: list[int] = []
        self.uids: tuple[int, ...] = self._allocate_uids(jobs, uid_base) if self.root else ()
        self.jobs = jobs
        self._free = list(range(jobs))
        self._slots = threading.Semaphore(jobs)
        self._lock = threading.Lock()
        self._job_ids = iter(range(1, 1 << 62))
        self._closed = False
        self._templates: list[bytes] = []  # preloaded request frames (preload)
        self._zygote: ZygoteProcess | None = None
        try:
            self._zygote = self._start_zygote()
        except BaseException:
            self.close()
            raise
        self.zygote_start_seconds = float(self._zygote.ready["start_seconds"])
        namespaces = str(self._zygote.ready["namespaces"])
        self.features.append(f"namespaces:{namespaces}")
        if namespaces == "none" and not unsafe_no_sandbox:
            self.missing.append("namespaces")
        if self.root and namespaces == "none":  # unsafe too: student code must never run as root
            self._refuse_unreadable_python()

    # ------------------------------------------------------------------ lifecycle

    def _allocate_uids(self, count: int, base: int) -> tuple[int, ...]:
        """Distinct uids per slot, unique across concurrent Sandboxes (flock on a file per uid)."""
        UID_LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
        uids: list[int] = []
        for uid in range(base, base + 100_000):
            if len(uids) == count:
                break
            fd = os.open(UID_LOCK_DIR / f"{uid}.lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            if _uid_in_use(uid):  # a leftover from a grader that was killed: never share it
                os.close(fd)
                continue
            self._uid_locks.append(fd)
            uids.append(uid)
        return tuple(uids)

    def _refuse_unreadable_python(self) -> None:
        """As root without a mount namespace, the dropped uid must be able to reach Python itself."""
        for path in self.policy.bind_roots:
            ancestor = isolation.hidden_ancestor(path)
            if ancestor is not None:
                self.close()
                raise SandboxUnavailable(
                    f"running as root without CAP_SYS_ADMIN (no mount namespace), so the sandbox's "
                    f"unprivileged uid cannot read {path}: {ancestor} is private to its owner. Fix: run the "
                    f"grader as a regular user, or grant CAP_SYS_ADMIN (e.g. docker run --cap-add SYS_ADMIN), "
                    f"or use a Python installed outside {ancestor}"
                )

    def _build_policy(self, device: str) -> policy.Policy:
        return policy.build(device)  # (grader/sandbox/trace.py tries variants by overriding this)

    def _start_zygote(self) -> ZygoteProcess:
        return ZygoteProcess(
            policy=self.policy,
            device=self.device,
            unsafe=self.unsafe,
            log_path=self._dir / "zygote.log",
            userns=self.allow_userns,
            extra={"cuda_fault": self.cuda_fault, "trace_landlock": self.trace_landlock,
                   "trace_scopes": self.trace_scopes,
                   # each concurrent CUDA worker gets its share of the GPU's memory (torch's allocator)
                   "cuda_memory_fraction": round(0.9 / self.jobs, 4),
                   "without": sorted(set(self.missing) | self.simulate_missing)},
        )

    def worker_grants(self, device: str = "cpu") -> list[tuple[str, int]]:
        """The Landlock rules (path, rights) a job's worker gets, for grader/sandbox/trace.py: the policy's,
        its job dir (box read, tmp written: all job dirs lie beneath ``_dir``) and its own /proc entry."""
        p, cuda = self.policy, device == "cuda"
        named = isolation.rights(max(isolation.landlock_abi(), 1))
        kinds = [("read", p.read), ("list", p.list_only), ("device", p.devices)]
        if cuda:
            kinds += [("read", p.cuda_read), ("device", p.cuda_devices), ("write", p.cuda_write)]
        rules = [(path, named[kind]) for kind, paths in kinds for path in paths]
        return rules + [(str(self._dir), named["write"]), ("/proc/self", isolation.own_proc_rights(named, cuda))]

    def _get_zygote(self) -> ZygoteProcess:
        with self._lock:
            if self._closed:
                raise RuntimeError("Sandbox is closed")
            if self._zygote is None or not self._zygote.alive:
                if self._zygote is not None:
                    self._zygote.close()
                self._zygote = self._start_zygote()
                self._load_templates(self._zygote)
            return self._zygote

    def preload(self, requests: Iterable[Request]) -> int:
        """Requests every submission will be sent (a suite's): the zygote decodes them once, and a worker
        then gets each as a copy named by number instead of parsing its frame (``wire.Templates``).  Same
        answers either way; a request not preloaded is sent whole.  Returns how many the zygote holds."""
        frames: dict[bytes, None] = {}
        for request in requests:
            with suppress(TypeError, ValueError):  # one that cannot be sent fails when a job sends it
                frames[request.frame] = None
        with self._lock:
            self._templates = list(frames)
            zygote = self._zygote
        return self._load_templates(zygote) if zygote is not None and zygote.alive else 0

    def _load_templates(self, zygote: ZygoteProcess) -> int:
        """Send the preloaded frames to ``zygote``; its workers get refs only once it holds them all."""
        templates = self._templates
        if not templates:
            zygote.refs = {}
            return 0
        try:
            count = zygote.load_templates(b"".join(templates), next(self._job_ids))
        except ZygoteDied:
            return 0  # whole frames, as without preloading
        if count == len(templates):
            zygote.refs = {frame: i for i, frame in enumerate(templates)}
        return count

    def close(self) -> None:
        """Kill every worker and the zygote; remove the private dirs.  Idempotent."""
        with self._lock:
            self._closed = True
            zygote, self._zygote = self._zygote, None
        if zygote is not None:
            zygote.close()
        for uid in self.uids:
            self._sweep(uid)
        for fd in self._uid_locks:
            os.close(fd)
        self._uid_locks = []
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _sweep(uid: int) -> None:
        for _ in range(3):
            found = False
            for entry in os.scandir("/proc"):
                if entry.name.isdigit():
                    try:
                        if entry.stat().st_uid == uid:
                            found = True
                            os.kill(int(entry.name), signal.SIGKILL)
                    except OSError:
                        continue
            if not found:
                return
            time.sleep(0.01)

    @property
    def zygote_pid(self) -> int | None:
        """The current zygote's pid (its children are this sandbox's workers); None once closed."""
        zygote = self._zygote
        return zygote.proc.pid if zygote is not None and zygote.alive else None

    # ------------------------------------------------------------------ running

    def run(self, job: Job) -> JobResult:
        """Run every request of ``job`` in one fresh isolated worker; never raises for student faults
        (only for a malformed Job: unknown driver or objective, or a value that cannot be sent)."""
        with self.session(job) as session:
            result = session.run(job)
            if result.status != "ok":
                return result
            return session.finish()  # the worker must also end well ("done", then exit)

    def session(self, job: Job) -> Session:
        """A worker for ``job``'s files and device that serves batches of requests one after another
        (``Session.run``), e.g. every level of one submission's grading; close it (or use ``with``)."""
        return Session(self, job)

    def _result(
        self,
        status: str,
        detail: str,
        started: float,
        replies: list[Reply] | None = None,
        out: CappedBuffer | None = None,
        err: CappedBuffer | None = None,
    ) -> JobResult:
        return JobResult(
            status,
            replies or [],
            detail,
            out.text() if out else "",
            err.text() if err else "",
            self.backend,
            time.monotonic() - started,
        )


class Session:
    """One isolated worker serving batches of requests for one submission's files, one batch at a time.

    The first ``run`` sends the job frame, each later one a ``functions`` frame (its functions, their
    modules and stand-ins); every batch starts a segment of its own in the worker (worker.Segments), with
    the wall-clock limit anew, so the time the trusted side spends judging between batches is never the
    worker's.  A batch that does not get all its replies (a crash, a timeout, a malformed answer) ends the
    session: its result says why, as ``Sandbox.run`` would, and the next batch needs a new session.
    Holds one of the sandbox's slots (and, as root, its uid) until closed.
    """

    def __init__(self, box: Sandbox, job: Job) -> None:
        _check_device(job, box.device)  # the rest of the job is checked by run, before anything is sent
        self.box, self.job = box, job
        self.started = time.monotonic()
        self.pump: _Pump | None = None
        self.refs: Mapping[bytes, int] = {}
        self.failed: JobResult | None = None
        self.batches = 0
        self._closed = False
        box._slots.acquire()
        with box._lock:
            self.slot = box._free.pop()
        self.job_dir = Path(tempfile.mkdtemp(prefix="job-", dir=box._dir))
        try:
            self.box_file, self.tmp_dir, self.siblings = _make_job_dir(self.job_dir, job)
            self.failed = self._spawn()
        except BaseException:
            self.close()
            raise

    @property
    def alive(self) -> bool:
        """Whether another batch can be run here."""
        return self.failed is None and not self._closed

    def matches(self, job: Job) -> bool:
        """Whether ``job`` is for this session's files and device."""
        return (Path(job.module_path), dict(job.siblings), job.device) == (
            Path(self.job.module_path), dict(self.job.siblings), self.job.device)

    def _spawn(self) -> JobResult | None:
        box, job = self.box, self.job
        if self.box_file is None:
            return box._result("infra_error", f"cannot read the staged module {job.module_path} (missing, "
                               "a symlink or unreadable); fix: stage it with grader.intake.staging", self.started)
        limits = box.limits
        uid = box.uids[self.slot] if box.uids else None
        if uid is not None:
            os.chown(self.tmp_dir, uid, uid)
        pipes = [os.pipe2(os.O_CLOEXEC) for _ in range(4)]  # request, reply, stdout, stderr
        (req_r, req_w), (resp_r, resp_w), (out_r, out_w), (err_r, err_w) = pipes
        for fd in (req_w, resp_w, out_w, err_w):  # room for a whole batch of requests, and for gathered replies
            with suppress(OSError):
                fcntl.fcntl(fd, F_SETPIPE_SZ, 1 << 20)
        cuda = job.device == "cuda"
        message = {
            "box_file": str(self.box_file),
            "tmp_dir": str(self.tmp_dir),
            "uid": uid,
            "gid": uid,
            "cuda": cuda,
            "reply_bytes": limits.reply_mb << 20,
            "limits": {
                "cpu_s": limits.cpu_s,
                # A worker of several functions moves its soft limit on by cpu_s per function and keeps its
                # hard limit one share above (worker.Segments); one function: soft = hard.
                "cpu_hard_s": limits.cpu_s * (CPU_SHARES if job.functions else 1),
                "threads": limits.threads,
                "file_size_mb": limits.file_size_mb,
                "open_files": limits.open_files,
                "tmp_mb": limits.tmp_mb,
                # CUDA reserves virtual address ranges far beyond any RLIMIT_AS that would still matter.
                "address_space_mb": None if cuda else limits.address_space_mb,
                "data_mb": limits.address_space_mb if cuda else None,
            },
        }
        self.job_id = next(box._job_ids)
        ours = [req_w, resp_r, out_r, err_r]
        try:
            self.zygote = box._get_zygote()
            self.refs = self.zygote.refs  # before the spawn: the templates it names are in the child
            pid, pidfd = self.zygote.spawn(self.job_id, message, [req_r, resp_w, out_w, err_w])
        except (ZygoteDied, SandboxUnavailable) as exc:
            for fd in ours:
                os.close(fd)
            return box._result("infra_error", str(exc), self.started)
        finally:
            for fd in (req_r, resp_w, out_w, err_w):
                os.close(fd)
        self.pump = _Pump(self.zygote, pidfd, ours, limits)
        return None

    def run(self, job: Job) -> JobResult:
        """The replies to ``job``'s requests (same files and device as the session's), as a JobResult:
        "ok" with every reply, or why the worker stopped (then this session is over)."""
        if self.failed is not None:
            return self.failed
        if self._closed or self.pump is None:
            raise RuntimeError("Session.run after close()")
        if not self.matches(job):
            raise ValueError(f"a session for {self.job.module_path} ({self.job.device}) got a job for "
                             f"{job.module_path} ({job.device}); expected the same files and device")
        _validate(job, self.box.device)
        every = {*job.substitutes, *(n for names in job.functions.values() for n in names)}
        fields = {"substitutes": substitutes.sources(tuple(sorted(every))),
                  "functions": {f: tuple(names) for f, names in job.functions.items()}, "modules": dict(job.modules)}
        if self.batches == 0:
            head = encode_frame("job", {"module_path": str(self.box_file), "function": job.function,
                                        "siblings": self.siblings, **fields})
        elif not job.functions or not self.job.functions:
            raise ValueError("only jobs of several functions (Job.functions) can share a session's worker")
        else:
            head = encode_frame("functions", fields)
        # The first request is encoded now, so a value that cannot be sent fails before it is sent; the
        # rest are encoded while the worker runs (the two overlap on separate cores).
        first = list(_encode_requests(job.requests[:1], self.refs))
        self.batches += 1
        pump = self.pump
        pump.job_end = job.until
        before = len(pump.state.replies)
        starts = [before + i for i in segment_starts(job)]
        pump.state.restartable.update([before] if self.batches > 1 else [], starts)  # a later batch: a segment
        pump.send(itertools.chain([head], first, _encode_requests(job.requests[1:], self.refs)), len(job.requests),
                  starts)
        pump.until(before + len(job.requests))
        if pump.encode_error is not None:
            self.close()
            raise pump.encode_error
        if len(pump.state.replies) >= before + len(job.requests) and pump.healthy:
            return self.box._result("ok", f"{len(job.requests)} replies", self.started,
                                    pump.state.replies[before:], pump.out, pump.err)
        self.failed = self._finish(before)
        return self.failed

    def finish(self) -> JobResult:
        """Let the worker end (no more requests) and say how it ended; the session is then over."""
        if self.failed is None:  # (a worker that did not start has failed already)
            self.failed = self._finish(0)
        return self.failed

    def _finish(self, before: int) -> JobResult:
        assert self.pump is not None
        pump = self.pump
        pump.end()
        exit_info = self.zygote.wait_exit(self.job_id, 10.0)
        status, detail = classify(pump.state, timed_out=pump.timed_out, exit_info=exit_info, limits=self.box.limits,
                                  over_budget=pump.over_budget)
        return self.box._result(status, detail, self.started, pump.state.replies[before:], pump.out, pump.err)

    def close(self) -> None:
        """Stop the worker (if it still runs), sweep its uid, remove its files, free the slot.  Idempotent."""
        if self._closed:
            return
        self._closed = True
        box = self.box
        try:
            if self.pump is not None:
                self.pump.kill()
                if self.failed is None:
                    self.zygote.wait_exit(self.job_id, 10.0)
                self.pump.close()
        finally:
            if box.uids:
                box._sweep(box.uids[self.slot])
            with suppress(OSError):
                os.chmod(self.job_dir / "box", 0o700)  # without root, a read-only dir's files cannot be removed
            shutil.rmtree(self.job_dir, ignore_errors=True)
            with box._lock:
                box._free.append(self.slot)
            box._slots.release()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _make_job_dir(job_dir: Path, job: Job) -> tuple[Path | None, Path, tuple[str, ...]]:
    """In ``job_dir``: ``box/<module>.py`` (a read-only copy; None if unreadable), read-only copies of the
    readable siblings (their names are returned), and ``tmp/``."""
    os.chmod(job_dir, 0o711)
    box, tmp = job_dir / "box", job_dir / "tmp"
    box.mkdir()
    tmp.mkdir(mode=0o700)
    box_file = _copy_in(Path(job.module_path), box / Path(job.module_path).name)
    siblings = tuple(name for name, path in sorted(job.siblings.items())
                     if _copy_in(Path(path), box / f"{name}.py") is not None)
    os.chmod(box, 0o555)
    return box_file, tmp, siblings


class _Pump:
    """The trusted end of one worker's pipes: writes request frames, reads replies, stdout and stderr,
    watches the wall clock and the worker's exit (pidfd), and kills it (SIGKILL through the pidfd) when it
    runs out of time or sends something it should not.  Resumable: ``until`` returns once a batch's replies
    are in, with the worker alive and waiting for more."""

    def __init__(self, zygote: ZygoteProcess, pidfd: int, fds: list[int], limits: Limits) -> None:
        self.zygote, self.pidfd, self.fds, self.limits = zygote, pidfd, fds, limits
        req_w, resp_r, out_r, err_r = fds
        self.state = _State(n_requests=0)
        self.reader = FrameReader(max_bytes=0)
        self.out, self.err = CappedBuffer(limits.output_kb << 10), CappedBuffer(limits.output_kb << 10)
        self.sinks = {out_r: self.out, err_r: self.err}
        for fd in fds:
            os.set_blocking(fd, False)
        self.sel = selectors.DefaultSelector()
        for fd in (resp_r, out_r, err_r, pidfd):
            self.sel.register(fd, selectors.EVENT_READ)
        self.outgoing: Iterator[bytes] = iter(())
        self.pending, self.exhausted = memoryview(b""), True
        self.encode_error: Exception | None = None
        self.killed = self.timed_out = self.exited = False
        self.drain_deadline: float | None = None
        self.deadline = self.give_up = math.inf
        self.job_end = math.inf  # the job's own end (Job.until): no function's wall limit reaches past it
        self.over_budget = False  # timed out at ``job_end``, not at a function's wall limit
        self.starts: list[int] = []

    @property
    def healthy(self) -> bool:
        state = self.state
        return not (self.killed or self.exited or state.fault or state.infra or state.ending)

    def send(self, frames: Iterator[bytes], requests: int, starts: list[int]) -> None:
        """Queue a batch: ``requests`` request frames (after a head frame) in ``frames``, functions
        changing at reply indices ``starts``.  Its wall-clock limit starts now (from the worker's birth,
        for the first batch: a zygote restart is not the job's time)."""
        self.state.n_requests += requests
        self.reader.max_bytes += (self.limits.reply_mb << 20) * (1 + len(starts))
        self.outgoing, self.exhausted, self.starts = frames, False, list(starts)
        if self.fds[0] >= 0 and self.fds[0] not in self.sel.get_map():
            self.sel.register(self.fds[0], selectors.EVENT_WRITE)
        self.deadline = min(time.monotonic() + self.limits.wall_s, self.job_end)
        self.give_up = self.deadline + 10.0  # SIGKILL cannot be ignored; this only guards against a lost event

    def kill(self) -> None:
        if not self.killed and not self.exited:
            self.killed = True
            with suppress(ProcessLookupError):
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)

    def end(self) -> None:
        """No more requests: close the request pipe and pump until the worker has exited."""
        self._close_requests()
        self.deadline = time.monotonic() + self.limits.wall_s
        self.give_up = self.deadline + 10.0
        self.until(math.inf)
        if not self.exited:  # drain deadline hit or loop ended early: make sure it is dead
            self.kill()

    def _close_requests(self) -> None:
        req_w = self.fds[0]
        if req_w >= 0:
            if req_w in self.sel.get_map():
                self.sel.unregister(req_w)
            os.close(req_w)
            self.fds[0] = -1

    def until(self, target: float) -> None:
        """Pump until ``target`` replies have arrived (and the batch is sent), or the worker has ended."""
        state, sel = self.state, self.sel
        resp_r = self.fds[1]
        while sel.get_map():
            if len(state.replies) >= target and self.exhausted and not self.pending and self.healthy:
                return
            now = time.monotonic()
            if not self.killed and not self.exited and now >= self.deadline:
                self.timed_out, self.over_budget = True, self.deadline >= self.job_end
                self.kill()
            if (self.drain_deadline is not None and now >= self.drain_deadline) or now >= self.give_up:
                break
            if self.zygote.dead:  # its children die with it (parent-death signal); make sure of it
                self.kill()
            end = self.drain_deadline if self.drain_deadline is not None else (
                self.deadline if not self.killed else now + 5)
            gather = False
            for key, _ in sel.select(min(max(end - now, 0.0), 1.0)):
                fd = int(key.fd)
                if fd == self.fds[0]:
                    self._write()
                elif fd == self.pidfd:
                    sel.unregister(self.pidfd)
                    self.exited = True
                    self.drain_deadline = time.monotonic() + DRAIN_AFTER_EXIT_S
                else:
                    try:
                        chunk = os.read(fd, 1 << 20)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        sel.unregister(fd)
                        continue
                    if fd == resp_r:
                        self._replies(chunk)
                        gather = len(chunk) < GATHER_BELOW
                    else:
                        self.sinks[fd].add(chunk)
            if self.exited and set(sel.get_map()) <= {self.fds[0]}:
                break
            if gather and self.exhausted and not self.pending and len(state.replies) < target and self.healthy:
                # The worker has the whole batch and answers one call at a time: let a few answers gather
                # before reading again (one wake-up for many, instead of one each; the CPU both sides save
                # is worth more than the moment it adds at a batch's end).
                time.sleep(GATHER_S)

    def _write(self) -> None:
        req_w = self.fds[0]
        if not self.pending and not self.exhausted:
            try:
                batch = list(itertools.islice(self.outgoing, 64))
            except (TypeError, ValueError) as exc:  # a later request cannot be sent
                self.encode_error, batch = exc, []
                self.kill()
            self.exhausted = len(batch) < 64
            self.pending = memoryview(b"".join(batch))
        try:
            self.pending = self.pending[os.write(req_w, self.pending[: 1 << 20]) :] if self.pending else self.pending
        except BlockingIOError:
            return
        except OSError:  # the child closed its end or died: stop sending
            self.pending, self.exhausted = self.pending[:0], True
        if not self.pending and self.exhausted:
            self.sel.unregister(req_w)  # until the next batch (or end) closes it

    def _replies(self, chunk: bytes) -> None:
        state = self.state
        for frame in self.reader.feed(chunk):
            state.on_frame(frame)
        if self.reader.fault is not None and state.fault is None and state.ending is None:
            state.fail(self.reader.fault)
        if state.fault is not None or state.ending is not None or state.infra is not None:
            self.kill()
        if self.starts and self.starts[0] <= len(state.replies) and not self.killed:
            while self.starts and self.starts[0] <= len(state.replies):
                self.starts.pop(0)
            self.deadline = min(time.monotonic() + self.limits.wall_s, self.job_end)  # each function's anew
            self.give_up = self.deadline + 10.0

    def close(self) -> None:
        self.sel.close()
        for fd in (*self.fds, self.pidfd):
            if fd >= 0:
                with suppress(OSError):
                    os.close(fd)
        self.fds[:] = [-1] * len(self.fds)
        self.pidfd = -1
