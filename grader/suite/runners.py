"""Runners execute a batch of calls of one student function and return what happened.

* :class:`SandboxRunner` — the instructor's grader: each batch runs in a fresh
  sandboxed worker (``grader.sandbox``); student code never enters this process.
* :class:`InProcessRunner` — ``optigrade check`` on a student's own machine, where
  the code under test is the student's own and no sandbox is needed (or possible
  on macOS/Windows).

Both turn results into :class:`~grader.suite.model.Outcome` objects, so the
properties that judge them cannot tell the two apart.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.util
import io
import math
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from grader.suite.model import Call, GradientFunction, OpaqueOut, Outcome, TensorOut

MAX_CACHED_REQUESTS = 100_000
_NUMPY_DTYPES = {"float16", "float32", "float64", "int32", "int64", "bool"}  # as wire.NUMPY_DTYPES


def _sandbox_substitutes() -> Any:
    from grader.sandbox import substitutes  # only when stand-ins are asked for: the student bundle has none

    return substitutes


def _sandbox_siblings() -> Any:
    from grader.sandbox import siblings  # a plain module; the student bundle ships it alone

    return siblings


def _sandbox_wording() -> Any:
    from grader.sandbox import wording  # stdlib only; the student bundle ships it alone

    return wording


_GRADER_DIR = str(Path(__file__).resolve().parents[1]) + os.sep  # the grader's own frames, left out of tracebacks
_MISSING = object()


def _sandbox_effects() -> Any:
    from grader.sandbox import effects  # a plain module; the student bundle ships it alone

    return effects


@functools.cache
def _sandbox() -> Any:
    """The sandbox package, imported on first use: the student bundle (``optigrade release``) has none."""
    import grader.sandbox

    return grader.sandbox


class Runner(Protocol):
    def run(self, files: Mapping[str, Path], module: str, function: str, calls: Sequence[Call], *,
            substitutes: Sequence[str] = ()) -> list[Outcome]:
        """Outcomes of ``calls`` of ``function``; ``substitutes`` name helpers of the student's module to
        replace by their stand-ins (grader/sandbox/substitutes.py) while these calls run."""


def missing_file(module: str) -> Outcome:
    return Outcome(failure=f"was not run: {module}.py was not submitted")


class SandboxRunner:
    """Run calls in sandboxed workers with bounded retries after a failure.

    The calls of several functions (``run_many``: one level of the grading order) share one worker, each
    function's calls a segment of their own in which the worker is as a fresh one would be: the module
    imported afresh, torch's settings and the generators as at the start, and the wall-clock, CPU and reply
    limits renewed (grader/sandbox/worker.py ``Segments``).  Starting a worker costs more than most
    functions' calls, so a submission pays it once per level instead of once per function, and once in
    all through ``for_submission`` (a SessionRunner keeps the worker from level to level).

    A call that was running when its job timed out is first run again at the head of a fresh job (a
    slow, loaded machine must not cost an honest student a mark); timing out twice, it is charged.  A
    call that crashed its worker is charged at once, unless that worker had served another function
    first: then it is run again at the head of a fresh job, and charged only if it crashes there too
    (what an earlier function left running must not cost a later one).  A worker that stops at a
    function's start because earlier functions left it changed (``restart``) is charged to no one: the
    rest goes on in a fresh worker.  Each function's other calls get ``retries`` more jobs in all, then
    share its fate, so a stalling function costs at most (1 + retries) × the wall limit, and never
    another function's calls: those go on in the next job.

    Calls on CUDA tensors run in CUDA jobs of their own (a worker that runs CPU calls never needs CUDA).
    A job the grader's machine failed (``infra_error``: a GPU that would not start, a sandbox that could
    not be set up) is run again up to ``infra_retries`` times, then raised as a GraderFault — never
    charged to the student."""

    def __init__(self, sandbox: Any, *, retries: int = 2, infra_retries: int = 2) -> None:
        self.sandbox = sandbox
        self.retries, self.infra_retries = retries, infra_retries
        # Call -> (Request, on CUDA), so each suite call is encoded for the wire once per class.
        self._requests: dict[int, tuple[Call, Any, bool]] = {}
        self._lock = threading.Lock()
        self.budget: tuple[float, float] | None = None  # (monotonic deadline, seconds): see BudgetedRunner

    def _prepared(self, call: Call) -> tuple[Any, bool]:
        cached = self._requests.get(id(call))
        if cached is not None and cached[0] is call:
            return cached[1], cached[2]
        request = _sandbox().Request(call.driver, tuple(to_wire(a) for a in call.args),
                                     {k: to_wire(v) for k, v in call.kwargs.items()},
                                     report_inputs=call.report_inputs, function=call.function)
        prepared = (call, request, on_cuda(call))
        with self._lock:
            if len(self._requests) > MAX_CACHED_REQUESTS:  # shrink candidates are new calls per student
                self._requests.clear()
            self._requests[id(call)] = prepared
        return request, prepared[2]

    def request(self, call: Call) -> Any:
        """The sandbox Request for ``call``."""
        return self._prepared(call)[0]

    def prepare(self, calls: Iterable[Call]) -> None:
        """Encode ``calls`` for the wire now (a suite's: once per class, before the first submission)."""
        for call in calls:
            _ = self._prepared(call)[0].frame

    def run(self, files: Mapping[str, Path], module: str, function: str, calls: Sequence[Call], *,
            substitutes: Sequence[str] = ()) -> list[Outcome]:
        return self.run_many(files, [Batch(module, function, calls, substitutes)])[0]

    def run_many(self, files: Mapping[str, Path], batches: Sequence[Batch]) -> list[list[Outcome]]:
        """Several functions' calls: those on the CPU in one worker, those on CUDA in another (so CUDA
        starts once per submission, not once per function).  A function's calls are kept together
        (one segment) in the order of its first batch."""
        results: list[list[Outcome]] = [[Outcome()] * len(b.calls) for b in batches]
        functions: dict[str, tuple[str, ...]] = {}
        modules: dict[str, str] = {}
        for b, batch in enumerate(batches):
            if batch.module not in files:
                results[b] = [missing_file(batch.module)] * len(batch.calls)
                continue
            wanted = tuple(batch.substitutes)
            if functions.setdefault(batch.function, wanted) != wanted or modules.setdefault(
                    batch.function, batch.module) != batch.module:
                raise ValueError(f"two batches of {batch.function} differ in module or stand-ins "
                                 f"({modules[batch.function]}/{functions[batch.function]} and "
                                 f"{batch.module}/{wanted}); expected one of each per function")
        # device -> function -> its calls' (batch, call) positions, each function's kept together
        by_device: dict[bool, dict[str, list[tuple[int, int]]]] = {False: {}, True: {}}
        for b, batch in enumerate(batches):
            if batch.module in files:
                for k, call in enumerate(batch.calls):
                    by_device[self._prepared(call)[1]].setdefault(batch.function, []).append((b, k))
        for cuda, segments in by_device.items():
            if not segments:
                continue
            device = "cuda" if cuda else "cpu"
            positions = [p for where in segments.values() for p in where]
            got = self._run(files, [batches[b].calls[k] for b, k in positions],
                            {f: functions[f] for f in segments}, {f: modules[f] for f in segments}, device)
            for (b, k), outcome in zip(positions, got, strict=True):
                results[b][k] = outcome
        return results

    def _run(self, files: Mapping[str, Path], calls: Sequence[Call], functions: Mapping[str, tuple[str, ...]],
             modules: Mapping[str, str], device: str) -> list[Outcome]:
        """Outcomes of ``calls`` (of the functions in ``functions``, each with its stand-ins, from its module
        in ``modules``), retried as the class docstring says; a function's retries are its own."""
        outcomes: list[Outcome | None] = [None] * len(calls)
        pending = list(range(len(calls)))
        attempts: Counter[str] = Counter()
        rerun, infra = -1, 0
        second_chances: set[int] = set()  # calls that crashed a worker shared with earlier functions
        box = _sandbox()
        # The same files in every job of a submission (the first in name order as the module, the rest
        # siblings), so its jobs can share one worker (SessionRunner).
        main = min(files)
        while pending:
            if self.budget is not None and time.monotonic() > self.budget[0]:
                # Spent (by its own stalls and their retries): no further worker starts for it, so a level of
                # stalling functions holds its slot for the budget and one job's wall limit at most.
                for i in pending:
                    outcomes[i] = Outcome(failure=budget_spent(self.budget[1]))
                break
            first = calls[pending[0]].function
            job = box.Job(files[main], first, [self.request(calls[i]) for i in pending], (),
                          {name: path for name, path in files.items() if name != main}, device=device,
                          functions=functions, modules={f: m for f, m in modules.items() if m != main},
                          until=self.budget[0] if self.budget is not None else math.inf)
            result, served_before = self._execute(job)
            for i, reply in zip(pending, result.replies, strict=False):
                function = calls[i].function
                outcomes[i] = outcome_of_reply(reply, functions[function], modules[function])
            done = len(result.replies)
            if done >= len(pending):
                break
            if result.status == "infra_error":
                infra += 1
                if infra > self.infra_retries:
                    from grader.errors import GraderFault

                    raise GraderFault(f"the grading machine failed while running {first} "
                                      f"({1 + self.infra_retries} tries, {device}): {result.detail}")
                pending = pending[done:]
                continue
            failed = pending[done]
            function = calls[failed].function
            if result.status == "restart":  # nobody's fault: the rest in a fresh worker
                pending = pending[done:]
                continue
            after_others = served_before or any(calls[i].function != function for i in pending[:done])
            if result.status in ("crashed", "protocol_error") and after_others and failed not in second_chances:
                second_chances.add(failed)
                pending = pending[done:]
                continue
            reason = describe_status(result.status, result.detail, modules[function])
            attempts[function] += 1
            if result.status == "timeout" and rerun != failed and attempts[function] <= self.retries:
                rerun = failed  # give the timed-out call a second, fresh worker before charging it
                pending = pending[done:]
                continue
            # The call that was running when the job ended is charged with it ...
            outcomes[failed] = Outcome(failure=reason, stdout=result.stdout[-2000:])
            rest = pending[done + 1:]
            # ... and its function's other calls share its fate once its retries are spent (every function
            # of its module, when that module cannot run at all).
            everything = result.status in ("import_error", "not_found")
            shared = [i for i in rest if (everything and modules[calls[i].function] == modules[function])
                      or (attempts[function] > self.retries and calls[i].function == function)]
            # (Said as it is: these calls never ran, an earlier one of the same function used up its tries.)
            fate = reason if everything else (f"was not run: an earlier call of {function} failed ({reason}) "
                                              f"and its retries were spent")
            for i in shared:
                outcomes[i] = Outcome(failure=fate)
            gone = set(shared)
            pending = [i for i in rest if i not in gone]
        return [o if o is not None else Outcome(failure="was not run") for o in outcomes]


    def _execute(self, job: Any) -> tuple[Any, bool]:
        """The job's result, and whether its worker had served calls before this job's."""
        return self.sandbox.run(job), False

    def for_submission(self) -> SessionRunner:
        """A runner for one submission, whose CPU jobs share one worker (see SessionRunner); close it."""
        return SessionRunner(self)


class SessionRunner(SandboxRunner):
    """One submission's runner: its CPU jobs (a level of the grading order, a round of shrinking) are
    batches in one worker (grader/sandbox/sandbox.py ``Session``), each function a segment as in a worker of
    its own, so the submission pays a worker's start once, not once per level.  A batch that fails ends the
    worker; the next batch starts another.  CUDA jobs run apart, after the CPU worker is closed (each holds
    one of the sandbox's slots).  Shares its parent's encoded requests."""

    def __init__(self, parent: SandboxRunner) -> None:
        super().__init__(parent.sandbox, retries=parent.retries, infra_retries=parent.infra_retries)
        self._requests, self._lock = parent._requests, parent._lock
        self._session: Any = None

    def _execute(self, job: Any) -> tuple[Any, bool]:
        if job.device != "cpu":
            self.close()
            return self.sandbox.run(job), False
        if self._session is not None and not (self._session.alive and self._session.matches(job)):
            self.close()
        if self._session is None:
            self._session = self.sandbox.session(job)
        result = self._session.run(job)
        served_before = self._session.batches > 1
        if result.status != "ok":
            self.close()
        return result, served_before

    def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.close()

    def __enter__(self) -> SessionRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclasses.dataclass(frozen=True)
class Batch:
    """One function's calls, for ``run_many``."""

    module: str
    function: str
    calls: Sequence[Call]
    substitutes: Sequence[str] = ()


def run_many(runner: Runner, files: Mapping[str, Path], batches: Sequence[Batch]) -> list[list[Outcome]]:
    """``runner.run_many`` where the runner has one (it may bundle), else one ``run`` per batch."""
    many = getattr(runner, "run_many", None)
    if many is not None:
        return many(files, batches)  # type: ignore[no-any-return]
    return [runner.run(files, b.module, b.function, b.calls, substitutes=b.substitutes) for b in batches]


def on_cuda(call: Call) -> bool:
    """Whether ``call`` sends a tensor on a CUDA device (it then runs in a CUDA job)."""
    def cuda(value: Any) -> bool:
        if isinstance(value, torch.Tensor):
            return value.is_cuda
        if isinstance(value, GradientFunction):
            return cuda(value.a)
        if isinstance(value, tuple | list):
            return any(cuda(v) for v in value)
        return False

    return cuda(call.args) or cuda(tuple(call.kwargs.values()))


class BudgetedRunner:
    """One submission's runner with a time budget: once ``budget_s`` of wall time is spent, its remaining
    calls are not run and fail with the reason.  A submission whose every function stalls until the wall
    limit (then again in its retries) would otherwise hold a grading slot for many minutes; a correct one
    needs about a second in all.  Checked before each batch here, and before each further worker a sandbox
    runner starts within a batch (a retry, the calls after a timeout)."""

    def __init__(self, inner: Runner, budget_s: float) -> None:
        self.inner, self.budget_s = inner, budget_s
        self.deadline = time.monotonic() + budget_s
        if isinstance(inner, SandboxRunner):
            inner.budget = (self.deadline, budget_s)

    def run(self, files: Mapping[str, Path], module: str, function: str, calls: Sequence[Call], *,
            substitutes: Sequence[str] = ()) -> list[Outcome]:
        if time.monotonic() > self.deadline:
            return [Outcome(failure=self._reason())] * len(calls)
        return self.inner.run(files, module, function, calls, substitutes=substitutes)

    def run_many(self, files: Mapping[str, Path], batches: Sequence[Batch]) -> list[list[Outcome]]:
        if time.monotonic() > self.deadline:
            return [[Outcome(failure=self._reason())] * len(b.calls) for b in batches]
        return run_many(self.inner, files, batches)

    def _reason(self) -> str:
        return budget_spent(self.budget_s)


def budget_spent(budget_s: float) -> str:
    return (f"was not run: this submission used up its time budget of {budget_s:g} s "
            f"(its other functions kept running until they were stopped)")


def describe_status(status: str, detail: str, module: str) -> str:
    return {
        "import_error": f"could not run: importing {module}.py failed ({detail})",
        "not_found": f"could not run: {detail}",
        "timeout": f"did not finish: {detail}",
        "crashed": f"crashed: {detail}",
        "protocol_error": f"sent an unreadable answer: {detail}",
    }.get(status, f"{status}: {detail}")


def to_wire(value: Any) -> Any:
    if isinstance(value, GradientFunction):
        return _sandbox().GradFn("quadratic", {"a": value.a, "c": value.c})
    return value


def from_wire(value: Any) -> Any:
    box = _sandbox()
    return _from_wire(value, box.TensorValue, box.Opaque)


def _from_wire(value: Any, tensor: type, opaque: type) -> Any:
    # Exact types: the wire decodes into plain tuples, lists, dicts and its own value classes.
    cls = type(value)
    if cls is tensor:
        return TensorOut(value.tensor, value.device, value.type_name)
    if cls is tuple:
        return tuple([_from_wire(v, tensor, opaque) for v in value]) if value else value
    if cls is list:
        return [_from_wire(v, tensor, opaque) for v in value]
    if cls is dict:
        return {k: _from_wire(v, tensor, opaque) for k, v in value.items()}
    if cls is opaque:
        return OpaqueOut(value.type_name, value.repr)
    return value


def outcome_of_reply(reply: Any, substitutes: Sequence[str] = (), module: str = "") -> Outcome:
    unrunnable = getattr(reply, "unrunnable", None)
    if unrunnable is not None:  # its module would not import, or lacks the function
        return Outcome(failure=describe_status(unrunnable[0], unrunnable[1], module))
    box = _sandbox()
    tensor, opaque = box.TensorValue, box.Opaque
    # (Most replies are a value alone: the empty tuples are passed on as they are.)
    after, points, effects = reply.inputs_after, reply.grad_fn_points, getattr(reply, "effects", ())
    return Outcome(
        returned=_from_wire(reply.value, tensor, opaque),
        raised=reply.raised,
        inputs_after=_from_wire(after, tensor, opaque) if after else (),
        grad_fn_points=_from_wire(points, tensor, opaque) if points else (),
        stand_ins=tuple(n for n in substitutes if n in reply.stand_ins) if substitutes else (),  # a note only
        # The worker's word too: an effect can only cost the student who sent it, so none is trusted away
        effects=tuple(str(e)[:100] for e in effects[:16]) if effects else (),
    )


class InProcessRunner:
    """Import the student's files into this process and call them (for ``optigrade check`` only)."""

    def __init__(self) -> None:
        self._modules: dict[Path, Any] = {}
        # torch's settings as each module's import left them: its functions run with them, as in a worker
        # (which imports the module afresh for each function), and this process gets its own back after.
        self._imported_state: dict[Path, Any] = {}
        self._siblings: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}  # per submission

    @contextlib.contextmanager
    def _importable(self, files: Mapping[str, Path]) -> Any:
        """The submission's files importable by name, as in the sandbox (grader/sandbox/siblings.py)."""
        names = {name: str(path) for name, path in files.items()}
        cache = self._siblings.setdefault(tuple(sorted(names.items())), {})
        # No __pycache__ beside a student's files: it would be zipped into their submission (or, in the
        # grader's checkout, copied along with a demo student).
        saved, sys.dont_write_bytecode = sys.dont_write_bytecode, True
        try:
            with _sandbox_siblings().importable(names, cache):
                yield
        finally:
            sys.dont_write_bytecode = saved

    def _load(self, path: Path) -> Any:
        if path not in self._modules:
            spec = importlib.util.spec_from_file_location(f"_student_{path.stem}", path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            effects = _sandbox_effects()
            before = effects.global_state()
            try:
                spec.loader.exec_module(module)
            finally:
                self._imported_state[path] = effects.global_state()
                effects.restore_global_state(before)
            self._modules[path] = module
        return self._modules[path]

    @contextlib.contextmanager
    def _as_imported(self, path: Path) -> Any:
        """torch's settings as ``path``'s import left them while its functions run; this process's after."""
        effects = _sandbox_effects()
        before = effects.global_state()
        effects.restore_global_state(self._imported_state.get(path, before))
        try:
            yield
        finally:
            effects.restore_global_state(before)

    def run(self, files: Mapping[str, Path], module: str, function: str, calls: Sequence[Call], *,
            substitutes: Sequence[str] = ()) -> list[Outcome]:
        if module not in files:
            return [missing_file(module)] * len(calls)
        wording = _sandbox_wording()  # worded as a sandbox worker words it, so check says what grading will
        with self._importable(files):
            try:
                loaded = self._load(files[module])
            except BaseException as exc:  # noqa: BLE001 - a student's import error is a result, not a crash
                detail = self._exception_text(exc, files[module])
                return [Outcome(failure=describe_status("import_error", detail, module))] * len(calls)
            try:
                fn = getattr(loaded, function)
            except BaseException:  # noqa: BLE001 - module __getattr__ is student code
                fn = _MISSING
            if fn is _MISSING or not callable(fn):
                what = None if fn is _MISSING else type(fn).__name__
                detail = wording.no_function(module, function, list(vars(loaded)), what)
                return [Outcome(failure=describe_status("not_found", detail, module))] * len(calls)
            with self._as_imported(files[module]):
                return self._run_calls(loaded, fn, calls, substitutes, files[module])

    @staticmethod
    def _exception_text(exc: BaseException, path: Path | None) -> str:
        """A student's exception as a worker words it: the grader's frames dropped, the folder cut."""
        wording = _sandbox_wording()
        try:
            hide = [wording.folder_of(str(path))] if path is not None else []
            return str(wording.exception_text(exc, skip=(_GRADER_DIR, "<frozen "), hide=hide))
        except BaseException:  # noqa: BLE001 - str(exc) is student code
            return f"{type(exc).__name__}: <its message could not be read>"

    def _run_calls(self, loaded: Any, fn: Any, calls: Sequence[Call], substitutes: Sequence[str],
                   path: Path) -> list[Outcome]:
        if not substitutes:
            return [self._call(fn, call, path) for call in calls]
        from grader.sandbox.stand_ins import install  # stdlib only, like substitutes

        namespace, formulas = vars(loaded), _sandbox_substitutes().SUBSTITUTES
        used: set[str] = set()
        undo: list[Callable[[], None]] = []
        try:
            for name in substitutes:
                undo.append(install(namespace, name, formulas[name], functools.partial(used.add, name),
                                    graded=fn))
            outcomes = []
            for call in calls:
                used.clear()
                outcome = self._call(fn, call, path)
                outcomes.append(dataclasses.replace(outcome, stand_ins=tuple(n for n in substitutes if n in used)))
            return outcomes
        finally:  # the helper itself is graded as written
            for step in reversed(undo):
                step()

    @classmethod
    def _call(cls, fn: Any, call: Call, path: Path | None = None) -> Outcome:
        if call.driver != "call":
            return _drive(fn, call)
        points: list[torch.Tensor] = []

        def recording(gf: GradientFunction) -> Any:
            def grad_fn(x: torch.Tensor) -> torch.Tensor:
                points.append(x.detach().clone())
                return gf(x)  # type: ignore[no-any-return]
            return grad_fn

        args = [recording(a) if isinstance(a, GradientFunction) else _clone(a) for a in call.args]
        out = io.StringIO()
        effects = _sandbox_effects()  # the worker's own checks (grader/sandbox/effects.py), for parity
        versions, state = effects.versions_of(tuple(args)), effects.global_state()
        rng = effects.rng_state() if call.report_inputs else None
        try:
            with contextlib.redirect_stdout(out):
                value = fn(*args, **call.kwargs)
        except Exception as exc:  # noqa: BLE001 - the student's exception is the answer
            changed = tuple(effects.restore_global_state(state, rng))
            return Outcome(raised=cls._exception_text(exc, path), stdout=out.getvalue(), effects=changed[:16])
        changed = effects.restore_global_state(state, rng)
        found = tuple(effects.effects_of(tuple(args), versions, value) + changed)
        seen: dict[int, Any] = {}  # one object returned and reported twice stays one object, as on the wire
        return Outcome(returned=_snapshot(value, seen),
                       inputs_after=tuple(_snapshot(a, seen) for a in args) if call.report_inputs else (),
                       grad_fn_points=tuple(TensorOut(p, str(p.device), "torch.Tensor") for p in points),
                       stdout=out.getvalue(), effects=found[:16])


def _drive(fn: Any, call: Call) -> Outcome:
    """A call with another sandbox driver (e.g. ``rollout``), run here: the driver is plain code."""
    try:
        from grader.sandbox.drivers import DRIVERS
    except ImportError:  # the student bundle has no sandbox package: probes are skipped, tests are not
        return Outcome(failure=f"was not run: the {call.driver!r} driver is not part of this installation")
    if call.driver not in DRIVERS:
        return Outcome(failure=f"was not run: no driver {call.driver!r} in grader/sandbox/drivers.py")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        done = DRIVERS[call.driver](fn, tuple(to_wire(a) for a in call.args), dict(call.kwargs))
    value = done.value
    returned = {k: _snapshot(v) for k, v in value.items()} if isinstance(value, dict) else _snapshot(value)
    return Outcome(returned=returned, raised=done.raised, stdout=out.getvalue())


def _clone(value: Any) -> Any:
    """A copy as the worker decodes it (grader/sandbox/wire.py): the same strides (a transposed or strided
    input stays one), a leaf that requires grad where the original did."""
    if not isinstance(value, torch.Tensor):
        return value
    with torch.no_grad():
        copy = torch.empty_strided(value.shape, value.stride(), dtype=value.dtype, device=value.device)
        copy.copy_(value)
    return copy.requires_grad_(value.requires_grad) if value.is_floating_point() else copy


def _snapshot(value: Any, seen: dict[int, Any] | None = None) -> Any:
    """What the sandbox's wire would deliver for ``value`` (grader/sandbox/wire.py), so the two runners'
    outcomes look alike: numpy arrays and scalars (np.float64 too) as tensors named by their numpy type,
    tuples and lists (subclasses such as NamedTuples included) as plain ones, exact builtin numbers and
    strings as themselves, anything else opaque.  A tensor met twice (in ``seen``) is one snapshot."""
    seen = {} if seen is None else seen
    if isinstance(value, np.ndarray | np.generic) and np.asarray(value).dtype.name in _NUMPY_DTYPES:
        return TensorOut(torch.from_numpy(np.array(value, copy=True)), "cpu", f"numpy.{type(value).__name__}")
    if isinstance(value, torch.Tensor):
        if id(value) in seen and seen[id(value)][0] is value:
            return seen[id(value)][1]
        with torch._C.DisableTorchFunction():
            data = torch.Tensor.detach(value).cpu().clone()
        snap = TensorOut(data, str(value.device), f"{type(value).__module__}.{type(value).__qualname__}"
                         if type(value) is not torch.Tensor else "torch.Tensor")
        seen[id(value)] = (value, snap)
        return snap
    if isinstance(value, tuple):
        return tuple(_snapshot(v, seen) for v in tuple.__iter__(value))
    if isinstance(value, list):
        return [_snapshot(v, seen) for v in list.__iter__(value)]
    if value is None or type(value) in (bool, int, float, str):
        return value
    module = type(value).__module__.removeprefix("_student_")  # named as in the sandbox: optimizers.Count
    name = type(value).__qualname__ if module == "builtins" else f"{module}.{type(value).__qualname__}"
    return OpaqueOut(name, repr(value)[:80])
