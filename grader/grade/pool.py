"""Spread a class over trusted grading processes, so judging, shrinking, reports and plots use many cores.

One Python process judges at most one core's worth (the GIL), and each correct submission costs the
trusted side about 0.3 CPU-s besides its sandboxed jobs.  So ``grade_class`` grades in this process
*and* in ``extra`` spawned processes, each a :class:`~grader.grade.submission.Grader` with its own
sandbox.  Every process is trusted: it runs the suite's judges on answers decoded from its own
sandboxed workers (never unpickled), exactly as a single process does.  Between trusted processes
only trusted data travels: the run's settings, the drawn examples (in the example cache's format), the
staged submissions' paths, and back the student id and whether grading succeeded.  Each process
writes its students' files itself; the gradebook is rebuilt from them at the end.

Submissions are handed out one at a time to whichever process has a free slot, so a student whose
code stalls until its budget runs out holds one slot, not a share of the class.  A process that dies
(a bug of ours) costs only the submissions it was grading: they get grader_error.txt, a rerun
resumes them, and the others go on in the remaining processes.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from grader.errors import GraderFault
from grader.grade.submission import Grader, Settings, questions, runnable, write_grader_error
from grader.sandbox.staging import Submission
from grader.suite import example_cache

_grader: Grader | None = None  # the Grader of a spawned process, set up once by _start


@dataclass(frozen=True)
class Plan:
    """How a class is spread: ``threads`` submissions at a time here, one in each of ``extra`` processes."""

    threads: int
    extra: int


# A spawned process costs a few seconds to start (Python, torch, its sandbox's zygote): worth it only
# when it will grade at least this many submissions (a correct one takes about a second).
MIN_PER_PROCESS = 4


def plan(jobs: int, todo: int) -> Plan:
    """``jobs`` submissions at once: one per process when the class is large enough, else threads here."""
    extra = max(0, min(jobs - 1, todo // MIN_PER_PROCESS - 1))
    return Plan(threads=max(1, min(jobs - extra, todo)), extra=extra)


def _start(settings: Settings, key: str, blob: bytes, version: str) -> None:
    """Set up a spawned process: the same suite as the parent's (checked by its version), a sandbox."""
    global _grader
    props, _ = questions(settings)
    drawn = example_cache.unpack(blob, key, runnable(settings, props), settings.examples)
    if drawn is None:
        raise GraderFault("the drawn examples did not reach a grading process intact")
    grader = Grader.create(settings, drawn)
    if grader.version != version:
        raise GraderFault(f"a grading process built another suite (version {grader.version}, expected {version})")
    grader.open_sandbox(1)
    multiprocessing.util.Finalize(grader, grader.close, exitpriority=10)  # runs as the process exits
    _grader = grader


def _grade(sub: Submission) -> tuple[bool, int, float]:
    """Grade ``sub`` here; also say which process did and how much CPU time it has used of its own."""
    assert _grader is not None, "grading process not started"
    ok = _grader.grade(sub)
    times = os.times()
    return ok, os.getpid(), times.user + times.system


def _grade_here(grader: Grader) -> Callable[[Submission], tuple[bool, int, float]]:
    return lambda sub: (grader.grade(sub), 0, 0.0)  # this process's CPU time is measured by the caller


def grade_all(local: Grader, todo: Sequence[Submission], layout: Plan, *,
              on_done: Callable[[Submission, bool], None], on_note: Callable[[str], None] = print) -> float:
    """Grade ``todo`` with ``local`` (``layout.threads`` at a time) and ``layout.extra`` spawned processes;
    ``on_done(sub, ok)`` is called here, in this thread, as each one finishes.  Returns the CPU seconds the
    spawned processes used of their own (their sandboxes' not included)."""
    pending = deque(todo)
    executors: list[tuple[Executor, int, Callable[[Submission], tuple[bool, int, float]]]] = [
        (ThreadPoolExecutor(max_workers=layout.threads, thread_name_prefix="grade"), layout.threads,
         _grade_here(local))]
    if layout.extra and len(todo) > layout.threads:
        executors.append((_processes(local, layout.extra), layout.extra, _grade))
    running: dict[Future[tuple[bool, int, float]], tuple[Submission, int]] = {}
    cpu: dict[int, float] = {}
    busy = [0] * len(executors)
    broken: set[int] = set()
    retried: set[str] = set()

    def fill() -> None:
        for i, (executor, capacity, work) in enumerate(executors):
            while pending and busy[i] < capacity and i not in broken:
                sub = pending.popleft()
                running[executor.submit(work, sub)] = (sub, i)
                busy[i] += 1

    try:
        fill()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                sub, i = running.pop(future)
                busy[i] -= 1
                try:
                    ok, pid, used = future.result()
                    cpu[pid] = max(cpu.get(pid, 0.0), used)
                except BrokenProcessPool as exc:
                    if i not in broken:
                        on_note(f"a grading process ended unexpectedly ({exc}); its submissions are graded "
                                f"by the others")
                    broken.add(i)
                    if sub.student_id not in retried:  # it may never have started (a process that failed to
                        retried.add(sub.student_id)    # start): once more elsewhere, then it is our error
                        pending.appendleft(sub)
                        continue
                    write_grader_error(local.settings.out / sub.student_id,
                                       f"the grading process that had this submission ended unexpectedly "
                                       f"({exc}); a rerun of the same command grades it again")
                    ok = False
                on_done(sub, ok)
            fill()
    finally:
        for executor, _, _ in executors:
            executor.shutdown(wait=True, cancel_futures=True)
    return sum(used for pid, used in cpu.items() if pid)  # pid 0: this process, measured by the caller


def _processes(local: Grader, count: int) -> ProcessPoolExecutor:
    """``count`` spawned grading processes with ``local``'s settings and examples (not drawn again)."""
    props, _ = questions(local.settings)
    settings = local.settings
    key = example_cache.cache_key(runnable(settings, props), settings.examples, settings.seed)
    blob = example_cache.pack(key, local.suite.drawn or {})
    if blob is None:
        raise GraderFault("the drawn examples cannot be sent to a grading process (a value the example "
                          "cache's format does not carry)")
    # spawn, not fork: this process may hold threads (progress bar, a test runner) and CUDA state.
    return ProcessPoolExecutor(max_workers=count, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start, initargs=(settings, key, blob, local.version))
