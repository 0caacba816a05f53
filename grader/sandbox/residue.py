"""What one function's calls can leave behind in a worker that goes on to serve the student's other
functions (worker.Segments), beyond the modules and torch settings a segment's start puts back.

A fresh worker per function gave each function a clean process; a shared one must not let ``sgd_step``
reach ``momentum_step``'s answers.  At each later segment's start the worker compares itself with a
:class:`Baseline` taken before any student code ran:

* what can be put back is put back, as a fresh worker would have it: the private temporary folder
  (emptied), the environment, the working directory, the umask, warnings filters, the recursion limit,
  the garbage collector's settings, numpy's error handling, torch's default device, matmul precision,
  thread count and denormal flushing, the standard streams, signal handlers, soft resource limits, the
  garbage collector's callbacks;
* what cannot is reported, and the worker stops so the trusted side goes on in a fresh one (a
  ``stale`` frame, status ``restart``, charged to no one): a thread still running, a timer armed, a
  library function or class patched (builtins, math, torch, numpy and friends, ``sys.modules``), a hard
  limit lowered, inference mode or a torch function/dispatch mode left on, standard streams closed or
  redirected, files left open, memory still held (``HELD_MB`` more address space than at the start,
  which the next function's RLIMIT_AS would lack).

Before the check, the garbage collector runs, so what the last function left unreachable is finalized
then, not during the next one's calls.  No audit hook can be added in a worker (``refuse_audit_hooks``):
one could never be removed, and would fire after the check.

Runs in sandbox workers (imported by the zygote, before any student code): stdlib, numpy and torch only,
each function used here captured at import so student code cannot swap it.
"""

from __future__ import annotations

import _thread
import builtins
import functools
import gc
import itertools
import math
import operator
import os
import random
import resource
import shutil
import signal
import sys
import tempfile
import warnings
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional

# Modules and classes whose functions a student could replace for everyone after them.  In the first
# ones a new name matters as much as a changed one (a class attribute hides its base's; a new builtin is
# seen everywhere); in the modules only names they had are watched (importing a submodule adds one).
WHOLE: tuple[Any, ...] = (builtins, torch.Tensor, torch.nn.Parameter)
WATCHED: tuple[Any, ...] = (*WHOLE, math, operator, functools, itertools, random, os, np, np.linalg, torch,
                            torch.nn.functional, torch.linalg, torch.autograd)
TIMERS = (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF)
# RLIMIT_CPU is the worker's own to move (worker.Segments.move_cpu_limit).
LIMITS = tuple(getattr(resource, n) for n in dir(resource) if n.startswith("RLIMIT_") and n != "RLIMIT_CPU")
SIGNALS = tuple(s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP))
HELD_MB = 512
PAGE = os.sysconf("SC_PAGE_SIZE")

_threads: Callable[[], int] = _thread._count  # Python threads still running (not the main one)
_is = operator.is_
_getitimer, _getrlimit, _setrlimit = signal.getitimer, resource.getrlimit, resource.setrlimit
_getsignal, _setsignal = signal.getsignal, signal.signal
_getcwd, _chdir = os.getcwd, os.chdir
_getrec, _setrec = sys.getrecursionlimit, sys.setrecursionlimit
_geterr, _seterr = np.geterr, np.seterr
_get_device, _set_device = torch.get_default_device, torch.set_default_device
_get_precision, _set_precision = torch.get_float32_matmul_precision, torch.set_float32_matmul_precision
_get_threads, _set_threads = torch.get_num_threads, torch.set_num_threads
_inference = torch.is_inference_mode_enabled
_device_modes = getattr(torch, "_GLOBAL_DEVICE_CONTEXT", None)  # where set_default_device keeps its mode
_function_modes = getattr(torch._C, "_len_torch_function_stack", lambda: 0)  # TorchFunctionModes entered
_dispatch_modes = getattr(torch._C, "_len_torch_dispatch_stack", lambda: 0)
_set_flush_denormal = torch.set_flush_denormal
_umask, _listdir, _read, _open, _close, _fstat = os.umask, os.listdir, os.read, os.open, os.close, os.fstat
_filters_mutated = getattr(warnings, "_filters_mutated", lambda: None)


def _device_mode() -> object:
    return getattr(_device_modes, "device_context", None)


def _namespace(owner: Any) -> Any:
    return owner.__dict__  # a module's dict, or a class's mappingproxy


class Baseline:
    """The worker as it was before any student code ran."""

    def __init__(self, skip_modules: frozenset[str] = frozenset(), scratch: str | None = None) -> None:
        """``skip_modules``: the student's, removed at each segment's start anyway; ``scratch``: the
        worker's private temporary folder, emptied at each segment's start (None: none is emptied)."""
        self.scratch = scratch
        self.namespaces = [(ns, tuple(ns), tuple(ns.values())) for ns in map(_namespace, WATCHED)]
        modules = {n: m for n, m in sys.modules.items() if n not in skip_modules}
        self.modules = (tuple(modules), tuple(modules.values()))
        self.meta = (tuple(sys.meta_path), tuple(sys.path_hooks), sys.gettrace(), sys.getprofile())
        self.threads = _threads()
        self.filters_list, self.filters = warnings.filters, list(warnings.filters)
        self.recursion = _getrec()
        self.errors = _geterr()
        self.torch = (_get_device(), _get_precision(), _get_threads())
        self.device_mode = _device_mode()
        self.streams = (sys.stdin, sys.stdout, sys.stderr)
        self.std_fds = _std_fds()
        self.cwd, self.tempdir, self.environ = _getcwd(), tempfile.tempdir, dict(os.environ)
        self.limits = {r: _getrlimit(r) for r in LIMITS}
        self.handlers = {s: _getsignal(s) for s in SIGNALS}
        self.gc = (gc.isenabled(), gc.get_threshold())
        self.gc_callbacks_list, self.gc_callbacks = gc.callbacks, list(gc.callbacks)
        self.modes = (_function_modes(), _dispatch_modes())
        self.umask = _umask(0o077)
        _umask(self.umask)
        # A CUDA worker's driver opens files and maps memory as kernels load: there neither is watched
        # (its RLIMIT_AS is lifted anyway), and a crash it causes is rerun in a fresh worker (runners.py).
        self.cuda = torch.cuda.is_initialized()  # type: ignore[no-untyped-call]
        self.files = _open_files()
        self.address_space = _address_space()

    def restore(self) -> list[str]:
        """Put back what can be; what cannot, named (empty: the worker is as a fresh one would be)."""
        left: list[str] = []
        try:
            self._put_back()
            left += self._lasting()
        except BaseException as exc:  # noqa: BLE001 - a student object in a watched place can raise
            left.append(f"the worker's state could not be read ({type(exc).__name__})")
        return left

    def _put_back(self) -> None:
        if warnings.filters is not self.filters_list or self.filters_list != self.filters:
            warnings.filters = self.filters_list
            cast(list[Any], self.filters_list)[:] = self.filters
            _filters_mutated()
        if _getrec() != self.recursion:
            _setrec(self.recursion)
        if _geterr() != self.errors:
            _seterr(**self.errors)
        device, precision, threads = self.torch
        if _get_device() != device or _device_mode() is not self.device_mode:
            # None removes the mode set_default_device installs (even one for the same device, which
            # slows every tensor factory): a fresh worker has none
            _set_device(None if self.device_mode is None else device)
        if _get_precision() != precision:
            _set_precision(precision)
        if _get_threads() != threads:
            _set_threads(threads)
        sys.stdin, sys.stdout, sys.stderr = self.streams
        if _getcwd() != self.cwd:
            _chdir(self.cwd)
        _umask(self.umask)
        _set_flush_denormal(False)  # (unreadable; a fresh worker has it off)
        if gc.callbacks is not self.gc_callbacks_list or self.gc_callbacks_list != self.gc_callbacks:
            gc.callbacks = self.gc_callbacks_list  # (the collector calls the list it was born with)
            self.gc_callbacks_list[:] = self.gc_callbacks
        enabled, threshold = self.gc
        if (gc.isenabled(), gc.get_threshold()) != self.gc:
            (gc.enable if enabled else gc.disable)()
            gc.set_threshold(*threshold)
        tempfile.tempdir = self.tempdir
        if os.environ != self.environ:
            os.environ.clear()
            os.environ.update(self.environ)
        for sig, handler in self.handlers.items():
            if _getsignal(sig) is not handler:
                _setsignal(sig, handler)
        for limit, (soft, hard) in self.limits.items():
            now = _getrlimit(limit)
            if now != (soft, hard) and now[1] == hard:  # a soft limit moves back; a lowered hard one cannot
                _setrlimit(limit, (soft, hard))

    def _lasting(self) -> list[str]:
        left = []
        if self.scratch is not None and not _empty(self.scratch):
            left.append("files left in the temporary folder could not be removed")
        if _threads() > self.threads:
            left.append(f"{_threads() - self.threads} thread(s) still running")
        if any(_getitimer(t) != (0.0, 0.0) for t in TIMERS):
            left.append("a timer still armed (signal.setitimer or signal.alarm)")
        for (ns, keys, values), owner in zip(self.namespaces, WATCHED, strict=True):
            if not all(map(_is, map(ns.get, keys), values)) or (owner in WHOLE and len(ns) != len(keys)):
                left.append(f"{getattr(owner, '__name__', owner)} patched")
        keys, values = self.modules
        if not all(map(_is, map(sys.modules.get, keys), values)):
            left.append("sys.modules patched")
        now = (sys.meta_path, sys.path_hooks, sys.gettrace(), sys.getprofile())
        if not (len(now[0]) == len(self.meta[0]) and len(now[1]) == len(self.meta[1])
                and all(map(_is, itertools.chain(*now[:2], now[2:]), itertools.chain(*self.meta[:2], self.meta[2:])))):
            left.append("the import system or a trace function changed")
        if any(_getrlimit(r) != limits for r, limits in self.limits.items()):
            left.append("a resource limit lowered")
        if _inference():
            left.append("inference mode left on")
        if (_function_modes(), _dispatch_modes()) != self.modes:
            left.append("a torch function or dispatch mode left on")
        if _std_fds() != self.std_fds or any(stream.closed for stream in self.streams):
            left.append("standard input, output or error closed or redirected")
        if self.cuda:
            return left
        if _open_files() > self.files:
            left.append(f"{_open_files() - self.files} file(s) left open")
        if _address_space() - self.address_space > HELD_MB << 20:
            left.append(f"{(_address_space() - self.address_space) >> 20} MB of memory still held")
        return left


def _empty(folder: str) -> bool:
    """Remove what is in ``folder`` (the worker's private temporary one); whether it is empty now."""
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
        return not os.listdir(folder)
    except OSError:
        return False


def refuse_audit_hooks() -> None:
    """From now on no audit hook can be added in this process (the zygote calls it before any worker is
    forked).  A hook can never be removed, and one added by a function fires in the next one's calls or
    its module's import, after the check at its start (a new hook is refused, silently, when an existing
    one raises RuntimeError on the ``sys.addaudithook`` event)."""
    sys.addaudithook(_refuse_hooks)


def _refuse_hooks(event: str, args: tuple[object, ...]) -> None:
    if event == "sys.addaudithook":
        raise RuntimeError("audit hooks cannot be added in the sandbox")


def _std_fds() -> list[tuple[int, int] | None]:
    """What file descriptors 0, 1 and 2 are (device and inode; None: closed)."""
    found: list[tuple[int, int] | None] = []
    for fd in (0, 1, 2):
        try:
            st = _fstat(fd)
            found.append((st.st_dev, st.st_ino))
        except OSError:
            found.append(None)
    return found


def _open_files() -> int:
    try:
        return len(_listdir("/proc/self/fd"))
    except OSError:  # no /proc: not watched
        return 0


def _address_space() -> int:
    """Bytes of address space in use (what RLIMIT_AS limits), 0 where /proc cannot tell."""
    try:
        fd = _open("/proc/self/statm", os.O_RDONLY)
        try:
            return int(_read(fd, 128).split()[0]) * PAGE
        finally:
            _close(fd)
    except (OSError, ValueError, IndexError):
        return 0
