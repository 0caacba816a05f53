"""`optigrade release --notebook`: the notebook edition, executed headless in a Jupyter kernel
(nbclient + ipykernel): unsolved, solved and with one bug, each check cell says what it should."""

from __future__ import annotations

import ast
import base64
import io
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import nbformat
import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.suite.contract import FUNCTIONS
from tests.notebooks import NESTEROV_BUG, check_cell, execute, released, solved, text

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def edition(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return released(tmp_path_factory.mktemp("release") / "bundle")


def _setup(nb: Any) -> Any:
    return next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("# @title Setup"))


def _carried(nb: Any) -> zipfile.ZipFile:
    encoded = "".join(re.findall(r'^    "([A-Za-z0-9+/=]+)"$', _setup(nb).source, re.MULTILINE))
    return zipfile.ZipFile(io.BytesIO(base64.b64decode(encoded)))


def test_the_edition_is_a_valid_reproducible_notebook_with_formulas_stubs_and_checks(tmp_path: Path,
                                                                                       edition: Any) -> None:
    nbformat.validate(edition)
    again = CliRunner().invoke(app, ["release", "-o", str(tmp_path / "again"), "--notebook"])
    assert again.exit_code == 0, again.output
    first = nbformat.writes(edition)
    assert (tmp_path / "again" / "exercises.ipynb").read_text() == first + "\n"  # same release, same bytes
    markdown = "\n".join(c.source for c in edition.cells if c.cell_type == "markdown")
    assert r"$$x' = x - \eta \nabla_x f(x)$$" in markdown
    assert r"$$\hat{m}_t = m_t / (1 - \beta_1^t)$$" in markdown
    assert ".. math::" not in markdown
    order = [c.source for c in edition.cells if c.cell_type == "code" and c.source.startswith("check(")]
    assert order == [f'check("{f}", globals())' for f in
                     ["sgd_step", "momentum_step", "nesterov_step", "adagrad_step", "rmsprop_step",
                      "bias_correction", "adam_step", "adamw_step", "steps_per_epoch", "total_steps",
                      "batch_bounds", "mse_gradients"]]  # a helper before the functions that may call it
    assert set(order) == {f'check("{f}", globals())' for f in FUNCTIONS}
    assert _setup(edition).metadata["cellView"] == "form"


def test_the_edition_carries_the_public_checks_and_no_answer(edition: Any) -> None:
    carried = _carried(edition)
    names = carried.namelist()
    assert "grader/check/notebook.py" in names
    assert not [n for n in names if "hidden" in n or n.startswith("solutions") or "sandbox/substitutes" in n]
    solution_bodies = set()
    for path in (ROOT / "solutions").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                solution_bodies |= {ast.dump(stmt) for stmt in node.body[1:]}
    code = [c.source for c in edition.cells if c.cell_type == "code"] + [
        carried.read(n).decode() for n in names if n.endswith(".py")]
    for source in code:
        if source.startswith("# @title Setup"):
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef):
                assert not ({ast.dump(s) for s in node.body} & solution_bodies), node.name


def test_unsolved_every_check_says_what_is_missing(tmp_path: Path, edition: Any) -> None:
    done = execute(edition, tmp_path)
    setup = text(_setup(done))
    assert "Ready" in setup
    assert "Installing" not in setup  # everything is here: nothing is installed, nothing downloaded
    for function in FUNCTIONS:
        said = text(check_cell(done, function))
        assert f"✗ {function} is not written yet: it still raises NotImplementedError" in said, said
    assert "not written yet" in text(done.cells[-1])


def test_solved_every_check_passes_and_one_bug_is_named(tmp_path: Path, edition: Any) -> None:
    where = tmp_path / "where"
    nb = solved(edition, nesterov_step=NESTEROV_BUG)
    nb.cells.append(nbformat.v4.new_code_cell("import grader.check.notebook as m\nprint(m.__file__)"))
    done = execute(nb, tmp_path)
    assert text(done.cells[-1]).startswith(tempfile.gettempdir())  # the carried checks, not this checkout
    for function in FUNCTIONS:
        said = text(check_cell(done, function))
        if function == "nesterov_step":
            assert said.startswith("✗ nesterov_step: ")
            assert "✗ takes the gradient at the look-ahead point" in said
            assert "Inputs: " in said
            assert "Expected: " in said
            assert "Lecture formula: " in said
        else:
            assert said.startswith(f"✓ {function}: all "), said
    assert not where.exists()
    fixed = execute(solved(edition), tmp_path)
    for function in FUNCTIONS:
        assert text(check_cell(fixed, function)).startswith(f"✓ {function}: all ")
    assert "All public checks pass." in text(fixed.cells[-1])


def test_a_function_whose_cell_was_not_run_is_named(tmp_path: Path, edition: Any) -> None:
    nb = solved(edition)
    nb.cells = [c for c in nb.cells if not c.source.startswith("def bias_correction(")]
    done = execute(nb, tmp_path)
    assert "✗ bias_correction is not defined yet: run the code cell above" in text(check_cell(done, "bias_correction"))


def test_the_setup_installs_only_what_is_missing(monkeypatch: pytest.MonkeyPatch, edition: Any) -> None:
    import importlib.util

    real = importlib.util.find_spec
    installs: list[list[str]] = []
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "hypothesis" else real(name, *a))
    monkeypatch.setattr(subprocess, "check_call", lambda cmd, **kw: installs.append(cmd) or 0)
    namespace: dict[str, Any] = {}
    exec(compile(_setup(edition).source, "setup", "exec"), namespace)  # noqa: S102 - our own cell
    assert installs == [[sys.executable, "-m", "pip", "install", "-q", "hypothesis"]]
    assert callable(namespace["check"])
    monkeypatch.setattr(importlib.util, "find_spec", real)
    installs.clear()
    exec(compile(_setup(edition).source, "setup", "exec"), {})  # noqa: S102
    assert installs == []


def test_without_nbformat_the_option_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "nbformat", None)
    result = CliRunner().invoke(app, ["release", "-o", str(tmp_path / "b"), "--notebook"])
    assert result.exit_code == 2
    assert "pip install 'optigrade[notebook]'" in " ".join(result.output.split())  # wrapped at 80 columns
    assert not (tmp_path / "b").exists()  # refused before anything was written


def test_a_caller_failing_through_a_wrong_helper_says_to_fix_the_helper(capsys: pytest.CaptureFixture[str]) -> None:
    from grader.check.notebook import check
    from tests.notebooks import correct_functions

    namespace: dict[str, Any] = {}
    floor = "def steps_per_epoch(num_examples, batch_size, drop_last=False):\n    return num_examples // batch_size"
    exec("import math\nimport torch\n" + "\n\n".join({**correct_functions(), "steps_per_epoch": floor}.values()),
         namespace)
    check("total_steps", namespace)
    said = capsys.readouterr().out
    assert said.startswith("✗ total_steps: "), said
    assert ("Note: total_steps calls your steps_per_epoch, which fails its own checks: fix steps_per_epoch first; "
            "when graded, a correct steps_per_epoch stands in for yours in total_steps's tests") in said
    check("batch_bounds", namespace)
    assert "calls your" not in capsys.readouterr().out  # right, and it never calls steps_per_epoch
