"""The sandboxed side of one job (runs inside the isolated child, after ``isolation`` is applied).

Frames on the reply pipe, in order: ``ready`` (sent by the zygote child before this runs), then
``import_error`` | ``not_found`` | ``imported``, then one ``reply`` per request as soon as it is
computed (``unrunnable`` for a function whose module cannot run), then ``done``.  At each later
function's start (Segments) comes ``segment``, with the count of answers sent so far, or ``stale`` when
the worker cannot go on as a fresh one would.  Requests arrive on the request pipe: one ``job`` frame,
then ``request`` frames (or ``refs``, runs of preloaded ones), and in a session a ``functions`` frame
before each later batch.  Nothing here decides pass or fail.
"""

from __future__ import annotations

import builtins
import functools
import gc
import importlib.util
import math
import os
import resource
import sys
from collections import deque
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from grader.sandbox import effects, residue, siblings
from grader.sandbox.drivers import DRIVERS, HIDDEN_PREFIXES, call, describe_exception
from grader.sandbox.stand_ins import install as install_stand_in
from grader.sandbox.values import Value
from grader.sandbox.wire import Frame, FrameReader, Templates, encode_frame
from grader.sandbox.wording import no_function

MAX_REQUEST_BYTES = 1 << 30
# The grader's request frames, decoded once in the zygote (wire.Templates, Sandbox.preload): a ``refs``
# frame names a run of them, and the worker serves a fresh copy of each as if its whole frame had been sent.
TEMPLATES: Templates | None = None
SEED = 0  # every job's random, numpy.random and torch generators start from it (see seed_generators)
SCRATCH: str | None = None  # the job's private temporary folder (set by the zygote's child), emptied per segment


class Channel:
    """Blocking frame I/O on the two private pipes."""

    def __init__(self, req_fd: int, resp_fd: int, reply_cap: int) -> None:
        self.req_fd, self.resp_fd = req_fd, resp_fd
        self.reader = FrameReader(max_bytes=MAX_REQUEST_BYTES, as_tensor_values=False)
        self.pending: deque[Frame] = deque()
        self.budget = reply_cap
        self.answered = 0  # reply and unrunnable frames sent: a later function's start says how many

    def send(self, kind: str, **body: object) -> None:
        if kind in ("reply", "unrunnable"):
            self.answered += 1
        data = encode_frame(kind, body, lenient=True, max_payload=max(self.budget - 65536, 0))
        self.budget -= len(data)
        view = memoryview(data)
        while view:
            view = view[os.write(self.resp_fd, view) :]

    def receive(self) -> Frame | None:
        if self.pending and self.pending[0].kind == "ref":  # (one of a refs frame's numbers)
            assert TEMPLATES is not None
            return TEMPLATES.instantiate(self.pending.popleft().body.get("i"))
        while not self.pending:
            chunk = os.read(self.req_fd, 1 << 20)
            if not chunk:
                return None
            self.pending += self.reader.feed(chunk)
            if self.reader.fault is not None:
                raise RuntimeError(f"bad request stream: {self.reader.fault}")
        frame = self.pending.popleft()
        if frame.kind != "refs":
            return frame
        numbers = frame.body.get("i")
        if TEMPLATES is None or not isinstance(numbers, list) or not numbers:
            raise RuntimeError("a refs frame, but no request templates here or no numbers in it")
        # Each a request of its own, copied when its turn comes: the rest wait as numbers.
        self.pending.extendleft(Frame("ref", {"i": n}) for n in reversed(numbers[1:]))
        return TEMPLATES.instantiate(numbers[0])


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
    if isinstance(several, dict) and several:
        modules = job.body.get("modules")
        paths = {stem: path, **files}
        where = {f: paths.get(m, "") for f, m in modules.items() if isinstance(m, str)} if isinstance(
            modules, dict) else {}
        channel.send("imported")  # each function imports its own module (Segments)
        if Segments(channel, paths, where, path, several, stand_ins, used).serve():
            channel.send("done")
        return
    seed_generators()
    try:
        module = import_student(path)
    except BaseException as exc:  # noqa: BLE001 - SystemExit at import is an import error too
        channel.send("import_error", detail=describe_exception(exc))  # (a SyntaxError: file, line, caret)
        return
    fn, problem = _resolve(module, function, path)
    if fn is None:
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
    fields: dict[str, object] = {"value": outcome.value, "seconds": float(outcome.seconds)}
    if outcome.raised is not None:
        fields["raised"] = outcome.raised
    # The tuples only where not empty (their default): most replies are a value alone.
    for name, items in (("inputs_after", inputs_after), ("grad_fn_points", points),
                        ("stand_ins", tuple(sorted(str(n) for n in used))[:8]), ("effects", outcome.effects[:16])):
        if len(items):
            fields[name] = items
    channel.send("reply", **fields)


class Segments:
    """The requests of a job of several functions (``Job.functions``), served in segments: each run of
    requests for one function is served as a worker of its own would serve them.  At each segment's start
    the student's modules are imported afresh (what earlier calls left in them is gone), torch's settings
    and the random generators are put back as they were when the worker started, the reply budget is
    renewed and the CPU limit moves on by one function's share; the trusted side renews the wall-clock
    limit (sandbox._Pump).  What else earlier calls left behind is put back or, where it cannot be (a
    thread still running, a patched library: grader/sandbox/residue.py), the worker stops with a
    ``stale`` frame and the trusted side goes on in a fresh one.  A module that will not import, or lacks
    the function, fails that function's requests alone (``unrunnable`` frames), so one broken file costs
    no other file's functions."""

    def __init__(self, channel: Channel, paths: Mapping[str, str], where: Mapping[str, str], default: str,
                 functions: Mapping[str, object], stand_ins: dict[str, Callable[..., object]],
                 used: set[str]) -> None:
        self.channel, self.paths, self.where, self.default = channel, paths, where, default
        self.functions, self.stand_ins, self.used = functions, stand_ins, used
        self.budget = channel.budget
        self.state = effects.global_state()
        self.cpu_share = resource.getrlimit(resource.RLIMIT_CPU)[0]
        self.baseline = residue.Baseline(frozenset(n for n in sys.modules if self._student_module(n)), SCRATCH)

    def _student_module(self, name: str) -> bool:
        package = siblings.PACKAGE
        return name in self.paths or name == package or name.startswith(package + ".")

    def serve(self) -> bool:
        """Serve requests until the request pipe closes (True), or until what a segment left behind
        cannot be put back (False: a ``stale`` frame was sent, the worker must end)."""
        current: object = None
        fn: Callable[..., object] | None = None
        unrunnable = ("", "")
        first, fresh = True, False
        while (frame := self.channel.receive()) is not None:
            if frame.kind == "functions":  # the next batch of a session (sandbox.Session): a segment anew
                self.update(frame.body)
                fresh = True
                continue
            if frame.kind != "request":
                raise RuntimeError(f"unexpected {frame.kind} frame")
            function = frame.body.get("function")
            if first or fresh or function != current:
                fresh = False
                if not self.start(first):
                    return False
                first, current = False, function
                fn, unrunnable = self.load(function)
            if fn is None:
                self.channel.send("unrunnable", status=unrunnable[0], detail=unrunnable[1])
                continue
            _answer(self.channel, fn, frame, self.used)
        return True

    def update(self, body: Mapping[str, object]) -> None:
        """A later batch's functions, their modules and the stand-ins they run with."""
        functions, modules = body.get("functions"), body.get("modules")
        if not isinstance(functions, dict) or not isinstance(modules, dict):
            raise RuntimeError("functions frame lacks functions/modules")
        self.functions = functions
        self.where = {f: self.paths.get(m, "") for f, m in modules.items() if isinstance(m, str)}
        self.stand_ins.update(compile_stand_ins(body.get("substitutes")))

    def start(self, first: bool) -> bool:
        """A new segment: the worker as a fresh one would be (False: it cannot be, a ``stale`` frame says
        why)."""
        if not first:
            for name in [n for n in sys.modules if self._student_module(n)]:
                del sys.modules[name]
            effects.restore_global_state(self.state)
            gc.collect()  # what the last function left unreachable is finalized now, before the check
            left = self.baseline.restore()
            if left:
                self.channel.send("stale", detail="; ".join(left)[:1000])
                return False
            self.channel.send("segment", replies=self.channel.answered)
            self.channel.budget = self.budget
        self.move_cpu_limit()
        seed_generators()
        return True

    def move_cpu_limit(self) -> None:
        """This segment's CPU time: one share from now (the soft limit: SIGXCPU), and never more than two
        (the hard one, only ever lowered: SIGKILL), so no function can take the time of those after it."""
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        if self.cpu_share == resource.RLIM_INFINITY or hard == resource.RLIM_INFINITY:
            return
        usage = resource.getrusage(resource.RUSAGE_SELF)
        spent = math.ceil(usage.ru_utime + usage.ru_stime)
        hard = min(hard, spent + 2 * self.cpu_share)
        resource.setrlimit(resource.RLIMIT_CPU, (min(hard, spent + self.cpu_share), hard))

    def load(self, function: object) -> tuple[Callable[..., object] | None, tuple[str, str]]:
        """The function to call, or None and why it cannot run (an ``unrunnable`` frame's status, detail)."""
        if not isinstance(function, str) or function not in self.functions:
            return None, ("not_found", "the request names no function of this job")
        path = self.where.get(function) or self.default
        try:
            module = import_student(path)
        except BaseException as exc:  # noqa: BLE001 - SystemExit at import is an import error too
            return None, ("import_error", describe_exception(exc))
        fn, problem = _resolve(module, function, path)
        if fn is None:
            return None, ("not_found", problem)
        wanted = self.functions.get(function, ())
        for name in wanted if isinstance(wanted, tuple | list) else ():
            if name in self.stand_ins:
                install_stand_in(module.__dict__, name, self.stand_ins[name],
                                 functools.partial(self.used.add, name), graded=fn)
        return fn, ("", "")


def _resolve(module: ModuleType, function: str, path: str) -> tuple[Callable[..., object] | None, str]:
    stem = os.path.splitext(os.path.basename(path))[0]  # (as import_student names it)
    try:
        fn = getattr(module, function)
    except BaseException:  # noqa: BLE001 - module __getattr__ is student code
        return None, no_function(stem, function, list(module.__dict__))
    if not callable(fn):
        return None, no_function(stem, function, list(module.__dict__), type(fn).__name__)
    return fn, ""
