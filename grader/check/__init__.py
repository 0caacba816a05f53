"""``optigrade check``: a student's quick self-check against the public properties.

The table shows each function's first problem in full; ``verbose`` adds every failing property with
its shrunk counter-example, in the words of the graded feedback (``grader.grade.report.failure_text``).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader.errors import UsageError
from grader.grade.report import failure_text
from grader.suite.contract import FUNCTIONS, HELPERS
from grader.suite.engine import PropertyResult, Suite
from grader.suite.examples import DEFAULT_EXAMPLES, DEFAULT_SEED
from grader.suite.model import Example, Property
from grader.suite.registry import suite_properties
from grader.suite.runners import InProcessRunner

MODULES = ("optimizers", "epochs", "regression")
HIDDEN_TOO = ("These are the public checks only: hidden tests (compared with the reference on many more inputs, "
              "float32, trajectories, CUDA) also count towards your grade.")


def check(folder: Path, *, examples: int = DEFAULT_EXAMPLES, verbose: bool = False,
          console: Console | None = None) -> list[PropertyResult]:
    """Run the public properties on the files in ``folder`` (in this process: it is the student's own code)."""
    console = console or Console()
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder; run `optigrade check` in the folder that holds "
                         f"optimizers.py, epochs.py and regression.py, or pass that folder")
    files = {m: (folder / f"{m}.py").resolve() for m in MODULES if (folder / f"{m}.py").is_file()}
    if not files:
        raise UsageError(f"{folder} holds none of optimizers.py, epochs.py, regression.py; pass the folder "
                         f"with your exercise files (e.g. ./exercises)")
    props = suite_properties(hidden=False)
    suite = Suite(props, examples_per_property=examples, stand_ins=False, drawn=_cached_examples(props, examples))
    results = suite.grade(InProcessRunner(), files)
    notes = helper_notes(results, lambda function: names_in_files(files, function))
    console.print(summary_table(results, f"Public checks of {folder}", notes))
    if verbose:
        noted: set[str] = set()
        for r in results:
            if r.status == "failed":
                if r.prop.function in notes and r.prop.function not in noted:
                    noted.add(r.prop.function)
                    console.print(f"\nNote: {notes[r.prop.function]}", markup=False, highlight=False)
                console.print(f"\n[bold red]✗ {r.prop.name}[/]", highlight=False)
                console.print(failure_text(r), markup=False, highlight=False)
    console.print(verdict_line(results, verbose), highlight=False)
    console.print(HIDDEN_TOO)
    return results


def _cached_examples(props: Sequence[Property], examples: int) -> dict[str, list[Example]] | None:
    """The drawn examples from grading's on-disk cache (the same draws, seconds saved), where this installation
    has it; the student bundle has not (it needs the sandbox's codec), and draws them."""
    try:
        from grader.suite import example_cache
    except ImportError:
        return None
    return example_cache.load_or_draw(props, examples, DEFAULT_SEED)


def all_passed(results: Sequence[PropertyResult]) -> bool:
    """True when no public property failed (a skipped one, e.g. CUDA on a CPU machine, is not a failure)."""
    return not any(r.status == "failed" for r in results)


def first_problem(results: Sequence[PropertyResult]) -> str:
    """The first failing property's title and message, whole."""
    first = next((r for r in results if r.status == "failed"), None)
    if first is None:
        return ""
    return f"{first.prop.title}: {first.failure.message if first.failure else 'failed'}"


def helper_notes(results: Sequence[PropertyResult], names_used: Callable[[str], set[str]]) -> dict[str, str]:
    """function -> why its failures may be a helper's: it calls (``names_used``) a function of the exercises
    (``HELPERS``) that fails its own public checks.  Graded, a correct helper stands in for a failing one in its
    callers' tests (the stand-ins answer the exercises, so the checks cannot carry them): say so, or a student
    hunts a bug in a caller that keeps its marks."""
    failing = {r.prop.function for r in results if r.status == "failed"}
    notes = {}
    for function in FUNCTIONS:
        if function not in failing:
            continue
        wrong = [h for h in HELPERS.get(function, ()) if h in failing and h in names_used(function)]
        if wrong:
            yours = ", ".join(wrong)
            notes[function] = (f"{function} calls your {yours}, which fail{'s' if len(wrong) == 1 else ''} "
                               f"{'its' if len(wrong) == 1 else 'their'} own checks: fix {yours} first; when graded, "
                               f"a correct {yours} stands in for yours in {function}'s tests")
    return notes


def names_in_files(files: Mapping[str, Path], function: str) -> set[str]:
    """The names and attributes ``function``'s last definition in ``files`` mentions (those it may call)."""
    found: set[str] = set()
    for path in files.values():
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue  # its import error is what the checks report
        defs = [node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                and node.name == function]
        if defs:
            found = set(_names(ast.walk(defs[-1])))
    return found


def _names(nodes: Iterable[ast.AST]) -> Iterable[str]:
    for node in nodes:
        if isinstance(node, ast.Name):
            yield node.id
        elif isinstance(node, ast.Attribute):
            yield node.attr


def summary_table(results: Sequence[PropertyResult], title: str, notes: Mapping[str, str] | None = None) -> Table:
    table = Table(title=title)
    table.add_column("function", no_wrap=True)
    table.add_column("passed", no_wrap=True)
    table.add_column("first problem", overflow="fold")  # wrapped, never cut: it is what the student reads
    for function in FUNCTIONS:
        mine = [r for r in results if r.prop.function == function and r.status != "skipped"]
        if not mine:
            continue
        passed = sum(r.status == "passed" for r in mine)
        style = "green" if passed == len(mine) else "red"
        # The message quotes student text (an exception, a repr): shown as is, never as rich markup.
        note = f" (note: {notes[function]})" if notes and function in notes else ""
        table.add_row(function, f"[{style}]{passed}/{len(mine)}[/]", escape(first_problem(mine) + note))
    return table


def verdict_line(results: Sequence[PropertyResult], verbose: bool) -> str:
    ran = [r for r in results if r.status != "skipped"]
    failed = sum(r.status == "failed" for r in ran)
    if not failed:
        return f"[bold green]All {len(ran)} public checks pass.[/]"
    more = "" if verbose else " Run with -v to see every failing check with its counter-example."
    return f"[bold red]{failed} of {len(ran)} public checks fail.[/]{more}"

