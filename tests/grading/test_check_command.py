"""`optigrade check`: the whole first problem, every failure with -v, and an exit status scripts can trust."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from grader.check import all_passed, check, first_problem
from grader.cli import app

ROOT = Path(__file__).resolve().parents[2]
CORRECT = ROOT / "examples" / "demo_class" / "b11002001"
NESTEROV_BUG = '''

def nesterov_step(param, velocity, grad_fn, lr, gamma=0.9):
    """A plausible bug: the gradient at x_t itself, not at the look-ahead point."""
    v = gamma * velocity + lr * grad_fn(param)
    return param - v, v
'''


@pytest.fixture(scope="module")
def one_bug(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("one_bug")
    for f in CORRECT.glob("*.py"):
        shutil.copy(f, folder / f.name)
    with (folder / "optimizers.py").open("a") as f:
        f.write(NESTEROV_BUG)
    return folder


def _console(width: int) -> Console:
    return Console(record=True, width=width, color_system=None)


def test_the_first_problem_is_shown_whole(one_bug: Path) -> None:
    console = _console(1000)  # one line per row: the cell's text can be found verbatim
    results = check(one_bug, examples=3, console=console)
    text = console.export_text()
    problem = first_problem([r for r in results if r.prop.function == "nesterov_step"])
    assert len(problem) > 110  # longer than the old cut
    assert problem in text
    narrow = _console(80)
    check(ROOT / "exercises", examples=2, console=narrow)
    assert "TODO: implement sgd_step" in narrow.export_text()  # the old table stopped at "TODO: impleme"


def test_verbose_shows_every_failing_property_with_its_counter_example(tmp_path: Path) -> None:
    folder = tmp_path / "stubs"
    shutil.copytree(ROOT / "exercises", folder)
    console = _console(120)
    results = check(folder, examples=2, verbose=True, console=console)
    text = console.export_text()
    failed = [r for r in results if r.status == "failed"]
    assert failed
    assert not all_passed(results)
    for r in failed:
        assert f"✗ {r.prop.name}" in text
    assert text.count("Inputs: ") >= len([r for r in failed if r.example])  # each counter-example is shown
    quiet = _console(120)
    check(folder, examples=2, console=quiet)
    quiet_text = quiet.export_text()
    assert "Inputs: " not in quiet_text
    assert "Run with -v" in quiet_text


def test_exit_status_is_zero_only_when_every_public_check_passes(one_bug: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(app, ["check", str(CORRECT)])
    assert good.exit_code == 0, good.output
    assert "All" in good.output
    assert "public checks pass" in good.output
    bad = runner.invoke(app, ["check", "-v", str(one_bug)])
    assert bad.exit_code == 1
    assert "nesterov_step: takes the gradient at the look-ahead point" in bad.output
    assert "Inputs: " in bad.output
    missing = runner.invoke(app, ["check", str(one_bug / "nowhere")])
    assert missing.exit_code == 2
    assert "is not a folder" in " ".join(missing.output.split())  # wrapped to the terminal's width


@pytest.mark.parametrize(("function", "mutant", "title"), [
    ("sgd_step", "sgd_step__view_flatten", "does not modify its inputs"),
    ("steps_per_epoch", "steps_per_epoch__drop_last_as_ceil_minus_one", "large datasets (up to 10¹² examples)"),
])
def test_check_judges_the_public_properties_on_the_examples_grading_uses(tmp_path: Path, function: str, mutant: str,
                                                                           title: str) -> None:
    """A bug that only some drawn examples reveal: check must not pass a public property that grading (its
    default number of examples, its default seed) then fails."""
    from grader.grade.submission import Settings
    from grader.suite.engine import Suite
    from grader.suite.hidden.mutants import MUTANTS
    from grader.suite.registry import suite_properties
    from grader.suite.runners import InProcessRunner
    from tests.grading.conftest import submission_with

    source = next(m for m in MUTANTS[function] if m.fn.__name__ == mutant).source()
    files = submission_with(tmp_path, function, source)
    local = {r.prop.name: r.status for r in check(tmp_path, console=_console(120))}
    graded = Suite(suite_properties(hidden=False), examples_per_property=Settings(out=tmp_path).examples,
                   stand_ins=False).grade(InProcessRunner(), files)
    assert {r.prop.name: r.status for r in graded} == local
    assert local[f"{function}: {title}"] == "failed"


FLOOR_STEPS = '''

def steps_per_epoch(num_examples, batch_size, drop_last=False):
    return num_examples // batch_size  # the last, short batch is lost


def total_steps(num_examples, batch_size, epochs, drop_last=False):
    return epochs * steps_per_epoch(num_examples, batch_size, drop_last)
'''


def test_a_caller_failing_through_a_wrong_helper_says_to_fix_the_helper(tmp_path: Path) -> None:
    """total_steps is right but calls a wrong steps_per_epoch: graded, a correct one stands in and total_steps keeps
    its marks; check (which has no stand-ins to ship) fails it too, and must say where the bug is."""
    for f in CORRECT.glob("*.py"):
        shutil.copy(f, tmp_path / f.name)
    with (tmp_path / "epochs.py").open("a") as f:
        f.write(FLOOR_STEPS)
    console = _console(1000)
    results = check(tmp_path, verbose=True, console=console)
    said = console.export_text()
    assert {r.status for r in results if r.prop.function == "total_steps"} == {"passed", "failed"}
    note = ("total_steps calls your steps_per_epoch, which fails its own checks: fix steps_per_epoch first; "
            "when graded, a correct steps_per_epoch stands in for yours in total_steps's tests")
    row = next(line for line in said.splitlines() if line.startswith("│ total_steps"))
    assert note in row
    assert said.count(note) == 2  # the table's row, and once above total_steps's failures with -v
    assert "calls your steps_per_epoch" not in next(line for line in said.splitlines()
                                                    if line.startswith("│ batch_bounds"))  # never calls it


@pytest.mark.parametrize(("function", "source"), [
    ("sgd_step", "def sgd_step(param, grad, lr):\n    new = param - lr * grad\n"),
    ("adagrad_step", "def adagrad_step(param, grad, r, lr, delta=1e-7):\n    r = r + grad * grad\n"
                     "    new = param - lr * grad / (r.sqrt() + delta)\n"),
    ("steps_per_epoch", "def steps_per_epoch(num_examples, batch_size, drop_last=False):\n"
                        "    n = -(-num_examples // batch_size)\n"),
])
def test_a_function_that_forgot_to_return_is_told_so(tmp_path: Path, function: str, source: str) -> None:
    from tests.grading.conftest import submission_with

    submission_with(tmp_path, function, source)
    results = check(tmp_path, console=_console(120))
    problem = first_problem([r for r in results if r.prop.function == function])
    assert "None" in problem
    assert "no `return`" in problem, problem
