"""``optigrade check``: a student's quick self-check against the public properties."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from grader.errors import UsageError
from grader.suite.contract import FUNCTIONS
from grader.suite.engine import PropertyResult, Suite
from grader.suite.registry import suite_properties
from grader.suite.runners import InProcessRunner

MODULES = ("optimizers", "epochs", "regression")


def check(folder: Path, *, examples: int = 8, console: Console | None = None) -> list[PropertyResult]:
    """Run the public properties on the files in ``folder`` (in this process: it is the student's own code)."""
    console = console or Console()
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder; run `optigrade check` in the folder that holds "
                         f"optimizers.py, epochs.py and regression.py, or pass that folder")
    files = {m: (folder / f"{m}.py").resolve() for m in MODULES if (folder / f"{m}.py").is_file()}
    if not files:
        raise UsageError(f"{folder} holds none of optimizers.py, epochs.py, regression.py; pass the folder "
                         f"with your exercise files (e.g. ./exercises)")
    suite = Suite(suite_properties(hidden=False), examples_per_property=examples, stand_ins=False)
    results = suite.grade(InProcessRunner(), files)
    table = Table(title=f"Public checks of {folder}")
    for col in ("function", "passed", "first problem"):
        table.add_column(col)
    for function in FUNCTIONS:
        mine = [r for r in results if r.prop.function == function and r.status != "skipped"]
        passed = sum(r.status == "passed" for r in mine)
        first = next((r for r in mine if r.status == "failed"), None)
        problem = "" if first is None else f"{first.prop.title}: {first.failure.message if first.failure else ''}"
        style = "green" if passed == len(mine) else "red"
        table.add_row(function, f"[{style}]{passed}/{len(mine)}[/]", problem[:110])
    console.print(table)
    console.print("These are the public checks only: hidden tests (compared with the reference on many more "
                  "inputs, float32, trajectories, CUDA) also count towards your grade.")
    return results
