"""Spread a class over trusted grading processes, so judging, shrinking, reports and plots use many cores.

One Python process judges at most one core's worth (the GIL), and each submission costs the trusted
side 0.25–0.5 CPU-s besides its sandboxed worker.  So ``grade_class`` grades in this process *and* in
``extra`` started processes (``python -c "…serve(fd)"``, the same checkout), each a
:class:`~grader.grade.submission.Grader` with its own sandbox.  Every one of them is trusted: it runs
the suite's judges on answers decoded from its own sandboxed workers (never unpickled), exactly as a
single process does.  Between trusted processes only trusted data travels, pickled over a private
socket pair: the run's settings, the drawn examples (in the example cache's format, so they are not
drawn again), a staged submission's paths, and back whether grading succeeded.  Each process writes
its students' files itself; the gradebook is rebuilt from them at the end.

Submissions are taken one at a time by whichever process has a free slot, so a student whose code
stalls until its budget runs out holds one slot, not a share of the class.  A process that cannot
start costs nothing (the others take its share); one that dies while grading (a bug of ours) hands its
submission back once, and the second time that submission gets grader_error.txt (a rerun resumes it).
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, Pipe
from pathlib import Path

from grader.errors import GraderFault
from grader.grade.submission import Grader, SandboxOpening, Settings, questions, runnable, write_grader_error
from grader.intake.staging import Submission
from grader.suite import example_cache

ROOT = Path(__file__).resolve().parents[2]  # the checkout a started process imports grader from
START_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Plan:
    """How a class is spread: ``threads`` submissions at a time here, one in each of ``extra`` processes."""

    threads: int
    extra: int


# One process keeps up with the trusted work of two submissions at a time (its share of a submission's
# CPU time is well under half); more at once would wait on its GIL, so further slots are processes.
LOCAL_SLOTS = 2
# A started process costs a few CPU-seconds (Python, torch, its sandbox's zygote): worth it only when
# it will grade at least this many submissions (a correct one takes about a second).
MIN_PER_PROCESS = 4


def plan(jobs: int, todo: int) -> Plan:
    """``jobs`` submissions at once: up to LOCAL_SLOTS in threads here, one in each further process when
    the class is large enough to pay for starting them (else more threads here)."""
    extra = max(0, min(jobs - LOCAL_SLOTS, todo // MIN_PER_PROCESS - LOCAL_SLOTS))
    return Plan(threads=max(1, min(jobs - extra, todo)), extra=extra)


class _Queue:
    """The submissions left, taken one at a time; one handed back is graded by someone else."""

    def __init__(self, subs: Sequence[Submission]) -> None:
        self.pending = deque(subs)
        self.taken = 0
        self.stopped = False
        self.handed_back: set[str] = set()
        self.cond = threading.Condition()

    def take(self) -> Submission | None:
        """The next submission; None when none is left (waits while one may still be handed back)."""
        with self.cond:
            while not self.pending and self.taken and not self.stopped:
                self.cond.wait()
            if not self.pending or self.stopped:
                return None
            self.taken += 1
            return self.pending.popleft()

    def done(self) -> None:
        with self.cond:
            self.taken -= 1
            self.cond.notify_all()

    def hand_back(self, sub: Submission) -> bool:
        """Put ``sub`` back for another process, once; False the second time (then it is our error)."""
        with self.cond:
            self.taken -= 1
            again = sub.student_id not in self.handed_back
            if again:
                self.handed_back.add(sub.student_id)
                self.pending.appendleft(sub)
            self.cond.notify_all()
            return again

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()


Event = tuple[Submission, bool] | str  # a graded submission, or a note for the console


def grade_all(local: Grader, todo: Sequence[Submission], layout: Plan, *,
              on_done: Callable[[Submission, bool], None], on_note: Callable[[str], None] = print) -> dict[int, float]:
    """Grade ``todo`` with ``local`` (``layout.threads`` at a time) and ``layout.extra`` started processes;
    ``on_done(sub, ok)`` and ``on_note(text)`` are called in this thread.  Returns, for each started process
    that graded, the CPU seconds it used of its own (its sandbox's not included), by process id."""
    work = _Queue(todo)
    events: queue.Queue[Event] = queue.Queue()
    cpu: dict[int, float] = {}
    threads = [threading.Thread(target=_grade_here, args=(local, work, events), daemon=True, name=f"grade-{i}")
               for i in range(layout.threads)]
    spawned: list[_Process] = []
    left = len(todo)
    try:
        for thread in threads:
            thread.start()
        start = _start_message(local) if layout.extra and len(todo) > layout.threads else None
        if isinstance(start, str):
            on_note(f"{start}; grading in this process only")
        elif start is not None:
            for i in range(layout.extra):
                spawned.append(_Process())
                threads.append(threading.Thread(target=spawned[-1].feed, args=(start, work, events, cpu),
                                                daemon=True, name=f"process-{i}"))
                threads[-1].start()
        while left:
            try:
                event = events.get(timeout=1.0)
            except queue.Empty:
                if not any(thread.is_alive() for thread in threads):  # (a bug of ours, never a student's)
                    raise GraderFault(f"grading stopped with {left} submission(s) left; rerun to resume") from None
                continue
            if isinstance(event, str):
                on_note(event)
                continue
            left -= 1
            on_done(*event)
    finally:
        work.stop()  # on an interruption: nothing new is started, what runs finishes or is stopped
        for proc in spawned:
            proc.close()
        for thread in threads:
            thread.join(timeout=None if left == 0 else 0.1)
    return cpu


def _grade_here(grader: Grader, work: _Queue, events: queue.Queue[Event]) -> None:
    while (sub := work.take()) is not None:
        ok = grader.grade(sub)  # never raises for a submission: a failure is its grader_error.txt
        work.done()
        events.put((sub, ok))


def _start_message(local: Grader) -> tuple[Settings, str, bytes, str] | str:
    """What a started process needs to build ``local``'s suite without drawing it again (or why not)."""
    settings = local.settings
    props, _ = questions(settings)
    key = example_cache.cache_key(runnable(settings, props), settings.examples, settings.seed)
    blob = example_cache.pack(key, local.suite.drawn or {})
    if blob is None:
        return "the drawn examples cannot be sent to another process (a value the example cache cannot carry)"
    return settings, key, blob, local.version


class _Process:
    """A started grading process and the thread here that feeds it one submission at a time."""

    def __init__(self) -> None:
        self.conn, theirs = Pipe()
        code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); "  # this checkout, whatever the working folder
                f"from grader.grade.pool import serve; serve({theirs.fileno()})")
        self.proc = subprocess.Popen([sys.executable, "-c", code], pass_fds=[theirs.fileno()],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        theirs.close()
        self._lock = threading.Lock()  # close() may send while the feeding thread does

    def _send(self, message: object) -> None:
        with self._lock:
            self.conn.send(message)

    def feed(self, start: tuple[Settings, str, bytes, str], work: _Queue, events: queue.Queue[Event],
             cpu: dict[int, float]) -> None:
        try:
            self._send(start)
            if not self.conn.poll(START_TIMEOUT_S):
                raise TimeoutError(f"not ready after {START_TIMEOUT_S:g} s")
            ready = str(self.conn.recv())
        except (OSError, EOFError, TimeoutError) as exc:
            ready = _why(exc, self.proc)
        if ready != "ready":
            events.put(f"a grading process could not start ({ready}); the others grade its share")
            return
        while (sub := work.take()) is not None:
            try:
                self._send(sub)
                ok, used = self.conn.recv()
            except Exception as exc:  # noqa: BLE001 - the process died or the pipe broke: it is stopped
                self.proc.kill()
                why = _why(exc, self.proc)
                if work.hand_back(sub):
                    events.put(f"a grading process ended unexpectedly ({why}); {sub.student_id} is graded again "
                               f"by another")
                else:
                    write_grader_error(start[0].out / sub.student_id,
                                       f"grading this submission ended its grading process twice ({why}); a rerun "
                                       f"of the same command tries again")
                    events.put((sub, False))
                return
            work.done()
            cpu[self.proc.pid] = used
            events.put((sub, bool(ok)))

    def close(self) -> None:
        """Ask the process to finish (after its current submission), then make sure it has."""
        with contextlib.suppress(OSError):
            self._send(None)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.conn.close()


def _why(exc: BaseException, proc: subprocess.Popen[bytes]) -> str:
    try:
        code: int | None = proc.wait(timeout=2)  # the connection broke: it is most likely ending
    except subprocess.TimeoutExpired:
        code = None
    return f"{type(exc).__name__}: {exc}" if code is None else f"exit status {code}"


def serve(fd: int) -> None:
    """The started process: build the parent's suite (checked by its version), then grade what it sends."""
    conn = Connection(fd)
    settings, key, blob, version = conn.recv()
    opening = SandboxOpening(settings, 1)  # its zygote starts while the suite is built
    try:
        props, _ = questions(settings)
        drawn = example_cache.unpack(blob, key, runnable(settings, props), settings.examples)
        if drawn is None:
            raise GraderFault("the drawn examples did not arrive intact")
        grader = Grader.create(settings, drawn)
        if grader.version != version:
            raise GraderFault(f"this process built another suite (version {grader.version}, expected {version})")
        grader.use_sandbox(opening.take())
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which grades without this process
        opening.discard()
        conn.send(f"{type(exc).__name__}: {exc}")
        return
    try:
        conn.send("ready")
        while (sub := conn.recv()) is not None:
            ok = grader.grade(sub)
            times = os.times()
            conn.send((ok, times.user + times.system))
    except (EOFError, KeyboardInterrupt):
        pass  # the parent has gone or was interrupted: stop
    finally:
        grader.close()
