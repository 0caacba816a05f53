"""--budget bounds the wall time one submission holds a grading slot, however its stalls are spread.

The budget is checked before each batch (a level of the grading order, a round of shrinking) and before
each further worker within one (a retry, the calls after a timeout); a worker's job itself ends at the
budget however many functions it holds, each with its own --wall.  A submission that stalls in every
function of a level, or is slow (but within --wall) in every function, is stopped near its budget, not
after functions × (1 + retries) × wall.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from grader.grade.run import grade_class
from grader.suite.contract import MODULE_OF
from grader.suite.engine import grading_order
from tests.grading.conftest import CORRECT

WALL, BUDGET = 1.0, 3.0


def test_stalling_in_one_level_is_stopped_by_the_budget(tmp_path: Path) -> None:
    levels = grading_order(set(MODULE_OF))
    stalling = max(levels[1:], key=len)  # the callers' level with the most functions
    subs = tmp_path / "subs"
    shutil.copytree(CORRECT, subs / "staller", ignore=shutil.ignore_patterns("__pycache__"))
    for f in sorted(stalling):
        path = subs / "staller" / f"{MODULE_OF[f]}.py"
        path.write_text(path.read_text() + f"\n\ndef {f}(*args, **kwargs):\n    while True:\n        pass\n")
    # The same class graded with nothing to do (all results current) is the run's fixed cost.
    started = time.monotonic()
    grade_class(subs, tmp_path / "out", examples=4, wall_s=WALL, budget_s=BUDGET)
    graded = time.monotonic() - started
    started = time.monotonic()
    grade_class(subs, tmp_path / "out", examples=4, wall_s=WALL, budget_s=BUDGET)
    fixed = time.monotonic() - started
    held = graded - fixed
    # Allowed: the budget, one function's wall limit with its fresh retry past it, and worker starts.
    assert held < BUDGET + 2 * WALL + 4, (
        f"the staller held its slot {held:.1f} s with --budget {BUDGET:g} (wall {WALL:g}); "
        f"{len(stalling)} stalling functions × 4 timeouts each")
    results = json.loads((tmp_path / "out" / "staller" / "results.json").read_text())
    assert results["score"] > 0  # its first level was graded


def test_slow_functions_in_one_worker_are_stopped_by_the_budget(tmp_path: Path) -> None:
    """Every function of the second level spends 1.5 s on its first call (within --wall 2 s, renewed per
    function), so the one worker serving that level would run ~9 s past a 3 s budget: the job itself ends
    at the budget."""
    wall = 2.0
    slow = grading_order(set(MODULE_OF))[1]
    subs = tmp_path / "subs"
    shutil.copytree(CORRECT, subs / "slow", ignore=shutil.ignore_patterns("__pycache__"))
    for f in sorted(slow):
        path = subs / "slow" / f"{MODULE_OF[f]}.py"
        path.write_text(path.read_text() + f"""

import time as _time
_{f}, _{f}_slept = {f}, []


def {f}(*args, **kwargs):
    if not _{f}_slept:
        _{f}_slept.append(True)
        _time.sleep(1.5)
    return _{f}(*args, **kwargs)
""")
    started = time.monotonic()
    grade_class(subs, tmp_path / "out", examples=4, wall_s=wall, budget_s=BUDGET)
    graded = time.monotonic() - started
    started = time.monotonic()
    grade_class(subs, tmp_path / "out", examples=4, wall_s=wall, budget_s=BUDGET)
    held = graded - (time.monotonic() - started)
    assert held < BUDGET + wall, f"the slow submission held its slot {held:.1f} s with --budget {BUDGET:g}"
    feedback = (tmp_path / "out" / "slow" / "feedback.md").read_text()
    assert "time budget" in feedback
