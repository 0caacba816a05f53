"""The sandboxed side of one job (runs inside the isolated child, after ``isolation`` is applied).

Frames on the reply pipe, in order: ``ready`` (sent by the zygote child before this runs), then
``import_error`` | ``not_found`` | ``imported``, then one ``reply`` per request as soon as it is
computed, then ``done``.  Requests arrive on the request pipe: one ``job`` frame, then one
``request`` frame each.  Nothing here decides pass or fail.
"""

from __future__ import annotations

import builtins
import functools
import importlib.util
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from grader.sandbox import siblings
from grader.sandbox.drivers import DRIVERS, HIDDEN_PREFIXES, call, describe_exception
from grader.sandbox.stand_ins import install as install_stand_in
from grader.sandbox.values import Value
from grader.sandbox.wire import Frame, FrameReader, encode_frame, safe_repr

MAX_REQUEST_BYTES = 1 << 30
SEED = 0  # every job's random, numpy.random and torch generators start from it (see seed_generators)


class Channel:
    """Blocking frame I/O on the two private pipes."""

    def __init__(self, req_fd: int, resp_fd: int, reply_cap: int) -> None:
        self.req_fd, self.resp_fd = req_fd, resp_fd
        self.reader = FrameReader(max_bytes=MAX_REQUEST_BYTES, as_tensor_values=False)
        self.pending: list[Frame] = []
        self.budget = reply_cap

    def send(self, kind: str, **body: object) -> None:
        data = encode_frame(kind, body, lenient=True, max_payload=max(self.budget - 65536, 0))
        self.budget -= len(data)
        view = memoryview(data)
        while view:
            view = view[os.write(self.resp_fd, view) :]

    def receive(self) -> Frame | None:
        while not self.pending:
            chunk = os.read(self.req_fd, 1 << 20)
            if not chunk:
                return None
            self.pending += self.reader.feed(chunk)
            if self.reader.fault is not None:
                raise RuntimeError(f"bad request stream: {self.reader.fault}")
        return self.pending.pop(0)


def import_student(path: str) -> ModuleType:
    """Import the staged file under its stem, without putting the box on sys.path."""
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def compile_stand_ins(sources: object) -> dict[str, Callable[..., object]]:
    """The stand-ins this job asked for, from the source the trusted side sent (grader/sandbox/substitutes.py
    is never imported here: it holds every exercise's stand-in).  Each is compiled alone, with only builtins
    as globals, so from one no other can be reached."""
    compiled: dict[str, Callable[..., object]] = {}
    if isinstance(sources, dict):
        for name, source in sources.items():
            if isinstance(name, str) and isinstance(source, str):
                scope: dict[str, Any] = {"__builtins__": builtins}
                exec(compile(source, f"<stand-in {name}>", "exec"), scope)  # noqa: S102 - the grader's own source
                compiled[name] = scope[name]
    return compiled


def import_error_detail(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        try:
            text = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:4000]
            return text.replace(HIDDEN_PREFIXES[-1], "") if HIDDEN_PREFIXES else text
        except BaseException:  # noqa: BLE001
            pass
    return describe_exception(exc)


def seed_generators() -> None:
    """The same generator state in every job, on every run.

    A child inherits the zygote's generators: ``random`` and ``numpy.random`` were seeded from the OS
    when the zygote imported them, so a submission that draws random numbers (dropout-style noise, a
    random tie-break) got different answers, and different grades, each time the class was graded.
    """
    import random

    import numpy as np
    import torch

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)


def serve(channel: Channel) -> None:
    job = channel.receive()
    if job is None or job.kind != "job":
        raise RuntimeError("expected a job frame first")
    path, function = job.body.get("module_path"), job.body.get("function")
    if not isinstance(path, str) or not isinstance(function, str):
        raise RuntimeError("job frame lacks module_path/function")
    box = os.path.dirname(path)
    HIDDEN_PREFIXES.append(box + os.sep)
    stem = os.path.splitext(os.path.basename(path))[0]
    files: dict[str, str] = {}
    names = job.body.get("siblings")
    if isinstance(names, tuple | list):
        files = {n: os.path.join(box, f"{n}.py") for n in names if isinstance(n, str) and n.isidentifier()}
        # The graded module too: a sibling may import it back, as `exercises.optimizers` included.
        siblings.install({**files, stem: path})
    used: set[str] = set()
    stand_ins = compile_stand_ins(job.body.get("substitutes"))  # before any student code runs
    several = job.body.get("functions")
    seed_generators()
    try:
        module = import_student(path)
    except BaseException as exc:  # noqa: BLE001 - SystemExit at import is an import error too
        channel.send("import_error", detail=import_error_detail(exc))
        return
    if isinstance(several, dict) and several:
        channel.send("imported")
        _serve_several(channel, path, module, {stem, *files}, several, stand_ins, used)
        channel.send("done")
        return
    try:
        fn = getattr(module, function)
        problem = None if callable(fn) else f"{function} is a {type(fn).__name__}, not a function"
    except BaseException as exc:  # noqa: BLE001 - module __getattr__ is student code
        problem = f"module has no function {function!r} ({safe_repr(exc)[:200]})"
    if problem is not None:
        channel.send("not_found", detail=problem)
        return
    for name, stand_in in stand_ins.items():  # only where the student's module has that helper
        install_stand_in(module.__dict__, name, stand_in, functools.partial(used.add, name), graded=fn)
    channel.send("imported")
    while (frame := channel.receive()) is not None:
        if frame.kind != "request":
            raise RuntimeError(f"unexpected {frame.kind} frame")
        _answer(channel, fn, frame, used)
    channel.send("done")


def _answer(channel: Channel, fn: Callable[..., object], frame: Frame, used: set[str]) -> None:
    driver = DRIVERS[str(frame.body["driver"])]
    args, kwargs = frame.body["args"], frame.body["kwargs"]
    assert isinstance(args, tuple)
    assert isinstance(kwargs, dict)
    used.clear()
    report = frame.body.get("report_inputs", True) is not False
    # The generator check costs more than a small function's call: only where inputs are reported too
    outcome = call(fn, args, kwargs, rng=report) if driver is call else driver(fn, args, kwargs)
    inputs_after = outcome.inputs_after if report else ()
    points: tuple[Value, ...] = tuple(outcome.grad_fn_points)  # type: ignore[arg-type]
    channel.send(
        "reply",
        raised=outcome.raised,
        value=outcome.value,
        inputs_after=inputs_after,
        grad_fn_points=points,
        seconds=float(outcome.seconds),
        stand_ins=tuple(sorted(str(n) for n in used))[:8],
        effects=outcome.effects[:16],
    )


def _serve_several(channel: Channel, path: str, module: ModuleType | None, student: set[str],
                   functions: Mapping[str, object], stand_ins: dict[str, Callable[..., object]],
                   used: set[str]) -> None:
    """Requests of several functions in one worker (a CUDA job starts CUDA once for all of them).  Each
    function gets the module imported afresh, with its own stand-ins, so what one function's calls did to
    the module's state or to a helper is gone before the next one runs, as in a worker of its own."""
    current: str | None = None
    fn: Callable[..., object] | None = None
    problem, first = "", True
    while (frame := channel.receive()) is not None:
        if frame.kind != "request":
            raise RuntimeError(f"unexpected {frame.kind} frame")
        function = frame.body.get("function")
        if first or function != current:
            current = function if isinstance(function, str) else None
            if not first:  # a fresh copy of the student's modules
                package = siblings.PACKAGE
                for name in [n for n in sys.modules if n in student or n == package or n.startswith(package + ".")]:
                    del sys.modules[name]
                try:
                    module = import_student(path)
                except BaseException as exc:  # noqa: BLE001
                    module, problem = None, f"importing the module again failed: {import_error_detail(exc)}"
            first = False
            fn = None
            if module is not None:
                fn, problem = _resolve(module, current)
            wanted = functions.get(current or "", ())
            for name in wanted if isinstance(wanted, tuple | list) else ():
                if module is not None and fn is not None and name in stand_ins:
                    install_stand_in(module.__dict__, name, stand_ins[name], functools.partial(used.add, name),
                                     graded=fn)
        if fn is None:
            channel.send("reply", raised=f"could not run: {problem}", value=None, inputs_after=(),
                         grad_fn_points=(), seconds=0.0, stand_ins=(), effects=())
            continue
        _answer(channel, fn, frame, used)


def _resolve(module: ModuleType, function: str | None) -> tuple[Callable[..., object] | None, str]:
    if function is None:
        return None, "the request names no function"
    try:
        fn = getattr(module, function)
    except BaseException as exc:  # noqa: BLE001 - module __getattr__ is student code
        return None, f"module has no function {function!r} ({safe_repr(exc)[:200]})"
    if not callable(fn):
        return None, f"{function} is a {type(fn).__name__}, not a function"
    return fn, ""
