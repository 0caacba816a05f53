"""What one function leaves in a worker it shares with the student's other functions (worker.Segments,
grader/sandbox/residue.py): put back before the next function runs, or, where it cannot be, the worker
stops at the next function's start (``restart``) so the rest runs in a fresh one."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.sandbox import Job, Request, Sandbox
from tests.sandbox.conftest import write_student

LOOK = '''
import gc, os, sys, signal, resource, tempfile, warnings, numpy, torch
def look():
    return (len(warnings.filters), sys.getrecursionlimit(), tuple(sorted(numpy.geterr().items())),
            os.getcwd(), os.environ.get("LEFT"), tuple(sorted(os.listdir(tempfile.gettempdir()))),
            sys.stdout is sys.__stdout__, str(signal.getsignal(signal.SIGTERM)),
            resource.getrlimit(resource.RLIMIT_NOFILE), torch.get_num_threads(),
            torch.get_float32_matmul_precision(), str(torch.get_default_device()), tempfile.gettempdir(),
            torch.tensor(1e-320, dtype=torch.float64).item(), gc.isenabled(), gc.get_threshold(), umask(),
            getattr(getattr(torch, "_GLOBAL_DEVICE_CONTEXT", None), "device_context", None) is None,
            len(gc.callbacks))
def umask():
    old = os.umask(0o022)
    os.umask(old)
    return old
'''

RESTORABLE = LOOK + '''
import io
def mess():
    warnings.simplefilter("error")
    warnings.filters = list(warnings.filters)
    sys.setrecursionlimit(80)
    numpy.seterr(all="raise")
    os.environ["LEFT"] = "1"
    open("left.txt", "w").write("x")
    os.makedirs("sub/deeper")
    os.chdir("sub")
    tempfile.tempdir = os.getcwd()
    sys.stdout = io.StringIO()
    signal.signal(signal.SIGTERM, lambda *a: None)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft - 1, hard))
    torch.set_num_threads(2)
    torch.set_float32_matmul_precision("medium")
    torch.set_default_device("meta")
    torch.set_flush_denormal(True)
    gc.disable()
    gc.set_threshold(5)
    os.umask(0)
    gc.callbacks.append(lambda phase, info: None)
    return "messed"
'''


def job(path: Path, order: list[str]) -> Job:
    return Job(path, order[0], [Request(function=f) for f in order], functions=dict.fromkeys(order, ()))


def test_what_a_function_changed_is_put_back_before_the_next_one(sandbox: Sandbox, tmp_path: Path) -> None:
    result = sandbox.run(job(write_student(tmp_path, RESTORABLE), ["look", "mess", "look"]))
    assert result.status == "ok", result.detail
    fresh, messed, after = (r.value for r in result.replies)
    assert messed == "messed"
    assert after == fresh


LASTING = {
    "thread": ("import threading, time\n"
               "def mess():\n    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n",
               "thread(s) still running"),
    "timer": "import signal\ndef mess():\n    signal.setitimer(signal.ITIMER_REAL, 30)\n",
    "alarm": "import signal\ndef mess():\n    signal.alarm(30)\n",
    "patched_tensor": "import torch\ndef mess():\n    torch.Tensor.__mul__ = lambda a, b: a\n",
    "patched_torch": "import torch\ndef mess():\n    torch.sqrt = abs\n",
    "patched_math": "import math\ndef mess():\n    math.exp = abs\n",
    "patched_builtin": "import builtins\ndef mess():\n    builtins.abs = lambda x: 0\n",
    "patched_modules": "import sys\ndef mess():\n    sys.modules['numpy'] = sys\n",
    "trace_function": "import sys\ndef mess():\n    sys.setprofile(lambda *a: None)\n",
    "import_hook": "import sys\ndef mess():\n    sys.meta_path.insert(0, object())\n",
    "hard_limit": ("import resource\ndef mess():\n"
                   "    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
                   "    resource.setrlimit(resource.RLIMIT_NOFILE, (soft - 1, hard - 1))\n"),
    "new_tensor_method": "import torch\ndef mess():\n    torch.Tensor.lerp = lambda *a, **k: 0\n",
    "closed_stdout": "import sys\ndef mess():\n    sys.stdout.close()\n",
    "redirected_stderr": "import os\ndef mess():\n    os.dup2(os.open('/dev/null', os.O_WRONLY), 2)\n",
    "function_mode": ("import torch\nfrom torch.overrides import TorchFunctionMode\n"
                      "class Zeros(TorchFunctionMode):\n"
                      "    def __torch_function__(self, func, types, args=(), kwargs=None):\n"
                      "        return func(*args, **(kwargs or {}))\n"
                      "def mess():\n    torch._kept = Zeros()\n    torch._kept.__enter__()\n", "mode left on"),
    "open_file": "import os\ndef mess():\n    global kept\n    kept = os.open('/dev/null', os.O_RDONLY)\n",
    "held_memory": ("import torch\ndef mess():\n    torch._kept = torch.ones(96 << 20, dtype=torch.float64)\n",
                    "MB of memory still held"),
    "inference_mode": ("import torch\ndef mess():\n    torch._kept = torch.inference_mode()\n"
                       "    torch._kept.__enter__()\n", "inference mode"),
}


@pytest.mark.parametrize("leftover", sorted(LASTING))
def test_what_cannot_be_put_back_sends_the_next_function_to_a_fresh_worker(sandbox: Sandbox, tmp_path: Path,
                                                                          leftover: str) -> None:
    case = LASTING[leftover]
    source, says = case if isinstance(case, tuple) else (case, "")
    path = write_student(tmp_path, source + "def look():\n    return 'fresh'\n")
    result = sandbox.run(job(path, ["mess", "look"]))
    assert result.status == "restart", (result.status, result.detail)
    assert len(result.replies) == 1
    assert result.replies[0].raised is None
    assert says in result.detail
    again = sandbox.run(job(path, ["look", "mess"]))  # in its first function a worker is fresh: no check
    assert again.status == "ok", again.detail


def test_a_worker_that_stays_as_it_was_serves_every_function(sandbox: Sandbox, tmp_path: Path) -> None:
    source = ("import threading, torch, math, warnings\n"
              "def mess():\n"
              "    t = threading.Thread(target=lambda: None)\n    t.start()\n    t.join()\n"  # finished: no residue
              "    warnings.filterwarnings('ignore')\n"
              "    return float(torch.tensor(2.0).sqrt()) + math.exp(0)\n"
              "def look():\n    return 'fresh'\n")
    result = sandbox.run(job(write_student(tmp_path, source), ["mess", "look", "mess"]))
    assert result.status == "ok", result.detail
    assert [r.value for r in result.replies][1] == "fresh"


def test_a_stale_frame_where_no_function_starts_is_a_fault(sandbox: Sandbox, tmp_path: Path) -> None:
    """Only the worker, at a later function's start, may ask to be replaced: a student who forges that
    frame in the middle of a function's calls gets a malformed-stream failure, never a free rerun."""
    source = ("import os\nfrom grader.sandbox.wire import encode_frame\n"
              "def forge():\n    os.write(4, encode_frame('stale', {'detail': 'forged'}))\n    return 1\n")
    result = sandbox.run(job(write_student(tmp_path, source), ["forge", "forge"]))
    assert result.status == "protocol_error", (result.status, result.detail)
    assert "stale" in result.detail


def test_no_audit_hook_can_be_added(sandbox: Sandbox, tmp_path: Path) -> None:
    """A hook could never be removed, and would fire in the next function's calls, after the check."""
    source = ("import sys\nseen = []\n"
              "def hook():\n    sys.addaudithook(lambda event, args: seen.append(event))\n"
              "    open('/dev/null').close()\n    return len(seen)\n")
    result = sandbox.run(job(write_student(tmp_path, source), ["hook"]))
    assert result.status == "ok", result.detail
    assert result.replies[0].value == 0


FORGE = """
import os
from grader.sandbox.wire import encode_frame
def forge():
    os.write(4, encode_frame("reply", {"value": 99, "seconds": 0.0}))  # one answer too many
    return 1
def look():
    return "fresh"
"""


def test_a_forged_reply_never_lands_on_a_later_function(sandbox: Sandbox, tmp_path: Path) -> None:
    """At a later function's start the worker says how many answers it sent: one forged frame more, and
    that function's replies are dropped (its calls run again elsewhere), not shifted onto it."""
    result = sandbox.run(job(write_student(tmp_path, FORGE), ["forge", "forge", "look", "look"]))
    assert result.status == "protocol_error", (result.status, result.detail)
    assert len(result.replies) == 2  # forge's two calls (their answers shifted: forge's own doing)
    assert "start was due" in result.detail


def test_a_forged_reply_costs_the_later_function_nothing(sandbox: Sandbox, tmp_path: Path) -> None:
    from grader.suite.model import Call
    from grader.suite.runners import Batch, SandboxRunner

    path = write_student(tmp_path, FORGE)
    runner = SandboxRunner(sandbox)
    batches = [Batch("optimizers", "forge", [Call("forge", ())] * 2),
               Batch("optimizers", "look", [Call("look", ())] * 2)]
    _, looked = runner.run_many({"optimizers": path}, batches)
    assert [o.failure for o in looked] == [None, None]
    assert [o.returned for o in looked] == ["fresh", "fresh"]
