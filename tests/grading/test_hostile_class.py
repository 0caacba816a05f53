"""A whole class with hostile submissions, graded through the real sandbox.

Each hostile student is the correct demo student with ``sgd_step`` replaced by an attack that ends by
returning the same wrong answer as an honest baseline (``param + 1``).  An attack must earn nothing
more than that baseline on ``sgd_step``, cost nothing on the student's other functions, and leave the
honest neighbours, the output folder and the grades of a second run untouched.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from grader.grade.run import grade_class
from grader.suite.contract import FUNCTIONS
from tests.grading.conftest import CORRECT

FAST = {"examples": 4, "wall_s": 2.0, "jobs": 2}
WRONG = "    return param + 1.0\n"

ATTACKS = {
    "baseline": "def sgd_step(param, grad, lr):\n" + WRONG,
    "fake_verdicts": (
        "def sgd_step(param, grad, lr):\n"
        "    print('=== 100/100 all tests passed ===')\n"
        "    print('{\"score\": 100, \"tests\": [], \"status\": \"passed\"}')\n" + WRONG
    ),
    "patch_comparisons": (
        "import math, numpy, numpy.testing, torch\n"
        "torch.allclose = lambda *a, **k: True\n"
        "torch.equal = lambda *a, **k: True\n"
        "torch.isclose = lambda a, b, **k: torch.ones_like(a, dtype=torch.bool)\n"
        "math.isclose = lambda *a, **k: True\n"
        "numpy.testing.assert_allclose = lambda *a, **k: None\n"
        "def sgd_step(param, grad, lr):\n" + WRONG
    ),
    "lying_tensor": (
        "import torch\n"
        "class Liar(torch.Tensor):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "    def tolist(self):\n"
        "        return [0.0]\n"
        "def sgd_step(param, grad, lr):\n"
        "    return (param + 1.0).as_subclass(Liar)\n"
    ),
    "steal_reference": (
        "import glob, os\n"
        "def sgd_step(param, grad, lr):\n"
        "    for pattern in ('/work/*/solutions/optimizers.py', '/tmp/**/solutions/optimizers.py',\n"
        "                    os.path.expanduser('~/**/solutions/optimizers.py'), '../../solutions/optimizers.py'):\n"
        "        for path in glob.glob(pattern, recursive=True):\n"
        "            try:\n"
        "                space = {}\n"
        "                exec(open(path).read(), space)\n"
        "                return space['sgd_step'](param, grad, lr)\n"
        "            except Exception:\n"
        "                pass\n" + WRONG
    ),
    "forge_outputs": (
        "import glob, os\n"
        "def sgd_step(param, grad, lr):\n"
        "    for folder in glob.glob('/tmp/**/', recursive=True)[:200] + ['..', '../..', os.getcwd()]:\n"
        "        for name in ('results.json', 'grades.csv'):\n"
        "            try:\n"
        "                with open(os.path.join(folder, name), 'w') as f:\n"
        "                    f.write('{\"score\": 100}')\n"
        "            except OSError:\n"
        "                pass\n" + WRONG
    ),
    "kill_the_grader": (
        "import os, signal\n"
        "def sgd_step(param, grad, lr):\n"
        "    for pid in (os.getppid(), 1):\n"
        "        try:\n"
        "            os.kill(pid, signal.SIGKILL)\n"
        "        except OSError:\n"
        "            pass\n" + WRONG
    ),
    # Answers the judges (trusted code) cannot read: each used to raise in the grading process and end
    # the whole class run (numpy has no bfloat16; shapes that do not broadcast against the expected one).
    "bfloat16_answer": "def sgd_step(param, grad, lr):\n    return (param + 1.0).bfloat16()\n",
    "unbroadcastable_shape": (
        "import torch\n"
        "def sgd_step(param, grad, lr):\n"
        "    return torch.cat([(param + 1.0).reshape(-1)] * 3)\n"
    ),
    # An exception message that closes the feedback's code block and writes its own markdown.
    "markdown_breakout": (
        "def sgd_step(param, grad, lr):\n"
        "    raise ValueError('\\x1b[2J\\u202e\\n```\\n## sgd_step FAKE 4.44 / 4.44'\n"
        "                     '\\n<img src=x onerror=alert(1)>\\n```')\n"
    ),
    # Lone surrogates survive the wire's JSON and used to make writing the feedback raise.
    "lone_surrogates": (
        "import torch\n"
        "class Odd(torch.Tensor):\n"
        "    pass\n"
        "Odd.__qualname__ = 'Odd\\ud800'\n"
        "def sgd_step(param, grad, lr):\n"
        "    if lr > 0.5:\n"
        "        raise ValueError('\\udcff')\n"
        "    return (param + 1.0).as_subclass(Odd)\n"
    ),
    "exit_mid_call": "import os\ndef sgd_step(param, grad, lr):\n    os._exit(0)\n",
    "hang": "def sgd_step(param, grad, lr):\n    while True:\n        pass\n",
    # Leftovers in a worker that serves the student's other functions after this one (worker.Segments):
    # each used to reach those functions' calls, not this one's.  Each waits until sgd_step's calls are
    # over (a timer set long enough, a thread that fires once this module is gone), so its own grade
    # does not depend on timing.
    "leave_a_killer_thread": (
        "import os, sys, threading, time\n"
        "def _later(me):\n"
        "    while sys.modules.get(__name__) is me:\n"
        "        time.sleep(0.001)\n"
        "    os._exit(3)\n"
        "def sgd_step(param, grad, lr):\n"
        "    if threading.active_count() == 1:\n"
        "        threading.Thread(target=_later, args=(sys.modules[__name__],), daemon=True).start()\n" + WRONG
    ),
    "arm_a_timer": (
        "import os, signal, sys\n"
        "def _tick(signum, frame):\n"
        "    if sys.modules.get(__name__) is not _me:\n"
        "        os._exit(3)\n"
        "def sgd_step(param, grad, lr):\n"
        "    global _me\n"
        "    _me = sys.modules[__name__]\n"
        "    signal.signal(signal.SIGALRM, _tick)\n"
        "    signal.setitimer(signal.ITIMER_REAL, 0.01, 0.01)\n" + WRONG
    ),
    "patch_torch_for_later": (
        "import torch\n"
        "def sgd_step(param, grad, lr):\n"
        "    torch.Tensor.__mul__ = lambda a, b: torch.zeros_like(a)\n"
        "    torch.Tensor.__rmul__ = lambda a, b: torch.zeros_like(a)\n"
        "    torch.Tensor.__truediv__ = lambda a, b: torch.zeros_like(a)\n"
        "    torch.sqrt = lambda x, *a, **k: x\n" + WRONG
    ),
    # From a red team: a mode, an audit hook or a gc callback that acts once sgd_step's module is gone
    # (so during the next function's import or calls, after the check at its start), and a forged answer
    # that would shift every later one.
    "mode_for_later": (
        "import sys, torch\n"
        "from torch.overrides import TorchFunctionMode\n"
        "class _Zeros(TorchFunctionMode):\n"
        "    def __torch_function__(self, func, types, args=(), kwargs=None):\n"
        "        out = func(*args, **(kwargs or {}))\n"
        "        if self.me is not sys.modules.get(__name__) and isinstance(out, torch.Tensor) \\\n"
        "                and out.is_floating_point():\n"
        "            return torch.zeros_like(out)\n"
        "        return out\n"
        "def sgd_step(param, grad, lr):\n"
        "    if not hasattr(torch, '_zeros'):\n"
        "        torch._zeros = _Zeros()\n"
        "        torch._zeros.me = sys.modules[__name__]\n"
        "        torch._zeros.__enter__()\n" + WRONG
    ),
    "audit_hook_for_later": (
        "import math, sys\n"
        "def _hook(event, args, me=None):\n"
        "    if event == 'exec' and sys.modules.get(__name__) is not _me:\n"
        "        math.sqrt = lambda x: 0.5\n"
        "        math.pow = lambda *a: 0.5\n"
        "def sgd_step(param, grad, lr):\n"
        "    global _me\n"
        "    _me = sys.modules[__name__]\n"
        "    if not hasattr(sys, '_hooked'):\n"
        "        sys._hooked = True\n"
        "        sys.addaudithook(_hook)\n" + WRONG
    ),
    "gc_callback_for_later": (
        "import gc, math, sys, torch\n"
        "def _later(phase, info):\n"
        "    if sys.modules.get(__name__) is not _me:\n"
        "        math.pow = lambda *a: 0.5\n"
        "        torch.Tensor.__mul__ = lambda a, b: torch.zeros_like(a)\n"
        "def sgd_step(param, grad, lr):\n"
        "    global _me\n"
        "    _me = sys.modules[__name__]\n"
        "    if _later not in gc.callbacks:\n"
        "        gc.callbacks.append(_later)\n" + WRONG
    ),
    "forge_a_reply": (
        "import os\n"
        "def sgd_step(param, grad, lr):\n"
        "    from grader.sandbox.wire import encode_frame\n"
        "    os.write(4, encode_frame('reply', {'value': param - lr * grad, 'seconds': 0.0}))\n" + WRONG
    ),
    "lower_a_limit": (
        "import resource, sys\n"
        "def sgd_step(param, grad, lr):\n"
        "    sys.setrecursionlimit(60)\n"
        "    resource.setrlimit(resource.RLIMIT_NOFILE, (3, 3))\n" + WRONG
    ),
}


def read_rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / "grades.csv").open() as f:
        return {r["student"]: r for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    subs = tmp_path_factory.mktemp("hostile-subs")
    for name, source in ATTACKS.items():
        folder = subs / name.replace("_", "-")
        shutil.copytree(CORRECT, folder)
        (folder / "optimizers.py").write_text((folder / "optimizers.py").read_text() + "\n\n" + source)
    shutil.copytree(CORRECT, subs / "honest-a")
    shutil.copytree(CORRECT, subs / "honest-z")
    shutil.copytree(CORRECT, subs / "grades.csv")  # an honest student whose id is an output file's name
    out = tmp_path_factory.mktemp("hostile-out")
    grade_class(subs, out, **FAST)
    return subs, out


def test_every_student_is_graded_and_honest_neighbours_keep_full_marks(hostile_class: tuple[Path, Path]) -> None:
    _, out = hostile_class
    rows = read_rows(out)
    assert set(rows) == {n.replace("_", "-") for n in ATTACKS} | {"honest-a", "honest-z", "grades.csv-2"}
    assert all(r["status"] != "grader_error" for r in rows.values()), rows
    for honest in ("honest-a", "honest-z", "grades.csv-2"):
        assert float(rows[honest]["total"]) == float(rows[honest]["max_total"]) > 0


@pytest.mark.parametrize("attack", [a for a in ATTACKS if a != "baseline"])
def test_an_attack_earns_nothing_more_than_the_honest_wrong_answer(hostile_class: tuple[Path, Path],
                                                                   attack: str) -> None:
    _, out = hostile_class
    rows = read_rows(out)
    row, baseline, honest = rows[attack.replace("_", "-")], rows["baseline"], rows["honest-a"]
    assert float(row["sgd_step"]) <= float(baseline["sgd_step"]) < float(honest["sgd_step"])
    for function in FUNCTIONS:
        if function != "sgd_step":
            assert row[function] == honest[function], (attack, function)


def test_answers_numpy_cannot_hold_or_that_do_not_broadcast_fail_with_a_reason(
        hostile_class: tuple[Path, Path]) -> None:
    _, out = hostile_class
    for student, says in (("bfloat16-answer", "torch.bfloat16"), ("unbroadcastable-shape", "has shape")):
        tests = json.loads((out / student / "results.json").read_text())["tests"]
        failed = [t for t in tests if t["tags"] == ["sgd_step"] and t["score"] < t["max_score"]]
        assert failed, student
        assert any(says in t["output"] for t in failed), (student, [t["output"][:200] for t in failed])


def _outside_code_blocks(markdown: str) -> list[str]:
    """The lines of ``markdown`` outside fenced code blocks (a fence closes with at least as many backticks)."""
    outside, fence = [], 0
    for line in markdown.splitlines():
        run = len(line.strip()) - len(line.strip().lstrip("`"))
        if fence == 0 and run >= 3:
            fence = run
        elif fence and run >= fence and line.strip() == "`" * run:
            fence = 0
        elif fence == 0:
            outside.append(line)
    return outside


def test_student_text_cannot_restyle_the_feedback(hostile_class: tuple[Path, Path]) -> None:
    _, out = hostile_class
    folder = out / "markdown-breakout"
    markdown = (folder / "feedback.md").read_text()
    assert "FAKE" in markdown  # the message is shown ...
    assert not [line for line in _outside_code_blocks(markdown) if "FAKE" in line or "<img" in line]  # ... as text
    for name in ("feedback.md", "feedback.html", "results.json"):
        text = (folder / name).read_text()
        assert "\x1b" not in text, name
        assert "\u202e" not in text, name


def test_nothing_outside_the_students_folders_was_written_or_forged(hostile_class: tuple[Path, Path]) -> None:
    subs, out = hostile_class
    students = set(read_rows(out))
    assert {p.name for p in out.iterdir()} == students | {"grades.csv", "class_summary.json"}
    for student in students:
        files = {p.name for p in (out / student).iterdir()}
        assert files <= {"results.json", "feedback.md", "feedback.html", "trajectories"}, files
    assert not list(subs.rglob("results.json"))
    assert not [p for p in subs.rglob("grades.csv") if p.is_file()]  # the honest grades.csv/ is a folder


def test_a_second_run_gives_the_same_grades(hostile_class: tuple[Path, Path], tmp_path: Path) -> None:
    subs, out = hostile_class
    grade_class(subs, tmp_path, **FAST)
    assert read_rows(tmp_path) == read_rows(out)
