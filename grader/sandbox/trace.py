"""Find what a library needs from the kernel inside the sandbox, from evidence (diagnostics only).

``python -m grader.sandbox.trace --device cuda`` runs a canary job (start CUDA, one operation) in a
worker whose seccomp filter hands every system call to a supervisor here instead of refusing it
(``isolation.install_trace_filter``; Landlock off or on).  The supervisor records each call and lets it
run, then judges it twice, offline: with the real seccomp program (the same BPF, interpreted here) and
with the real Landlock rules (the policy's paths and rights).  What either would refuse is printed —
the syscalls to grant and the paths (with the access right) to grant — so one run on a GPU machine
says exactly what the box lacks.  It changes nothing; ``grader/sandbox/policy.py`` holds the grants.

Runs as root (it reads the worker's memory to print path arguments) on x86_64 only.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import errno
import fcntl
import os
import platform
import re
import select
import struct
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from grader.sandbox import isolation

NOTIF_RECV, NOTIF_SEND = 0xC0502100, 0xC0182101  # _IOWR('!', 0|1, struct seccomp_notif|_resp)
FLAG_CONTINUE = 1
NOTIF = struct.Struct("=QII iIQ6Q")  # id, pid, flags, (nr, arch, ip, args[6])
RESP = struct.Struct("=QqiI")  # id, val, error, flags
SYS_PIDFD_GETFD = 438
AT_FDCWD = -100
PATH_ARG = {  # syscall -> (index of the dirfd or None, index of the path)
    "open": (None, 0), "openat": (0, 1), "openat2": (0, 1), "creat": (None, 0), "stat": (None, 0),
    "lstat": (None, 0), "newfstatat": (0, 1), "statx": (0, 1), "access": (None, 0), "faccessat": (0, 1),
    "faccessat2": (0, 1), "readlink": (None, 0), "readlinkat": (0, 1), "execve": (None, 0),
    "execveat": (0, 1), "mkdir": (None, 0), "mkdirat": (0, 1), "unlink": (None, 0), "unlinkat": (0, 1),
    "rmdir": (None, 0), "mknod": (None, 0), "mknodat": (0, 1), "rename": (None, 0), "renameat": (0, 1),
    "renameat2": (0, 1), "chdir": (None, 0), "truncate": (None, 0), "chmod": (None, 0),
    "fchmodat": (0, 1), "statfs": (None, 0), "inotify_add_watch": (None, 1),
}
O_ACCMODE, O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_DIRECTORY, O_PATH = 3, 1, 2, 0o100, 0o1000, 0o200000, 0o10000000

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def syscall_names() -> dict[int, str]:
    """x86_64 numbers to names, from the kernel headers when installed, else the sandbox's own tables."""
    names = {nr: name for name, nr in isolation._ARCHES["x86_64"].syscalls.items()}
    names.update({nr: name for name, nr in isolation._QUIET["x86_64"].items()})
    extra = ("open=2 stat=4 lstat=6 ioctl=16 access=21 socket=41 connect=42 sendmsg=46 recvmsg=47 getcwd=79 "
             "chdir=80 rename=82 mkdir=83 rmdir=84 creat=85 unlink=87 readlink=89 mknod=133 statfs=137 "
             "fstatfs=138 sched_setaffinity=203 openat=257 mkdirat=258 mknodat=259 newfstatat=262 "
             "unlinkat=263 renameat=264 readlinkat=267 faccessat=269 memfd_create=319 statx=332 "
             "openat2=437 faccessat2=439 inotify_add_watch=254 renameat2=316 mbind=237 "
             "get_mempolicy=239 set_mempolicy=238 eventfd2=290 pipe2=293 dup=32 dup2=33 dup3=292 fcntl=72 "
             "getdents64=217 uname=63 sysinfo=99 prctl=157 arch_prctl=158 clone=56 wait4=61 "
             "epoll_create1=291 epoll_ctl=233 timerfd_create=283 set_tid_address=218 getppid=110 "
             "sched_getparam=143 sched_getscheduler=145 sched_get_priority_max=146 getrlimit=97 "
             "prlimit64=302 getpriority=140 shmget=29 shmat=30 shmctl=31 msync=26 mincore=27 "
             "fallocate=285 ftruncate=77 fsync=74 fdatasync=75 flock=73 getsockopt=55 setsockopt=54 "
             "bind=49 listen=50 accept=43 socketpair=53 getsockname=51 getpeername=52 shutdown=48")
    names.update({int(nr): name for name, nr in (item.split("=") for item in extra.split())})
    header = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
    with contextlib.suppress(OSError):
        for name, nr in re.findall(r"#define __NR_(\w+)\s+(\d+)", header.read_text()):
            names[int(nr)] = name
    return names


def run_bpf(program: list[tuple[int, int | str, int | str, int]], nr: int, arch: int, args: Iterable[int]) -> int:
    """The filter's return value for one call: the same classic-BPF subset ``seccomp_program`` emits."""
    data = struct.pack("=iIQ6Q", nr, arch, 0, *args)
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = program[pc]
        if code == isolation._LD_W_ABS:
            acc = struct.unpack_from("=I", data, k)[0]
        elif code == isolation._AND:
            acc &= k
        elif code == isolation._RET:
            return k
        else:
            taken = {isolation._JEQ: acc == k, isolation._JGE: acc >= k, isolation._JSET: bool(acc & k)}[code]
            pc += int(jt if taken else jf)
        pc += 1


def verdict(ret: int) -> str:
    if ret == isolation.RET_ALLOW:
        return "allow"
    if ret == isolation.RET_KILL_PROCESS:
        return "kill"
    return f"error {errno.errorcode.get(ret & 0xFFFF, ret & 0xFFFF)}"


@dataclass
class Access:
    """One file access the worker made: the path, what it asked for, and which Landlock right that needs."""

    call: str
    path: str  # for calls that change a directory's entries (mkdir, unlink, …): that directory
    rights: int  # the Landlock access rights (isolation.FS_*) the call needs there; 0: none checked


@dataclass
class Trace:
    calls: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)  # "name(args) -> verdict"
    accesses: list[Access] = field(default_factory=list)
    ioctls: Counter[str] = field(default_factory=Counter)  # device path -> count
    sockets: Counter[str] = field(default_factory=Counter)  # "bind PATH" / "connect @NAME" -> count
    errors: list[str] = field(default_factory=list)


class Supervisor(threading.Thread):
    """Attach to the first child of ``zygote_pid`` that holds a seccomp listener; record until it exits."""

    def __init__(self, zygote_pid: int, allow: frozenset[str] = frozenset()) -> None:
        super().__init__(daemon=True, name="trace-supervisor")
        self.zygote_pid, self.allow = zygote_pid, allow
        self.program: list[tuple[int, int | str, int | str, int]] = []
        self.trace = Trace()
        self.names = syscall_names()
        self.stop = threading.Event()
        self.attached = threading.Event()

    def _find(self) -> tuple[int, int] | None:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    if int(f.read().rsplit(b")", 1)[1].split()[1]) != self.zygote_pid:
                        continue
                for fd in os.listdir(f"/proc/{entry}/fd"):
                    if os.readlink(f"/proc/{entry}/fd/{fd}") == "anon_inode:seccomp notify":
                        return int(entry), int(fd)
            except (OSError, ValueError, IndexError):
                continue
        return None

    def run(self) -> None:
        found = None
        while found is None and not self.stop.is_set():
            found = self._find()
            if found is None:
                time.sleep(0.002)
        if found is None:
            return
        pid, remote = found
        self.program = isolation.seccomp_program("x86_64", pid, self.allow)  # the worker's own filter
        pidfd = os.pidfd_open(pid)
        listener = int(_libc.syscall(SYS_PIDFD_GETFD, pidfd, remote, 0))
        if listener < 0:
            self.trace.errors.append(f"pidfd_getfd failed: {os.strerror(ctypes.get_errno())}")
            return
        self.attached.set()
        poller = select.poll()
        poller.register(listener, select.POLLIN)
        try:
            while not self.stop.is_set():
                events = poller.poll(200)
                if any(ev & (select.POLLHUP | select.POLLERR) for _, ev in events):
                    return
                if not events:
                    continue
                buf = bytearray(NOTIF.size)
                try:
                    fcntl.ioctl(listener, NOTIF_RECV, buf, True)
                except OSError:
                    continue
                ident, tid, _, nr, arch, _, *args = NOTIF.unpack(buf)
                try:
                    self._record(tid, nr, arch, args)
                except Exception as exc:  # noqa: BLE001 - a diagnostic must not stall the traced worker
                    self.trace.errors.append(f"recording {nr}: {exc!r}")
                with contextlib.suppress(OSError):
                    fcntl.ioctl(listener, NOTIF_SEND, bytearray(RESP.pack(ident, 0, 0, FLAG_CONTINUE)), True)
        finally:
            os.close(listener)
            os.close(pidfd)

    def _record(self, tid: int, nr: int, arch: int, args: list[int]) -> None:
        name = self.names.get(nr, f"syscall_{nr}")
        self.trace.calls[name] += 1
        if self.program:
            ret = run_bpf(self.program, nr, arch, args)
            if ret != isolation.RET_ALLOW:
                shown = ", ".join(hex(a) for a in args[:3])
                self.trace.refused[f"{name}({shown}) -> {verdict(ret)}"] += 1
        if name in ("bind", "connect"):  # where a unix socket goes: a path, or an abstract name (@…)
            data = _read_bytes(tid, args[1], min(args[2], 110))
            if data and int.from_bytes(data[:2], "little") == 1:
                where = data[2:].split(b"\0", 1)[0] if data[2:3] != b"\0" else b"@" + data[3:].rstrip(b"\0")
                self.trace.sockets[f"{name} {where.decode(errors='replace')}"] += 1
            return
        if name == "ioctl":
            target = _fd_path(tid, args[0])
            if target.startswith("/dev/"):
                self.trace.ioctls[f"{target} request {args[1]:#x}"] += 1
            return
        if name not in PATH_ARG:
            return
        dirfd_at, path_at = PATH_ARG[name]
        path = _read_string(tid, args[path_at])
        if path is None:
            return
        if not path.startswith("/"):
            base = _fd_path(tid, args[dirfd_at]) if dirfd_at is not None and _signed(args[dirfd_at]) != AT_FDCWD \
                else _readlink(f"/proc/{tid}/cwd")
            path = os.path.join(base, path)
        self.trace.accesses.append(Access(name, *_rights(name, args, path)))


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"


def _fd_path(tid: int, fd: int) -> str:
    return _readlink(f"/proc/{tid}/fd/{_signed(fd)}")


def _read_bytes(tid: int, address: int, size: int) -> bytes | None:
    try:
        with open(f"/proc/{tid}/mem", "rb", buffering=0) as mem:
            mem.seek(address)
            return mem.read(size)
    except (OSError, ValueError, OverflowError):
        return None


def _read_string(tid: int, address: int) -> str | None:
    try:
        with open(f"/proc/{tid}/mem", "rb", buffering=0) as mem:
            mem.seek(address)
            data = mem.read(4096 - address % 4096) or b""
            if b"\0" not in data:
                data += mem.read(4096) or b""
    except (OSError, ValueError, OverflowError):
        return None
    return data.split(b"\0", 1)[0].decode(errors="replace")


FS = {name: 1 << bit for bit, name in enumerate((
    "execute", "write_file", "read_file", "read_dir", "remove_dir", "remove_file", "make_char", "make_dir",
    "make_reg", "make_sock", "make_fifo", "make_block", "make_sym", "refer", "truncate", "ioctl_dev"))}
ON_PARENT = {"mkdir": "make_dir", "mkdirat": "make_dir", "mknod": "make_reg", "mknodat": "make_reg",
             "unlink": "remove_file", "unlinkat": "remove_file", "rmdir": "remove_dir", "rename": "make_reg",
             "renameat": "make_reg", "renameat2": "make_reg", "symlink": "make_sym", "symlinkat": "make_sym"}


def _rights(name: str, args: list[int], path: str) -> tuple[str, int]:
    """(where, Landlock rights needed) for one call on ``path``, as the kernel checks them."""
    if name in ON_PARENT:
        return os.path.dirname(path.rstrip("/")) or "/", FS[ON_PARENT[name]]
    if name in ("execve", "execveat"):
        return path, FS["execute"]
    if name == "truncate":
        return path, FS["truncate"]
    if name not in ("open", "openat", "openat2", "creat"):
        return path, 0  # stat, access, readlink, chdir, …: Landlock does not check these
    flags = 0o1101 if name == "creat" else args[1] if name == "open" else args[2] if name == "openat" else 0
    if flags & O_PATH:
        return path, 0
    mode = flags & O_ACCMODE
    needed = (FS["write_file"] if mode in (O_WRONLY, O_RDWR) else 0) | (FS["truncate"] if flags & O_TRUNC else 0)
    if mode in (0, O_RDWR):
        needed |= FS["read_dir"] if flags & O_DIRECTORY or os.path.isdir(path) else FS["read_file"]
    if flags & O_CREAT and not os.path.exists(path):
        return os.path.dirname(path) or "/", FS["make_reg"]
    return path, needed


def describe(rights: int) -> str:
    return "+".join(name for name, bit in FS.items() if rights & bit) or "none"


@dataclass(frozen=True)
class Grants:
    """The Landlock rules a worker gets, as (path, rights) pairs (``Sandbox.worker_grants``).  A path gets
    the union of the rights of every rule on it or on a directory above it, as in the kernel."""

    rules: tuple[tuple[str, int], ...]

    def missing(self, path: str, needed: int) -> int:
        """The rights ``needed`` that no rule grants at ``path`` (0: allowed)."""
        if not needed:
            return 0
        real = path if path.startswith("/proc/") else os.path.realpath(path)
        granted = 0
        for root, rights in self.rules:
            if real == root or real.startswith(root.rstrip("/") + "/"):
                granted |= rights
        return needed & ~granted


def refused_accesses(trace: Trace, grants: Grants) -> Counter[str]:
    found: Counter[str] = Counter()
    for access in trace.accesses:
        missing = grants.missing(access.path, access.rights)
        if missing:
            path = re.sub(r"/proc/\d+/", "/proc/<pid>/", access.path)
            found[f"{describe(missing):11} {path}  ({access.call})"] += 1
    for line, count in trace.ioctls.items():
        if grants.missing(line.split(" request ")[0], FS["ioctl_dev"]):
            found[f"ioctl_dev   {line}"] += count
    return found


def report(trace: Trace, grants: Grants | None, out: list[str], verbose: bool = False) -> None:
    out.append(f"   {sum(trace.calls.values())} traced calls: "
               + ", ".join(f"{n}×{c}" for n, c in trace.calls.most_common()))
    out.append("   seccomp would refuse:" + ("" if trace.refused else " nothing"))
    out += [f"     {count:5} × {call}" for call, count in trace.refused.most_common()]
    if grants is not None:
        refused = refused_accesses(trace, grants)
        out.append("   Landlock would refuse:" + ("" if refused else " nothing"))
        out += [f"     {count:5} × {line}" for line, count in sorted(refused.items())]
    out.append("   unix sockets: " + (", ".join(f"{k} ×{v}" for k, v in trace.sockets.items()) or "none"))
    if verbose:
        out += [f"   access: {describe(a.rights):11} {a.path}  ({a.call})" for a in trace.accesses]
    out.append("   device ioctls: " + (", ".join(f"{k} ×{v}" for k, v in trace.ioctls.most_common(8)) or "none"))
    out += [f"   supervisor error: {e}" for e in trace.errors[:5]]


CANARY_SOURCE = (
    "import torch\n"
    "def probe():\n"
    "    x = torch.arange(4.0, device='cuda')\n"
    "    return float((x * 2).sum().item()), torch.cuda.get_device_name(0)\n"
)


def parse_variant(text: str) -> dict[str, list[str]]:
    """``read=PATH,write=PATH,device=PATH,syscall=NAME`` (repeatable keys) → extra CUDA grants."""
    extra: dict[str, list[str]] = {k: [] for k in ("read", "write", "device", "syscall", "noread", "nosyscall",
                                                   "scopes")}
    for item in filter(None, (part.strip() for part in text.split(";"))):
        key, _, value = item.partition("=")
        if key not in extra or not value:
            raise SystemExit(f"--variant item {item!r}: expected {'=, '.join(extra)}= with a value")
        extra[key].append(value)
    return extra


def _canary(device: str, source: str, trace_landlock: bool | None, lines: list[str],
            extra: dict[str, list[str]] | None = None) -> bool:
    """Run ``probe()`` of ``source`` in one job (traced unless ``trace_landlock`` is None), with the CUDA
    grants widened by ``extra`` if given; report."""
    from dataclasses import replace

    from grader.sandbox import Job, Limits, Request, Sandbox
    from grader.sandbox.policy import Policy

    with tempfile.TemporaryDirectory(prefix="optigrade-trace-") as tmp:
        os.chmod(tmp, 0o755)
        module = Path(tmp) / "canary.py"
        module.write_text(source)
        os.chmod(module, 0o644)

        class Traced(Sandbox):
            def _build_policy(self, device: str) -> Policy:
                built = super()._build_policy(device)
                if not extra:
                    return built
                return replace(built, cuda_read=[p for p in built.cuda_read if p not in extra["noread"]]
                               + extra["read"], cuda_write=built.cuda_write + extra["write"],
                               cuda_devices=built.cuda_devices + extra["device"],
                               cuda_syscalls=[c for c in built.cuda_syscalls if c not in extra["nosyscall"]]
                               + extra["syscall"])

        Traced.trace_landlock = trace_landlock
        if extra and extra["scopes"]:  # Landlock scopes kept: signal, socket, both or none
            Traced.trace_scopes = sum({"signal": isolation.SCOPE_SIGNAL, "socket": isolation.SCOPE_ABSTRACT_UNIX_SOCKET,
                                       "both": isolation.SCOPE_SIGNAL | isolation.SCOPE_ABSTRACT_UNIX_SOCKET,
                                       "none": 0}[v] for v in extra["scopes"])
        with Traced(device=device, limits=Limits(wall_s=300, cpu_s=300)) as box:
            pid = box.zygote_pid
            assert pid is not None
            supervisor = Supervisor(pid, frozenset(box.policy.cuda_syscalls if device == "cuda" else ()))
            if trace_landlock is not None:
                supervisor.start()
            started = time.monotonic()
            result = box.run(Job(module, "probe", [Request()], device=device))
            seconds = time.monotonic() - started
            supervisor.stop.set()
            if trace_landlock is not None:
                supervisor.join(5)
            grants = Grants(tuple(box.worker_grants(device)))
    reply = result.replies[0] if result.replies else None
    how = "as graded" if trace_landlock is None else f"traced, Landlock {'on' if trace_landlock else 'off'}"
    if extra:
        how += ", plus " + "; ".join(f"{k}={v}" for k, vs in extra.items() for v in vs)
    lines.append(f"== canary ({device}, {how}): {result.status} in {seconds:.2f} s; "
                 f"value={getattr(reply, 'value', None)!r} raised={getattr(reply, 'raised', None)!r}")
    if result.status != "ok":
        lines.append(f"   detail: {result.detail}\n   stderr: {result.stderr[-1500:]}")
    if trace_landlock is not None:
        report(supervisor.trace, grants, lines, verbose=trace_landlock)
    return result.status == "ok" and reply is not None and reply.raised is None


def kernel_log(lines: list[str]) -> None:
    """Landlock (ABI ≥ 7) and seccomp write audit records; without auditd they reach the kernel log."""
    try:
        with open("/dev/kmsg", "rb", buffering=0) as kmsg:
            os.set_blocking(kmsg.fileno(), False)
            found = []
            while True:
                try:
                    record = kmsg.read(8192)
                except (BlockingIOError, OSError):
                    break
                if not record:
                    break
                text = record.decode(errors="replace")
                if any(tag in text for tag in ("landlock", "type=1326", "type=1423", "type=1424")):
                    found.append(text.split(";", 1)[-1].strip())
    except OSError as exc:
        lines.append(f"== kernel log: unreadable ({exc.strerror})")
        return
    lines.append(f"== kernel log: {len(found)} Landlock/seccomp records" + ("" if found else " (no audit?)"))
    lines += [f"   {t[:300]}" for t in found[-40:]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.sandbox.trace", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--source", type=Path, help="module to run instead of the CUDA canary (function probe)")
    parser.add_argument("--variant", action="append", default=[], metavar="GRANTS",
                        help="also try the canary with these extra CUDA grants, e.g. "
                             "'read=/proc/sys/vm/mmap_min_addr;syscall=socket(AF_UNIX, SOCK_SEQPACKET)'")
    ns = parser.parse_args(argv)
    if os.getuid() != 0 or platform.machine() != "x86_64":
        print("the tracer needs root on x86_64 (it reads the worker's memory)", file=sys.stderr)
        return 2
    source = ns.source.read_text() if ns.source else CANARY_SOURCE
    lines: list[str] = []
    ok = _canary(ns.device, source, None, lines)
    for variant in ns.variant:
        _canary(ns.device, source, None, lines, parse_variant(variant))
    if not ok:  # find out why: everything let through and recorded, without and with Landlock
        for landlock in (False, True):
            _canary(ns.device, source, landlock, lines)
        kernel_log(lines)
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
