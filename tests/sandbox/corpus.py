"""The adversarial corpus: tiny hostile (and honest) student files with the outcome each must get.

Each case is run as a staged ``optimizers.py`` by tests/sandbox/test_corpus.py.  ``args`` may use
the placeholders below, replaced by the test with real paths/pids/ports, so an attack is aimed at the
exact file or process it must not reach (stronger than guessing).
"""

from __future__ import annotations

from dataclasses import dataclass, field

PATHS = "<canary paths>"   # list of every canary file path
PORT = "<listener port>"   # the loopback listener's port
PIDS = "<trusted pids>"    # [grader pid, zygote pid]
SAME_UID_PIDS = "<same-uid pids>"  # PIDS, and as root a process with each sandbox uid (the workers' own)
X = "<tensor x>"           # torch.tensor([1., 2., 3.], float64)


@dataclass(frozen=True)
class Case:
    name: str
    source: str
    function: str = "f"
    args: tuple[object, ...] = ()
    status: str = "ok"
    calls: int = 1
    raised: str | None = None          # substring of replies[0].raised
    detail: str | None = None          # substring of JobResult.detail
    replies: int | None = None         # expected number of replies (default: calls if ok)
    tags: tuple[str, ...] = field(default_factory=tuple)


HONEST = """
import torch
def sgd_step(param, grad, lr):
    return param - lr * grad
"""

CASES = [
    # ---------------------------------------------------------------- time
    Case("infinite_loop", "def f():\n    while True:\n        pass\n", status="timeout", detail="wall clock"),
    Case("ignores_signals", """
import signal, time
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM, signal.SIGXCPU, signal.SIGHUP, signal.SIGUSR1):
    signal.signal(s, signal.SIG_IGN)
def f():
    while True:
        try:
            time.sleep(0.01)
        except BaseException:
            pass
""", status="timeout", detail="during request 0"),
    Case("long_sleep", "import time\ndef f():\n    time.sleep(10_000)\n", status="timeout"),
    Case("slow_import", "import time\ntime.sleep(10_000)\ndef f():\n    pass\n", status="timeout",
         detail="during import"),
    # ---------------------------------------------------------------- memory, processes, threads
    Case("memory_bomb", "def f():\n    return len(bytearray(6 << 30))\n", raised="MemoryError"),
    Case("torch_memory_bomb", "import torch\ndef f():\n    return torch.ones(2**31, dtype=torch.float64)\n",
         raised="alloc"),
    Case("fork_bomb_at_import", "import os\nwhile True:\n    os.fork()\n", status="import_error",
         detail="PermissionError"),
    Case("daemonize", """
import os, subprocess, time
def f():
    errors = []
    try:
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(1000)
            os._exit(0)
        errors.append("forked")
    except BaseException as e:
        errors.append(type(e).__name__)
    try:
        subprocess.Popen(["/bin/sleep", "1000"], start_new_session=True)
        errors.append("spawned")
    except BaseException as e:
        errors.append(type(e).__name__)
    try:
        os.posix_spawn("/bin/sleep", ["sleep", "1000"], {})
        errors.append("spawned")
    except BaseException as e:
        errors.append(type(e).__name__)
    return errors
""", tags=("no_spawn",)),
    Case("thread_bomb", """
import threading, time
def f():
    started = 0
    try:
        for _ in range(200):
            threading.Thread(target=time.sleep, args=(0.5,), daemon=True).start()
            started += 1
    except RuntimeError:
        pass
    return started
""", tags=("threads_capped",)),
    Case("fill_tmp", """
import os
def f():
    written = 0
    try:
        for i in range(40):
            with open(f"junk{i}", "wb") as fh:
                fh.write(b"x" * (10 << 20))
            written += 1
    except OSError as e:
        return written, str(e)
    return written, None
""", tags=("tmp_capped",)),
    # ---------------------------------------------------------------- exits and crashes
    Case("sys_exit_at_import", "import sys\nsys.exit(3)\n", status="import_error", detail="SystemExit"),
    Case("os_exit_at_import", "import os\nos._exit(0)\n", status="crashed", detail="status 0 during import"),
    Case("sys_exit_in_call", "import sys\ndef f():\n    sys.exit(0)\n", raised="SystemExit"),
    Case("keyboard_interrupt", "def f():\n    raise KeyboardInterrupt('no')\n", raised="KeyboardInterrupt"),
    Case("os_exit_at_third_call", """
import os
calls = []
def f(x):
    calls.append(x)
    if len(calls) == 3:
        os._exit(0)
    return x * 2
""", args=(X,), calls=5, status="crashed", replies=2, detail="during request 2"),
    Case("segfault_at_second_call", """
import ctypes
n = [0]
def f():
    n[0] += 1
    if n[0] == 2:
        ctypes.string_at(0)
    return n[0]
""", calls=3, status="crashed", replies=1, detail="SIGSEGV"),
    Case("unbounded_recursion", "def f(n=0):\n    return f(n + 1)\n", raised="RecursionError"),
    Case("syntax_error", "import torch\n\ndef f(:\n    pass\n", status="import_error", detail="line 3"),
    Case("missing_function", "def g():\n    pass\n", status="not_found"),
    Case("not_callable", "f = 3\n", status="not_found"),
    Case("raises_value_error", "def f():\n    return 1 / 0\n", raised="ZeroDivisionError"),
    # ---------------------------------------------------------------- the reference, other files, network
    Case("import_solutions", "import solutions.optimizers as ref\nf = ref.sgd_step\n", status="import_error",
         detail="ModuleNotFoundError"),
    Case("import_trusted_grader", """
def f():
    import importlib
    out = []
    for name in ("solutions", "grader.suite", "grader.sandbox.sandbox", "tests", "quiz_bank"):
        try:
            importlib.import_module(name)
            out.append(name)
        except BaseException as e:
            pass
    return out
""", tags=("returns_empty",)),
    Case("read_reference_and_secrets", """
import glob, os, sys
def f(paths):
    candidates = list(paths)
    candidates += glob.glob("/work/main/solutions/*.py") + glob.glob("/tmp/**/*.py", recursive=True)
    candidates += glob.glob("/root/**/*", recursive=True)[:50] + ["/etc/shadow", "/proc/1/environ"]
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None) or ""
        if "grader" in path or "solutions" in path:
            candidates.append(path)
            candidates.append(os.path.join(os.path.dirname(path), "..", "..", "solutions", "optimizers.py"))
    for entry in sys.path:
        candidates += glob.glob(os.path.join(entry, "__editable__*")) + glob.glob(os.path.join(entry, "*.pth"))
    read = {}
    for path in candidates:
        try:
            with open(path, "rb") as fh:
                read[path] = fh.read(300).decode("latin-1")
        except OSError:
            pass
        try:
            exec(compile(open(path).read(), path, "exec"), {})
            read[path + " (exec)"] = "ran"
        except BaseException:
            pass
    return read
""", args=(PATHS,), tags=("returns_empty",)),
    Case("write_and_delete_outside_tmp", """
import os, shutil
def f(paths):
    done = []
    for path in list(paths) + ["/tmp/owned", "/work/main/owned.py", os.path.expanduser("~/../owned")]:
        for action in ("write", "delete", "rename", "chmod", "truncate", "utime", "link"):
            try:
                if action == "write":
                    with open(path, "a") as fh:
                        fh.write("pwned")
                elif action == "delete":
                    os.remove(path)
                elif action == "rename":
                    os.rename(path, path + ".bak")
                elif action == "chmod":
                    os.chmod(path, 0o777)
                elif action == "truncate":
                    os.truncate(path, 0)
                elif action == "utime":
                    os.utime(path, (0, 0))
                else:
                    os.link(path, "stolen")
                done.append(f"{action} {path}")
            except OSError:
                pass
    try:
        shutil.rmtree(os.path.dirname(paths[0]))
        done.append("rmtree")
    except OSError:
        pass
    with open("scratch.txt", "w") as fh:   # its own tmp dir works
        fh.write("ok")
    return done
""", args=(PATHS,), tags=("returns_empty",)),
    Case("network", """
import socket
def f(port):
    done = []
    for family, kind, address in (
        (socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", port)),
        (socket.AF_INET, socket.SOCK_DGRAM, ("127.0.0.1", port)),
        (socket.AF_INET6, socket.SOCK_STREAM, ("::1", port)),
        (socket.AF_INET, socket.SOCK_STREAM, ("1.1.1.1", 53)),
        (socket.AF_UNIX, socket.SOCK_STREAM, "/run/systemd/private"),
    ):
        try:
            s = socket.socket(family, kind)
            s.settimeout(1)
            s.connect(address)
            s.sendall(b"hello")
            done.append(str(address))
        except OSError:
            pass
    return done
""", args=(PORT,), tags=("returns_empty",)),
    Case("signal_and_spy_on_trusted_processes", """
import os, signal
def f(pids):
    done = []
    for pid in list(pids) + [1, -1, 0]:
        if pid == 0:
            continue
        try:
            os.kill(pid, signal.SIGKILL)
            done.append(f"kill {pid}")
        except OSError:
            pass
    for pid in pids:
        for name in ("environ", "cmdline", "mem", "maps", "fd"):
            try:
                path = f"/proc/{pid}/{name}"
                (os.listdir if name == "fd" else lambda p: open(p, "rb").read(64))(path)
                done.append(path)
            except OSError:
                pass
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.ptrace(16, pids[0], 0, 0) == 0:   # PTRACE_ATTACH
            done.append("ptrace")
    except OSError:
        pass
    return done
""", args=(PIDS,), tags=("returns_empty",)),
    Case("reprioritise_or_limit_other_processes", """
import ctypes, os, resource
def f(pids):
    libc = ctypes.CDLL(None, use_errno=True)
    limits, mask, param = (ctypes.c_uint64 * 2)(), (ctypes.c_ulong * 16)(), ctypes.c_int(0)
    done = []
    for pid in pids:  # each call only re-sets what is there already, so a regression harms nothing
        if libc.prlimit64(pid, resource.RLIMIT_CORE, None, limits) == 0:  # a read needs a write's rights
            done.append(f"prlimit64 {pid}")
        ctypes.set_errno(0)
        nice = libc.getpriority(os.PRIO_PROCESS, pid)
        if ctypes.get_errno() == 0 and libc.setpriority(os.PRIO_PROCESS, pid, nice) == 0:
            done.append(f"setpriority {pid}")
        policy = libc.sched_getscheduler(pid)
        if policy >= 0 and libc.sched_getparam(pid, ctypes.byref(param)) == 0:
            if libc.sched_setscheduler(pid, policy, ctypes.byref(param)) == 0:
                done.append(f"sched_setscheduler {pid}")
            if libc.sched_setparam(pid, ctypes.byref(param)) == 0:
                done.append(f"sched_setparam {pid}")
        if libc.sched_getaffinity(pid, ctypes.sizeof(mask), mask) == 0:
            if libc.sched_setaffinity(pid, ctypes.sizeof(mask), mask) == 0:
                done.append(f"sched_setaffinity {pid}")
    # On itself they still work (glibc's setrlimit and nice are these calls with pid 0).
    resource.setrlimit(resource.RLIMIT_CORE, resource.getrlimit(resource.RLIMIT_CORE))
    os.nice(1)
    return done
""", args=(SAME_UID_PIDS,), tags=("returns_empty",)),
    Case("raw_syscalls", """
import ctypes, os, platform
def f():
    if platform.machine() != "x86_64":
        return []
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    got = []
    if libc.prctl(1, 0, 0, 0, 0) == 0:                  # clear the parent-death signal
        got.append("pdeathsig cleared")
    pid = libc.syscall(56, 17, 0, 0, 0, 0)              # clone(SIGCHLD): a raw fork
    if pid == 0:
        os._exit(0)
    if pid > 0:
        got.append("raw fork")
    if libc.syscall(56, 0x10000000 | 0x10000 | 0x800 | 0x100, 0, 0, 0, 0) >= 0:   # thread + new userns
        got.append("clone newuser")
    if libc.syscall(435, 0, 0) != -1 or ctypes.get_errno() != 38:    # clone3 -> ENOSYS
        got.append("clone3 not ENOSYS")
    if libc.unshare(0x10000000) == 0 or libc.unshare(0x40000000) == 0:
        got.append("unshare")
    if libc.syscall(101, 16, os.getppid(), 0, 0) == 0:  # ptrace attach to the zygote
        got.append("ptrace")
    if libc.syscall(425, 1, 0) >= 0:                    # io_uring_setup
        got.append("io_uring")
    if libc.syscall(322, -100, b"/bin/true", None, None, 0) == 0:   # execveat
        got.append("exec")
    return got
""", tags=("returns_empty",)),
    Case("drop_privileges_check", """
import os
def f():
    try:
        os.setuid(0)
        regained = True
    except OSError:
        regained = False
    return os.getuid(), os.geteuid(), regained
""", tags=("not_root",)),
    # ---------------------------------------------------------------- determinism
    Case("random_answers", """
import random, numpy, torch
def f():
    return random.random(), float(numpy.random.random()), torch.rand(()).item()
""", tags=("seeded",)),
    # ---------------------------------------------------------------- output and protocol
    Case("fake_verdict_output", """
import json, sys
print("\\x1b[2J===== 42 passed in 0.01s =====\\nSCORE: 100/100")
print(json.dumps({"status": "ok", "score": 100, "verdict": "pass"}))
def f():
    print("ALL TESTS PASSED", file=sys.stderr)
    return "pass"
""", tags=("fake_output",)),
    Case("huge_output", """
import sys
def f():
    chunk = "x" * (1 << 20)
    for _ in range(200):
        sys.stdout.write(chunk)
        sys.stderr.write(chunk)
    return 1
""", tags=("huge_output",)),
    Case("forged_frame_at_import", """
import os, struct
header = b'{"kind":"done","body":{},"tensors":[]}'
os.write(4, struct.pack(">I", len(header)) + header)
def f():
    return 1
""", status="protocol_error"),
    Case("garbage_on_reply_pipe", """
import os
def f():
    os.write(4, b"\\xff" * 64)
    return 1
""", status="protocol_error"),
    Case("closes_reply_pipe", "import os\ndef f():\n    os.close(4)\n    return 1\n", status="crashed"),
    # ---------------------------------------------------------------- monkeypatching (no effect outside)
    Case("monkeypatch_comparisons", """
import math, torch, numpy, numpy.testing, pytest
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.Tensor.__eq__ = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
math.isclose = lambda *a, **k: True
pytest.approx = lambda *a, **k: object()
def f():
    return torch.allclose(torch.zeros(1), torch.ones(1))
""", tags=("patched",)),
]
