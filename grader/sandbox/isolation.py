"""Kernel isolation for one worker child: namespaces, Landlock, rlimits, uid drop, seccomp.

Everything here is called in the forked child *before* student code is imported, in this order
(see ``zygote._child``): ``enter_namespaces`` (root only) → ``landlock_ruleset`` → ``set_rlimits`` →
``drop_privileges`` → ``lock_down`` (no_new_privs, not dumpable) → ``landlock_restrict`` →
``install_seccomp``.  ``probe`` runs in the trusted process to fail closed with a useful message.
All syscalls go through ctypes so the project needs no compiled helper.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import resource
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from grader.sandbox.policy import UNIX_SEQPACKET  # an allow entry: socket(AF_UNIX, SOCK_SEQPACKET) only

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int
_libc.mount.restype = ctypes.c_int
_libc.unshare.restype = ctypes.c_int

# Landlock (include/uapi/linux/landlock.h); the syscall numbers are the same on every architecture.
SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_REFER, FS_TRUNCATE, FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1
FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
READ_RIGHTS = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR

PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_SECCOMP, PR_SET_NO_NEW_PRIVS = 1, 4, 22, 38
PR_SET_CHILD_SUBREAPER, PR_GET_SECCOMP = 36, 21
SECCOMP_MODE_FILTER = 2
CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWUSER, CLONE_THREAD = 0x00020000, 0x40000000, 0x10000000, 0x00010000
CLONE_NAMESPACES = 0x7E020000  # NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18


class IsolationError(OSError):
    """A kernel isolation step failed; the message names the step and the errno."""


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise IsolationError(err, f"{what} failed: {os.strerror(err)} (errno {err})")
    return result


def prctl(option: int, arg: int = 0, what: str = "prctl") -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), what)


# ----------------------------------------------------------------------------------- seccomp


@dataclass(frozen=True)
class _Arch:
    audit: int
    syscalls: dict[str, int]


# Denied with EPERM.  Landlock does not cover metadata changes (chmod/chown/utime/xattrs), nor
# truncate(path) before ABI 3, which matter when the worker shares the instructor's uid.
_DENY_WORDS = """
    ptrace process_vm_readv process_vm_writev bpf perf_event_open userfaultfd keyctl add_key request_key
    mount umount2 unshare setns pivot_root chroot kexec_load kexec_file_load init_module finit_module
    delete_module open_by_handle_at name_to_handle_at io_uring_setup io_uring_enter io_uring_register
    pidfd_open pidfd_send_signal pidfd_getfd open_tree move_mount fsopen fsconfig fsmount fspick
    mount_setattr kcmp personality acct swapon swapoff reboot sethostname setdomainname quotactl syslog
    vhangup migrate_pages move_pages process_madvise tkill execve execveat fork vfork capset
    chmod fchmod fchmodat fchmodat2 chown fchown lchown fchownat utime utimes utimensat futimesat
    setxattr lsetxattr fsetxattr removexattr lremovexattr fremovexattr truncate ioprio_set
"""
# Calls that take a pid and change that process: allowed on the worker itself (pid 0 or its own) only.
# Without root every worker, the zygote and the grader share one (kernel) uid, and a same-uid caller
# may e.g. prlimit64(grader, RLIMIT_CPU, 1) or sched_setscheduler(another student's worker, SCHED_IDLE).
_SELF_ONLY = ("prlimit64", "sched_setaffinity", "sched_setscheduler", "sched_setparam", "sched_setattr")
PRIO_PROCESS = 0
_COMMON_DENY = tuple(_DENY_WORDS.split())


def _table(spec: str) -> dict[str, int]:
    return {name: int(nr) for name, nr in (item.split("=") for item in spec.split())}


_ARCHES = {
    "x86_64": _Arch(
        0xC000003E,
        _table("""
        clone=56 clone3=435 socket=41 kill=62 tgkill=234 rt_sigqueueinfo=129 rt_tgsigqueueinfo=297
        fork=57 vfork=58 execve=59 execveat=322 ptrace=101 process_vm_readv=310 process_vm_writev=311
        bpf=321 perf_event_open=298 userfaultfd=323 keyctl=250 add_key=248 request_key=249 mount=165
        umount2=166 unshare=272 setns=308 pivot_root=155 chroot=161 kexec_load=246 kexec_file_load=320
        init_module=175 finit_module=313 delete_module=176 open_by_handle_at=304 name_to_handle_at=303
        io_uring_setup=425 io_uring_enter=426 io_uring_register=427 pidfd_open=434 pidfd_send_signal=424
        pidfd_getfd=438 open_tree=428 move_mount=429 fsopen=430 fsconfig=431 fsmount=432 fspick=433
        mount_setattr=442 kcmp=312 personality=135 acct=163 swapon=167 swapoff=168 reboot=169
        sethostname=170 setdomainname=171 quotactl=179 syslog=103 vhangup=153 migrate_pages=256
        move_pages=279 process_madvise=440 tkill=200 prctl=157 capset=126 truncate=76 chmod=90 fchmod=91
        fchmodat=268 fchmodat2=452 chown=92 fchown=93 lchown=94 fchownat=260 utime=132 utimes=235
        utimensat=280 futimesat=261 setxattr=188 lsetxattr=189 fsetxattr=190 removexattr=197 lremovexattr=198
        fremovexattr=199 ioprio_set=251 prlimit64=302 setpriority=141 sched_setaffinity=203
        sched_setscheduler=144 sched_setparam=142 sched_setattr=314"""),
    ),
    # Untested here (no arm64 machine); numbers from the generic syscall table. No fork/vfork.
    "aarch64": _Arch(
        0xC00000B7,
        _table("""
        clone=220 clone3=435 socket=198 kill=129 tgkill=131 rt_sigqueueinfo=138 rt_tgsigqueueinfo=240
        execve=221 execveat=281 ptrace=117 process_vm_readv=270 process_vm_writev=271 bpf=280
        perf_event_open=241 userfaultfd=282 keyctl=219 add_key=217 request_key=218 mount=40 umount2=39
        unshare=97 setns=268 pivot_root=41 chroot=51 kexec_load=104 kexec_file_load=294 init_module=105
        finit_module=273 delete_module=106 open_by_handle_at=265 name_to_handle_at=264 io_uring_setup=425
        io_uring_enter=426 io_uring_register=427 pidfd_open=434 pidfd_send_signal=424 pidfd_getfd=438
        open_tree=428 move_mount=429 fsopen=430 fsconfig=431 fsmount=432 fspick=433 mount_setattr=442
        kcmp=272 personality=92 acct=89 swapon=224 swapoff=225 reboot=142 sethostname=161
        setdomainname=162 quotactl=60 syslog=116 vhangup=58 migrate_pages=238 move_pages=239
        process_madvise=440 tkill=130 prctl=167 capset=91 truncate=45 fchmod=52 fchmodat=53 fchmodat2=452
        fchownat=54 fchown=55 utimensat=88 setxattr=5 lsetxattr=6 fsetxattr=7 removexattr=14
        lremovexattr=15 fremovexattr=16 ioprio_set=30 prlimit64=261 setpriority=140 sched_setaffinity=122
        sched_setscheduler=119 sched_setparam=118 sched_setattr=274"""),
    ),
}

_LD_W_ABS, _JEQ, _JGE, _JSET, _RET, _AND = 0x20, 0x15, 0x35, 0x45, 0x06, 0x54
AF_UNIX, SOCK_SEQPACKET, SOCK_TYPE_MASK = 1, 5, 0xF
RET_KILL_PROCESS, RET_ALLOW = 0x80000000, 0x7FFF0000


def _errno(code: int) -> int:
    return 0x00050000 | code


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def seccomp_program(arch: str, own_pid: int, allow: frozenset[str] = frozenset()
                    ) -> list[tuple[int, int | str, int | str, int]]:
    """The filter as (code, jt, jf, k); jt/jf are label names or 0.  Kept separate for tests.

    ``allow`` names calls that this filter lets through although the policy below refuses them
    (a CUDA job's grants, ``policy.CUDA_SYSCALLS``); each must be a name the policy mentions.

    Policy: wrong audit arch → kill; x32 syscalls → kill; clone only with CLONE_THREAD and no
    namespace flags (threads yes, processes no); clone3 → ENOSYS so glibc falls back to clone;
    socket → EACCES (no network, no unix sockets); kill/tgkill/sigqueue only to itself;
    prlimit64/sched_set* only on pid 0 or itself, setpriority only PRIO_PROCESS on itself; the
    process-, kernel- and namespace-level calls in _COMMON_DENY → EPERM; prctl(PR_SET_PDEATHSIG)
    → EPERM; everything else allowed.
    """
    table = _ARCHES[arch]
    nr = table.syscalls
    unknown = allow - set(nr) - {UNIX_SEQPACKET}
    if unknown:
        raise IsolationError(errno.EINVAL, f"seccomp allow-list names calls the policy does not know: "
                                           f"{sorted(unknown)}")
    prog: list[tuple[int, int | str, int | str, int]] = [
        (_LD_W_ABS, 0, 0, 4),
        (_JEQ, 1, 0, table.audit),
        (_RET, 0, 0, RET_KILL_PROCESS),
        (_LD_W_ABS, 0, 0, 0),
    ]
    if arch == "x86_64":
        prog += [(_JGE, "die", 0, 0x40000000)]
    prog += [
        (_JEQ, "clone", 0, nr["clone"]),
        (_JEQ, "enosys", 0, nr["clone3"]),
    ]
    rules = [("socket", "unix_seqpacket" if UNIX_SEQPACKET in allow else "eacces")]
    rules += [(name, "self") for name in ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")]
    rules += [(name, "self_or_0") for name in _SELF_ONLY]
    rules += [("setpriority", "setpriority"), ("prctl", "prctl")]
    rules += [(name, "eperm") for name in _COMMON_DENY if name in nr]
    prog += [(_JEQ, label, 0, nr[name]) for name, label in rules if name not in allow]
    prog.append((_RET, 0, 0, RET_ALLOW))  # not listed: allowed
    Insn = tuple[int, int | str, int | str, int]
    labels: dict[str, list[Insn]] = {
        "clone": [
            (_LD_W_ABS, 0, 0, 16),
            (_JSET, 0, "eperm", CLONE_THREAD),
            (_JSET, "eperm", "allow", CLONE_NAMESPACES),
        ],
        "self": [(_LD_W_ABS, 0, 0, 16), (_JEQ, "allow", "eperm", own_pid & 0xFFFFFFFF)],
        "self_or_0": [(_LD_W_ABS, 0, 0, 16), (_JEQ, "allow", 0, 0), (_JEQ, "allow", "eperm", own_pid & 0xFFFFFFFF)],
        # setpriority(which, who, prio): PRIO_PGRP/PRIO_USER would reach every process of the uid.
        "setpriority": [(_LD_W_ABS, 0, 0, 16), (_JEQ, 0, "eperm", PRIO_PROCESS), (_LD_W_ABS, 0, 0, 24),
                        (_JEQ, "allow", 0, 0), (_JEQ, "allow", "eperm", own_pid & 0xFFFFFFFF)],
        # Keep the parent-death signal: a worker must die with its zygote.
        "prctl": [(_LD_W_ABS, 0, 0, 16), (_JEQ, "eperm", "allow", PR_SET_PDEATHSIG)],
        # socket(AF_UNIX, SOCK_SEQPACKET [| flags], …) only: no network, no stream or datagram socket.
        "unix_seqpacket": [(_LD_W_ABS, 0, 0, 16), (_JEQ, 0, "eacces", AF_UNIX), (_LD_W_ABS, 0, 0, 24),
                           (_AND, 0, 0, SOCK_TYPE_MASK), (_JEQ, "allow", "eacces", SOCK_SEQPACKET)],
        "allow": [(_RET, 0, 0, RET_ALLOW)],  # every jump is forward, so shared returns come last
        "enosys": [(_RET, 0, 0, _errno(errno.ENOSYS))],
        "eacces": [(_RET, 0, 0, _errno(errno.EACCES))],
        "eperm": [(_RET, 0, 0, _errno(errno.EPERM))],
        "die": [(_RET, 0, 0, RET_KILL_PROCESS)],
    }
    out: list[tuple[int, int | str, int | str, int]] = list(prog)
    where: dict[str, int] = {}
    for label, body in labels.items():
        where[label] = len(out)
        out += body
    resolved: list[tuple[int, int | str, int | str, int]] = []
    for i, (code, jt, jf, k) in enumerate(out):
        offsets = [where[j] - i - 1 if isinstance(j, str) else j for j in (jt, jf)]
        if any(not 0 <= o <= 255 for o in offsets):
            raise IsolationError(errno.EINVAL, f"seccomp jump out of range at instruction {i}")
        resolved.append((code, offsets[0], offsets[1], k))
    return resolved


class SeccompFilter:
    """The filter, built once (in the zygote); ``install`` patches in the child's pid and loads it."""

    _PLACEHOLDER = 0x7FFFFFFE

    def __init__(self, allow: frozenset[str] = frozenset()) -> None:
        arch = platform.machine()
        if arch not in _ARCHES:
            raise IsolationError(errno.ENOSYS, f"no seccomp table for architecture {arch!r}")
        prog = seccomp_program(arch, self._PLACEHOLDER, allow)
        self._pid_slots = [i for i, insn in enumerate(prog) if insn[3] == self._PLACEHOLDER]
        self._filters = (_SockFilter * len(prog))(*[_SockFilter(c, int(t), int(f), k) for c, t, f, k in prog])
        self._fprog = _SockFprog(len(prog), self._filters)

    def install(self, own_pid: int) -> None:
        """Load the filter into this (single-threaded, no_new_privs) process."""
        for i in self._pid_slots:
            self._filters[i].k = own_pid & 0xFFFFFFFF
        _check(
            _libc.prctl(PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(self._fprog), 0, 0),
            "prctl(PR_SET_SECCOMP)",
        )


def install_seccomp(own_pid: int) -> None:
    """Build and load the filter in one go (the zygote uses a prebuilt ``SeccompFilter``)."""
    SeccompFilter().install(own_pid)


# Diagnostics only (grader/sandbox/trace.py): instead of refusing, every call but these frequent,
# always-allowed ones is handed to a supervisor, which records it and lets it run.  This lists what a
# library (CUDA) asks of the kernel without opening the box: the supervisor judges each call with the
# real filter and the real Landlock rules.
SYS_SECCOMP = {"x86_64": 317}
SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER = 1, 1 << 3
RET_USER_NOTIF = 0x7FC00000
_QUIET = {"x86_64": _table("""
    read=0 write=1 close=3 fstat=5 poll=7 lseek=8 mmap=9 mprotect=10 munmap=11 brk=12 rt_sigaction=13
    rt_sigprocmask=14 rt_sigreturn=15 pread64=17 pwrite64=18 readv=19 writev=20 select=23 sched_yield=24
    mremap=25 madvise=28 nanosleep=35 getpid=39 exit=60 getuid=102 getgid=104 geteuid=107 getegid=108
    sigaltstack=131 gettid=186 futex=202 sched_getaffinity=204 clock_gettime=228 clock_nanosleep=230
    exit_group=231 epoll_wait=232 pselect6=270 ppoll=271 set_robust_list=273 epoll_pwait=281
    getrandom=318 rseq=334""")}


def trace_program(arch: str) -> list[tuple[int, int, int, int]]:
    """A filter that hands every call but ``_QUIET`` ones to the listener (SECCOMP_RET_USER_NOTIF)."""
    if arch not in _QUIET:
        raise IsolationError(errno.ENOSYS, f"tracing is implemented for x86_64 only, not {arch!r}")
    quiet = sorted(_QUIET[arch].values())
    prog = [(_LD_W_ABS, 0, 0, 4), (_JEQ, 1, 0, _ARCHES[arch].audit), (_RET, 0, 0, RET_KILL_PROCESS),
            (_LD_W_ABS, 0, 0, 0)]
    for i, number in enumerate(quiet):
        prog.append((_JEQ, len(quiet) - i, 0, number))  # → the RET_ALLOW after the notify
    return prog + [(_RET, 0, 0, RET_USER_NOTIF), (_RET, 0, 0, RET_ALLOW)]


def install_trace_filter() -> int:
    """Load the tracing filter into this (no_new_privs) process; returns the listener fd."""
    arch = platform.machine()
    prog = trace_program(arch)
    filters = (_SockFilter * len(prog))(*[_SockFilter(c, t, f, k) for c, t, f, k in prog])
    fprog = _SockFprog(len(prog), filters)
    return _check(int(_libc.syscall(SYS_SECCOMP[arch], ctypes.c_uint(SECCOMP_SET_MODE_FILTER),
                                    ctypes.c_uint(SECCOMP_FILTER_FLAG_NEW_LISTENER), ctypes.byref(fprog))),
                  "seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER)")


# ----------------------------------------------------------------------------------- Landlock


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, or 0 when Landlock is unavailable."""
    result = _libc.syscall(
        SYS_LANDLOCK_CREATE_RULESET,
        None,
        ctypes.c_size_t(0),
        ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION),
    )
    return max(int(result), 0)


def _handled_fs(abi: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: EXECUTE … MAKE_SYM
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def rights(abi: int) -> dict[str, int]:
    """Named access masks for this ABI: read, list (directory listing only), device, write."""
    handled = _handled_fs(abi)
    return {
        "read": READ_RIGHTS,
        "list": FS_READ_DIR,
        "device": FS_READ_FILE | FS_WRITE_FILE | FS_IOCTL_DEV,
        "write": handled & ~FS_EXECUTE,
    }


def own_proc_rights(named: dict[str, int], cuda: bool) -> int:
    """A worker's rights on its own /proc entry.  A CUDA job's may also write with truncation: CUDA's
    start writes its helper threads' names to /proc/self/task/<tid>/comm opened with O_TRUNC and fails
    with error 304 when that is refused (bisected on an H200: write without truncate still failed)."""
    return named["read"] | (FS_WRITE_FILE | FS_TRUNCATE if cuda else 0)


def landlock_ruleset(abi: int, rules: Iterable[tuple[int, int]],
                     scopes: int = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL) -> int:
    """A ruleset fd allowing ``rights`` beneath each ``(fd, rights)``; every other filesystem access is
    denied, TCP bind/connect denied (ABI ≥ 4), signals and abstract unix sockets scoped (ABI ≥ 6;
    ``scopes``: fewer only for diagnostics)."""
    handled = _handled_fs(abi)
    attr = _RulesetAttr(
        handled,
        (NET_BIND_TCP | NET_CONNECT_TCP) if abi >= 4 else 0,
        scopes if abi >= 6 else 0,
    )
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = _check(
        int(_libc.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))),
        "landlock_create_ruleset",
    )
    for fd, allowed in rules:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            allowed &= FILE_RIGHTS
        if not allowed & handled:
            continue
        rule = _PathBeneathAttr(allowed & handled, fd)
        _check(
            int(
                _libc.syscall(
                    SYS_LANDLOCK_ADD_RULE,
                    ctypes.c_int(ruleset),
                    ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH),
                    ctypes.byref(rule),
                    ctypes.c_uint32(0),
                )
            ),
            "landlock_add_rule",
        )
    return ruleset


def landlock_restrict(ruleset: int) -> None:
    _check(
        int(_libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0))),
        "landlock_restrict_self",
    )
    os.close(ruleset)


def open_paths(paths: Iterable[str]) -> list[int]:
    """O_PATH fds for the paths that exist (missing optional paths are skipped)."""
    fds = []
    for path in paths:
        try:
            fds.append(os.open(path, os.O_PATH | os.O_CLOEXEC))
        except OSError:
            continue
    return fds


# ------------------------------------------------------------------------- namespaces (root only)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = [None if s is None else s.encode() for s in (source, target, fstype, data)]
    _check(_libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]), f"mount({source!r} on {target!r})")


def hidden_ancestor(path: str) -> str | None:
    """The topmost ancestor of ``path`` that other users cannot traverse (e.g. a 0700 home)."""
    parts = os.path.abspath(path).split("/")[1:]
    for i in range(1, len(parts)):
        ancestor = "/" + "/".join(parts[:i])
        try:
            if not os.stat(ancestor).st_mode & stat.S_IXOTH:
                return ancestor
        except OSError:
            return None
    return None


def enter_namespaces(tmp_dir: str, tmp_mb: int, uid: int, gid: int, read_paths: Sequence[str]) -> None:
    """New network and mount namespace (needs root): no network at all, a size-capped tmpfs for the
    job's tmp dir, and every non-traversable ancestor of a needed path (the instructor's 0700 home that
    holds a pyenv Python) replaced by an empty tmpfs holding only read-only binds of the needed paths."""
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare(CLONE_NEWNS|CLONE_NEWNET)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", tmp_dir, "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmp_mb}m,mode=0700,uid={uid},gid={gid}")
    groups: dict[str, list[str]] = {}
    for path in read_paths:
        ancestor = hidden_ancestor(path)
        if ancestor is not None and os.path.exists(path):
            groups.setdefault(ancestor, []).append(path)
    for ancestor, paths in groups.items():
        fds = {p: os.open(p, os.O_PATH | os.O_CLOEXEC) for p in paths}
        _mount("tmpfs", ancestor, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
        for path, fd in fds.items():
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                os.makedirs(path, mode=0o755, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o444))
            _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
            _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
            os.close(fd)


def enter_user_namespace(tmp_dir: str, tmp_mb: int) -> None:
    """Without root: a new user, mount and network namespace (uid mapped to itself), so the job gets
    no network, a size-capped tmpfs, and an RLIMIT_NPROC count of its own.  Raises IsolationError
    when the kernel refuses (e.g. Ubuntu's AppArmor userns restriction); the zygote probes first."""
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET), "unshare(CLONE_NEWUSER|NEWNS|NEWNET)")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", tmp_dir, "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmp_mb}m,mode=0700")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> None:
    """Clear every capability (a new user namespace grants a full set inside it)."""
    nr = {"x86_64": 126, "aarch64": 91}.get(platform.machine())
    if nr is None:
        raise IsolationError(errno.ENOSYS, f"no capset number for {platform.machine()}")
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(int(_libc.syscall(nr, ctypes.byref(header), ctypes.byref(data))), "capset (drop all)")


# ------------------------------------------------------------------------------ limits and uid


@dataclass(frozen=True)
class ChildLimits:
    cpu_s: int
    address_space_mb: int | None  # None: unlimited (CUDA reserves huge virtual ranges)
    nproc: int
    file_size_mb: int
    open_files: int
    # RLIMIT_DATA (private writable memory): a CUDA job's memory cap instead of RLIMIT_AS, which CUDA's
    # PROT_NONE reservations and shared device mappings would exhaust; None: unlimited.
    data_mb: int | None = None
    # RLIMIT_CPU's hard limit when above ``cpu_s`` (the soft one): a job of several functions, whose
    # worker moves the soft limit on by ``cpu_s`` per function (worker.Segments); None: soft = hard.
    cpu_hard_s: int | None = None


def set_rlimits(limits: ChildLimits) -> None:
    mb = 1 << 20
    address_space = resource.RLIM_INFINITY if limits.address_space_mb is None else limits.address_space_mb * mb
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, max(limits.cpu_s, limits.cpu_hard_s or 0)))
    for which, value in (  # soft = hard (RLIMIT_CPU too, for one function: the kernel SIGKILLs at the limit)
        (resource.RLIMIT_AS, address_space),
        (resource.RLIMIT_DATA, resource.RLIM_INFINITY if limits.data_mb is None else limits.data_mb * mb),
        (resource.RLIMIT_NPROC, limits.nproc),
        (resource.RLIMIT_FSIZE, limits.file_size_mb * mb),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_MEMLOCK, 0),
        (resource.RLIMIT_MSGQUEUE, 0),
    ):
        resource.setrlimit(which, (value, value))


def tasks_of_uid(uid: int) -> int:
    """Threads currently owned by ``uid`` (RLIMIT_NPROC counts them all when we cannot change uid)."""
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                continue
    return count


def drop_privileges(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getuid() == 0 or os.geteuid() == 0:
        raise IsolationError(errno.EPERM, "still root after setresuid")
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise IsolationError(errno.EPERM, "could regain root after dropping privileges")


def lock_down(dumpable: bool) -> None:
    prctl(PR_SET_NO_NEW_PRIVS, 1, "prctl(PR_SET_NO_NEW_PRIVS)")
    if not dumpable:
        prctl(PR_SET_DUMPABLE, 0, "prctl(PR_SET_DUMPABLE, 0)")


# ------------------------------------------------------------------------------------- probe


def probe() -> tuple[list[str], list[str]]:
    """(features available, problems) for this machine; problems name what is missing and the fix."""
    features: list[str] = []
    problems: list[str] = []
    arch = platform.machine()
    if arch in _ARCHES:
        features.append(f"seccomp-{arch}")
    else:
        problems.append(
            f"no seccomp syscall table for CPU architecture {arch!r} (supported: x86_64, aarch64); "
            f"fix: run the grader on an x86_64 Linux machine or VM"
        )
    abi = landlock_abi()
    if abi >= 1:
        features.append(f"landlock-abi{abi}")
    else:
        err = ctypes.get_errno()
        problems.append(
            f"Landlock is unavailable (landlock_create_ruleset: {os.strerror(err) if err else 'no'}); "
            f"fix: use Linux ≥ 5.13 with Landlock enabled (add 'landlock' to the lsm= kernel boot parameter, "
            f"e.g. lsm=landlock,lockdown,yama,apparmor,bpf), or grade in a VM that has it"
        )
    if _libc.prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0:
        problems.append(
            "seccomp is unavailable (prctl(PR_GET_SECCOMP) failed); fix: use a kernel built with "
            "CONFIG_SECCOMP_FILTER=y (every mainstream distribution kernel has it)"
        )
    if os.getuid() == 0:
        features.append("uid-drop")
    return features, problems
