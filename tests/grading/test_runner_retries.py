"""SandboxRunner's retries: a slow machine costs nothing, a stalling function costs a bounded time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from grader.suite.model import Call
from grader.suite.runners import Batch, SandboxRunner

CALLS = [Call("f", (i,)) for i in range(6)]
FILES = {"optimizers": Path("optimizers.py")}


class ScriptedSandbox:
    """Answers each request with its argument, except where ``fails(index, job_number)`` says the job
    ended there (a status such as "timeout" or "crashed")."""

    def __init__(self, fails: Callable[[int, int], str | None]) -> None:
        self.fails, self.jobs = fails, 0

    def run(self, job: Any) -> SimpleNamespace:
        self.jobs += 1
        replies = []
        for request in job.requests:
            index = request.args[0]
            status = self.fails(index, self.jobs)
            if status is not None:
                return SimpleNamespace(status=status, replies=replies, detail="ended", stdout="")
            replies.append(SimpleNamespace(value=index, raised=None, inputs_after=(), grad_fn_points=()))
        return SimpleNamespace(status="ok", replies=replies, detail="", stdout="")


def run(fails: Callable[[int, int], str | None]) -> tuple[list[Any], int]:
    box = ScriptedSandbox(fails)
    outcomes = SandboxRunner(box).run(FILES, "optimizers", "f", CALLS)
    return outcomes, box.jobs


def test_a_timeout_that_does_not_repeat_costs_nothing() -> None:
    outcomes, jobs = run(lambda i, job: "timeout" if (i, job) == (2, 1) else None)
    assert [o.returned for o in outcomes] == list(range(6))
    assert all(o.failure is None for o in outcomes)
    assert jobs == 2


def test_a_call_that_hangs_every_time_is_charged_and_the_rest_still_run() -> None:
    outcomes, jobs = run(lambda i, job: "timeout" if i == 2 else None)
    assert [o.failure is not None for o in outcomes] == [False, False, True, False, False, False]
    assert "did not finish" in (outcomes[2].failure or "")
    assert jobs == 3


def test_a_function_that_always_hangs_costs_at_most_three_jobs() -> None:
    outcomes, jobs = run(lambda i, job: "timeout")
    assert all(o.failure for o in outcomes)
    assert jobs == 3
    # The calls that never ran say so, and which call used up the function's tries (not "did not finish").
    assert [(o.failure or "").startswith("did not finish") for o in outcomes] == [True, True] + [False] * 4
    assert all((o.failure or "").startswith("was not run: an earlier call of f failed (did not finish")
               for o in outcomes[2:])


def test_a_crash_is_charged_at_once() -> None:
    outcomes, jobs = run(lambda i, job: "crashed" if i == 1 else None)
    assert [o.failure is not None for o in outcomes] == [False, True, False, False, False, False]
    assert jobs == 2


def run_two(fails: Callable[[int, int], str | None]) -> tuple[list[Any], int]:
    """f's calls 0-2 then g's calls 3-5, in one worker."""
    box = ScriptedSandbox(fails)
    calls = [Call("f" if i < 3 else "g", (i,)) for i in range(6)]
    batches = [Batch("optimizers", "f", calls[:3]), Batch("optimizers", "g", calls[3:])]
    outcomes = SandboxRunner(box).run_many(FILES, batches)
    return outcomes[0] + outcomes[1], box.jobs


def test_a_crash_after_another_function_is_charged_only_if_it_crashes_in_a_fresh_worker_too() -> None:
    """What f left running may have crashed the worker during g's call: g's call gets a worker of its own
    first, and only a crash there is g's."""
    outcomes, jobs = run_two(lambda i, job: "crashed" if (i, job) == (4, 1) else None)
    assert all(o.failure is None for o in outcomes)
    assert jobs == 2
    outcomes, jobs = run_two(lambda i, job: "crashed" if i == 4 else None)
    assert [o.failure is not None for o in outcomes] == [False, False, False, False, True, False]
    assert "crashed" in (outcomes[4].failure or "")
    assert jobs == 3
    # In the function that came first, a crash is charged at once (no other function ran before it).
    outcomes, jobs = run_two(lambda i, job: "crashed" if i == 1 else None)
    assert [o.failure is not None for o in outcomes] == [False, True, False, False, False, False]
    assert jobs == 2


def test_a_restart_is_charged_to_no_one() -> None:
    outcomes, jobs = run_two(lambda i, job: "restart" if (i, job) == (3, 1) else None)
    assert [o.returned for o in outcomes] == list(range(6))
    assert all(o.failure is None for o in outcomes)
    assert jobs == 2
