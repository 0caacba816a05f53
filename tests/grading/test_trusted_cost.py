"""What one hostile submission costs the trusted grading process: its answers are judged and reported
there, so the largest answers the sandbox lets through must not blow up that process's memory.

The hostile student answers the first call of each function (each function's calls start afresh, module
imported anew) with one 60 MB tensor, and every other call with a small wrong one: the most reply data
a worker can make the grader hold, for every function of the contract.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from grader.suite.contract import FUNCTIONS, MODULE_OF
from tests.grading.conftest import CORRECT

MEASURE = """
import json, resource, sys
from pathlib import Path
from grader.grade.run import grade_class
grade_class(Path(sys.argv[1]), Path(sys.argv[2]), examples=4, wall_s=10.0, jobs=1, device="cpu")
print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024))
"""

HUGE = """
import torch as _torch

_HUGE = _torch.ones(7_500_000, dtype=_torch.float64)  # 60 MB
_CALLS = [0]


def _answer(*args, **kwargs):
    _CALLS[0] += 1
    return (_HUGE, _HUGE, _HUGE) if _CALLS[0] == 1 else None
"""


def peak_mib(tmp: Path, name: str, classroom: Path) -> int:
    """The grading process's peak RSS (MiB) for ``classroom``, graded in a fresh process."""
    done = subprocess.run([sys.executable, "-c", MEASURE, str(classroom), str(tmp / f"out-{name}")],
                          capture_output=True, text=True, timeout=600, check=True)
    return int(done.stdout.strip().splitlines()[-1])


def test_the_largest_answers_do_not_blow_up_the_graders_memory(tmp_path: Path) -> None:
    honest, hostile = tmp_path / "honest", tmp_path / "hostile"
    shutil.copytree(CORRECT, honest / "s", ignore=shutil.ignore_patterns("__pycache__"))
    (hostile / "s").mkdir(parents=True)
    for module in sorted(set(MODULE_OF.values())):
        defs = [f"{f} = _answer\n" for f in FUNCTIONS if MODULE_OF[f] == module]
        (hostile / "s" / f"{module}.py").write_text(HUGE + "\n" + "".join(defs))
    base, peak = peak_mib(tmp_path, "honest", honest), peak_mib(tmp_path, "hostile", hostile)
    results = json.loads((tmp_path / "out-hostile" / "s" / "results.json").read_text())
    assert results["score"] == 0
    assert peak - base < 150, f"the grader's peak memory rose from {base} MiB to {peak} MiB for one submission"
