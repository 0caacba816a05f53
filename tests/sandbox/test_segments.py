"""Jobs of several functions (``Job.functions``): one worker serves each function's requests as a segment
in which it is as a fresh worker would be, so sharing a worker changes no answer and no verdict.

A segment gets the module imported afresh, torch's settings and the random generators as at the worker's
start, and the wall-clock, CPU and reply limits anew; a module that will not import, or lacks the function,
fails that function's requests alone."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from grader.sandbox import Job, Limits, Request, Sandbox
from tests.sandbox.conftest import write_student
from tests.sandbox.test_cuda_jobs import STATE


def several(path: Path, order: list[str], **kw: object) -> Job:
    return Job(path, order[0], [Request(function=f) for f in order], functions=dict.fromkeys(order, ()),
               **kw)  # type: ignore[arg-type]


def test_each_function_gets_a_fresh_module(sandbox: Sandbox, tmp_path: Path) -> None:
    """Module state one function's calls left behind is gone before the next function runs; a missing
    function fails its own requests only."""
    path = write_student(tmp_path, STATE)
    result = sandbox.run(several(path, ["g", "g", "missing", "h", "g"]))
    assert result.status == "ok", result.detail
    values = [r.value for r in result.replies]
    assert values[:2] == [1, 2]
    assert result.replies[2].unrunnable is not None
    assert result.replies[2].unrunnable[0] == "not_found"
    assert "missing" in result.replies[2].unrunnable[1]
    assert values[3] == 20
    assert values[4] == 1  # a fresh import: g's earlier calls are forgotten


def test_several_functions_need_each_request_to_name_one(sandbox: Sandbox, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Job.functions"):
        sandbox.run(Job(write_student(tmp_path, STATE), "g", [Request()], functions={"g": ()}))


def test_a_module_that_will_not_import_costs_only_its_own_functions(sandbox: Sandbox, tmp_path: Path) -> None:
    path = write_student(tmp_path, "def ok():\n    return 'fine'\n")
    write_student(tmp_path, "raise ValueError('broken on purpose')\ndef bad():\n    return 1\n", "epochs.py")
    job = Job(path, "ok", [Request(function=f) for f in ("ok", "bad", "ok")], functions={"ok": (), "bad": ()},
              siblings={"epochs": path.parent / "epochs.py"}, modules={"bad": "epochs"})
    result = sandbox.run(job)
    assert result.status == "ok", result.detail
    assert [r.value for r in result.replies] == ["fine", None, "fine"]
    assert result.replies[1].unrunnable is not None
    assert result.replies[1].unrunnable[0] == "import_error"
    assert "broken on purpose" in result.replies[1].unrunnable[1]


def test_modules_must_name_the_job_s_files(sandbox: Sandbox, tmp_path: Path) -> None:
    path = write_student(tmp_path, STATE)
    with pytest.raises(ValueError, match="Job.modules"):
        sandbox.run(several(path, ["g"], modules={"g": "elsewhere"}))


def test_each_function_gets_the_wall_clock_limit_anew(tmp_path: Path) -> None:
    """Two functions that each take most of the limit both finish; one that takes longer is charged, and
    the functions after it are never run in that job."""
    source = ("import time\ndef slow(s):\n    time.sleep(s)\n    return s\n\n"
              "def other(s):\n    time.sleep(s)\n    return s\n")
    path = write_student(tmp_path, source)
    with Sandbox(limits=Limits(wall_s=1.0, cpu_s=2)) as box:
        requests = [Request("call", (0.6,), function="slow"), Request("call", (0.6,), function="other")]
        result = box.run(Job(path, "slow", requests, functions={"slow": (), "other": ()}))
        assert result.status == "ok", result.detail
        assert [r.value for r in result.replies] == [0.6, 0.6]
        requests = [Request("call", (0.2,), function="slow"), Request("call", (3.0,), function="other"),
                    Request("call", (0.1,), function="slow")]
        result = box.run(Job(path, "slow", requests, functions={"slow": (), "other": ()}))
        assert result.status == "timeout"
        assert len(result.replies) == 1


def test_each_function_gets_its_share_of_cpu_time(tmp_path: Path) -> None:
    """CPU time: each function may spend the per-job limit; one that spends more is stopped (a timeout,
    as for a job of one function) and charged, not the next function."""
    source = ("import time\ndef spin(s):\n    end = time.process_time() + s\n"
              "    while time.process_time() < end:\n        pass\n    return s\n"
              "def other(s):\n    return spin(s)\n")
    path = write_student(tmp_path, source)
    with Sandbox(limits=Limits(wall_s=10.0, cpu_s=1)) as box:
        requests = [Request("call", (0.7,), function="spin"), Request("call", (0.7,), function="other")]
        result = box.run(Job(path, "spin", requests, functions={"spin": (), "other": ()}))
        assert result.status == "ok", result.detail
        requests = [Request("call", (0.3,), function="spin"), Request("call", (5.0,), function="other")]
        result = box.run(Job(path, "spin", requests, functions={"spin": (), "other": ()}))
        assert result.status == "timeout", result.detail
        assert "CPU time limit" in result.detail
        assert len(result.replies) == 1


def test_each_function_starts_with_torch_and_the_generators_as_at_the_start(sandbox: Sandbox,
                                                                            tmp_path: Path) -> None:
    """A module that changes torch's default dtype when imported, and a function that draws random numbers,
    leave nothing behind for the next function: it sees what a fresh worker sees."""
    first = ("import random, torch\ntorch.set_default_dtype(torch.float64)\n"
             "def messy():\n    torch.manual_seed(123)\n    return random.random()\n")
    second = ("import random, torch\n"
              "def look():\n    return str(torch.get_default_dtype()), random.random(), torch.rand(2)\n")
    path = write_student(tmp_path, first)
    write_student(tmp_path, second, "epochs.py")
    siblings = {"epochs": path.parent / "epochs.py"}
    alone = sandbox.run(Job(path.parent / "epochs.py", "look", [Request()]))
    job = Job(path, "messy", [Request(function="messy"), Request(function="look")],
              functions={"messy": (), "look": ()}, siblings=siblings, modules={"look": "epochs"})
    shared = sandbox.run(job)
    assert alone.status == shared.status == "ok", shared.detail
    dtype, draw, tensor = shared.replies[1].value  # type: ignore[misc]
    fresh_dtype, fresh_draw, fresh_tensor = alone.replies[0].value  # type: ignore[misc]
    assert dtype == fresh_dtype == "torch.float32"
    assert draw == fresh_draw
    assert torch.equal(tensor.tensor, fresh_tensor.tensor)


def test_each_function_gets_the_reply_budget_anew(tmp_path: Path) -> None:
    """A function whose answers fill the reply budget does not starve the next one."""
    source = "import torch\ndef big():\n    return torch.zeros(700_000)\ndef small():\n    return torch.ones(3)\n"
    path = write_student(tmp_path, source)
    with Sandbox(limits=Limits(reply_mb=3)) as box:
        requests = [Request(function="big")] * 1 + [Request(function="small")]
        result = box.run(Job(path, "big", requests, functions={"big": (), "small": ()}))
        assert result.status == "ok", result.detail
        assert torch.equal(result.replies[1].value.tensor, torch.ones(3))  # type: ignore[union-attr]
        requests = [Request(function="big")] * 2 + [Request(function="small")]  # the 2nd is over budget
        result = box.run(Job(path, "big", requests, functions={"big": (), "small": ()}))
        assert result.status == "ok", result.detail
        assert torch.equal(result.replies[2].value.tensor, torch.ones(3))  # type: ignore[union-attr]


# ------------------------------------------------------------------ sessions: batches in one worker

SESSION = """
import os, time
CALLS = []
def g(x=None):
    CALLS.append(1)
    return len(CALLS), os.getpid()
def h():
    return bias_correction(0.5, 1), os.getpid()
def bias_correction(beta, t):
    return 99.0
def nap(s):
    time.sleep(s)
    return s
"""


def batch(path: Path, order: list[str], functions: dict[str, tuple[str, ...]] | None = None,
          args: tuple[object, ...] = ()) -> Job:
    return Job(path, order[0], [Request("call", args, function=f) for f in order],
               functions=functions or dict.fromkeys(order, ()))


def test_a_session_serves_batches_in_one_worker_each_as_a_fresh_one(sandbox: Sandbox, tmp_path: Path) -> None:
    """Later batches reuse the worker (same pid) yet start from a fresh module, and bring their own
    stand-ins: h's helper is replaced in the second batch only."""
    path = write_student(tmp_path, SESSION)
    with sandbox.session(batch(path, ["g"])) as session:
        first = session.run(batch(path, ["g", "g", "h"]))
        second = session.run(batch(path, ["g", "h"], {"g": (), "h": ("bias_correction",)}))
        assert session.alive
    assert first.status == second.status == "ok", second.detail
    (n1, pid1), (n2, _), (ten, _) = (r.value for r in first.replies)  # type: ignore[misc]
    (n3, pid3), (stood_in, _) = (r.value for r in second.replies)  # type: ignore[misc]
    assert (n1, n2, ten, n3) == (1, 2, 99.0, 1)
    assert pid1 == pid3
    assert stood_in == 0.5  # the stand-in's 1 - 0.5**1, where the first batch had none
    assert second.replies[1].stand_ins == ("bias_correction",)


def test_a_session_s_clock_stops_between_batches(tmp_path: Path) -> None:
    import time

    path = write_student(tmp_path, SESSION)
    with Sandbox(limits=Limits(wall_s=1.0, cpu_s=2)) as box, box.session(batch(path, ["nap"])) as session:
        assert session.run(batch(path, ["nap"], args=(0.6,))).status == "ok"
        time.sleep(1.2)  # the trusted side judging: not the worker's time
        assert session.run(batch(path, ["nap"], args=(0.6,))).status == "ok"


def test_a_failed_batch_ends_its_session(sandbox: Sandbox, tmp_path: Path) -> None:
    path = write_student(tmp_path, SESSION + "def boom():\n    os._exit(7)\n")
    with sandbox.session(batch(path, ["g"])) as session:
        failed = session.run(batch(path, ["g", "boom", "g"]))
        assert failed.status == "crashed"
        assert len(failed.replies) == 1
        assert not session.alive
        assert session.run(batch(path, ["g"])).status == "crashed"  # the same answer: it is over
    with sandbox.session(batch(path, ["g"])) as fresh:
        assert fresh.run(batch(path, ["g"])).status == "ok"


def test_a_session_is_for_one_submission_s_files(sandbox: Sandbox, tmp_path: Path) -> None:
    path = write_student(tmp_path, SESSION)
    other = write_student(tmp_path / "other", SESSION)
    with sandbox.session(batch(path, ["g"])) as session, pytest.raises(ValueError, match="same files"):
        session.run(batch(other, ["g"]))


def test_no_function_takes_more_than_two_shares_of_cpu_time(tmp_path: Path) -> None:
    """A function that lifts its own soft CPU limit is still stopped (SIGKILL at the hard limit, which each
    segment keeps at most two shares ahead), and charged; the next function runs in a new worker."""
    source = ("import resource, time\ndef greedy():\n    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)\n"
              "    resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))\n"
              "    end = time.process_time() + 30\n    while time.process_time() < end:\n        pass\n"
              "def fine():\n    return 'ok'\n")
    path = write_student(tmp_path, source)
    with Sandbox(limits=Limits(wall_s=20.0, cpu_s=1)) as box:
        result = box.run(batch(path, ["greedy", "fine"]))
    assert result.status == "timeout", result.detail
    assert "CPU time limit" in result.detail
    assert result.seconds < 15  # stopped near two shares of CPU (3 s at most), not at the 20 s wall limit


# ------------------------------------------------------------------ preloaded requests (templates)


def test_preloaded_requests_get_the_same_answers_and_survive_a_zygote_restart(tmp_path: Path) -> None:
    import os
    import signal

    source = ("import torch\ndef f(x, y, n):\n    x.add_(1)\n"
              "    return x is y, x.stride(), x.requires_grad, n, float(x.sum())\n")
    path = write_student(tmp_path, source)
    x = torch.arange(6.0, dtype=torch.float64).reshape(2, 3).t()
    requests = [Request("call", (x, x, [1, 2]), function="f"), Request("call", (torch.ones(2), x, 3), function="f")]
    job = Job(path, "f", requests + requests[:1], functions={"f": ()})
    with Sandbox() as box:
        whole = box.run(job)
        assert box.preload(requests) == 2
        assert box._zygote is not None
        assert len(box._zygote.refs) == 2
        by_ref = box.run(job)
        os.kill(box.zygote_pid or 0, signal.SIGKILL)  # a new zygote is started, and given the templates
        box._zygote.proc.wait()  # type: ignore[union-attr]
        after = box.run(job)
        assert len(box._zygote.refs) == 2
    assert whole.status == by_ref.status == after.status == "ok", (by_ref.detail, after.detail)
    values = [[r.value for r in result.replies] for result in (whole, by_ref, after)]
    assert values[0][0] == (True, (1, 3), False, [1, 2], 21.0)  # one object twice, strided, ...
    assert values[0][2] == values[0][0]  # each call gets its own copy: the first call's add_ is gone
    assert values[0] == values[1] == values[2]


def test_runs_of_preloaded_requests_mixed_with_others_keep_their_order(sandbox: Sandbox, tmp_path: Path) -> None:
    """Preloaded requests go as runs of numbers (at most MAX_REFS a frame), others whole, in one order."""
    from grader.sandbox.sandbox import MAX_REFS

    path = write_student(tmp_path, "def echo(i, t):\n    return i, float(t.sum())\n")
    known = [Request("call", (i, torch.full((2,), float(i))), function="echo") for i in range(MAX_REFS + 5)]
    other = Request("call", (-1, torch.ones(3)), function="echo")
    order = known[:7] + [other] + known[7:] + [other]
    sandbox.preload(known)
    try:
        result = sandbox.run(Job(path, "echo", order, functions={"echo": ()}))
    finally:
        sandbox.preload([])
    assert result.status == "ok", result.detail
    expected = [(r.args[0], float(r.args[1].sum())) for r in order]  # type: ignore[union-attr, arg-type]
    assert [r.value for r in result.replies] == expected


def test_a_failing_function_s_output_is_its_own(sandbox: Sandbox, tmp_path: Path) -> None:
    """An earlier function that fills the output cap does not crowd out what the failing one printed."""
    source = ("import os\ndef chatty():\n    print('x' * 60_000)\n    return 1\n"
              "def boom():\n    print('about to fail', flush=True)\n    os._exit(9)\n")
    path = write_student(tmp_path, source)
    result = sandbox.run(Job(path, "chatty", [Request(function="chatty"), Request(function="boom")],
                             functions={"chatty": (), "boom": ()}))
    assert result.status == "crashed", result.detail
    assert "about to fail" in result.stdout[-2000:]  # the part a failure's feedback shows (runners.py)
    assert "more bytes not kept" in result.stdout
