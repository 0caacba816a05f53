"""Trajectory plots in the feedback: each optimizer's rollout (run in the sandbox) against the reference."""

from __future__ import annotations

import base64
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from grader.grade import plots
from grader.grade.report import StudentReport, feedback_html, feedback_markdown
from grader.grade.run import grade_class
from grader.sandbox import Limits, Sandbox
from grader.suite.contract import STEP_FUNCTIONS
from grader.suite.engine import Suite
from grader.suite.hidden.mutants import MUTANTS
from grader.suite.registry import suite_properties
from grader.suite.runners import InProcessRunner, SandboxRunner
from tests.grading.conftest import CORRECT, DEMO, submission_with

FAST = {"examples": 4, "wall_s": 2.0, "jobs": 2}
PNG = b"\x89PNG\r\n\x1a\n"
BUGGY_ADAM = DEMO / "b11002002"  # Adam without the bias correction


def files(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in folder.glob("*.py")}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plots")
    grade_class(DEMO, out, **FAST)  # type: ignore[arg-type]
    return out


@pytest.fixture(scope="module")
def runner() -> Iterator[SandboxRunner]:
    with Sandbox(jobs=2, limits=Limits(wall_s=5.0)) as box:
        yield SandboxRunner(box)


def probed(runner: SandboxRunner | InProcessRunner, folder: Path) -> dict[str, plots.Trajectory]:
    """Only the rollout probes (a suite without properties), as the grader sends them."""
    return plots.trajectories(Suite([], probes=plots.probes()).evaluate(runner, files(folder)).probes)


def students(graded: Path) -> list[Path]:
    return sorted(p for p in graded.iterdir() if p.is_dir())


def test_feedback_html_embeds_one_plot_per_optimizer_and_nothing_external(graded: Path) -> None:
    for folder in students(graded):
        page = (folder / "feedback.html").read_text()
        images = re.findall(r"<img\b[^>]*>", page)
        assert len(images) == len(STEP_FUNCTIONS), folder.name
        for function, image in zip(STEP_FUNCTIONS, images, strict=True):
            assert f"alt='trajectory of {function}'" in image
            src = re.search(r"src='([^']*)'", image)
            assert src is not None
            assert src.group(1).startswith("data:image/png;base64,")
            png = base64.b64decode(src.group(1).removeprefix("data:image/png;base64,"))
            assert png.startswith(PNG)
            assert png == (folder / "trajectories" / f"{function}.png").read_bytes()
        assert not re.search(r"https?:|\b(src|href)\s*=\s*['\"]?//", page)
        assert page.count("<figcaption>") == len(STEP_FUNCTIONS)


def test_feedback_md_links_the_png_files(graded: Path) -> None:
    for folder in students(graded):
        text = (folder / "feedback.md").read_text()
        links = dict(re.findall(r"!\[trajectory of (\w+)\]\(([^)]+)\)", text))
        assert list(links) == list(STEP_FUNCTIONS)
        for function, link in links.items():
            assert link == f"trajectories/{function}.png"
            assert (folder / link).read_bytes().startswith(PNG)
        assert sorted(p.name for p in (folder / "trajectories").iterdir()) == sorted(f"{f}.png" for f in links)


def test_captions_say_whether_the_student_follows_the_reference(graded: Path) -> None:
    correct = (graded / "b11002001" / "feedback.md").read_text()
    assert correct.count("follows the reference (blue) at all 40 steps") == len(STEP_FUNCTIONS)
    buggy = (graded / "b11002002" / "feedback.md").read_text()
    adam = buggy.split("## `adam_step`", 1)[1].split("## ", 1)[0]
    assert "leaves the reference (blue) at step 1" in adam
    rmsprop = buggy.split("## `rmsprop_step`", 1)[1].split("## ", 1)[0]  # δ outside the root: a tiny gap
    assert re.search(r"leaves the reference \(blue\) at step \d+ \(off by [0-9.e-]+; too small to see", rmsprop)


def test_a_helpers_stand_in_is_noted_under_the_plot(tmp_path: Path) -> None:
    """The rollout runs in the tests' job, so a failed helper's stand-in shaped the plotted path too."""
    student = tmp_path / "subs" / "s1"
    student.mkdir(parents=True)
    mutant = MUTANTS["bias_correction"][0]
    submission_with(student, "bias_correction", mutant.source())
    grade_class(tmp_path / "subs", tmp_path / "out", **FAST)  # type: ignore[arg-type]
    page = (tmp_path / "out" / "s1" / "feedback.html").read_text()
    captions = dict(re.findall(r"<img alt='trajectory of (\w+)'[^>]*><figcaption>([^<]*)</figcaption>", page))
    for function in ("adam_step", "adamw_step"):
        assert "As in the tests: graded with a correct bias_correction standing in" in captions[function]
    assert "As in the tests" not in captions["sgd_step"]
    markdown = (tmp_path / "out" / "s1" / "feedback.md").read_text()  # and once under each caller's heading
    for function in ("adam_step", "adamw_step"):
        section = markdown.split(f"## `{function}`")[1].split("\n- ")[0]
        assert "Graded with a correct bias\\_correction standing in" in section, section


def test_pngs_are_byte_identical_across_runs(graded: Path, tmp_path: Path) -> None:
    plots.reset()  # draw everything again, backgrounds included, as a new process would
    grade_class(DEMO, tmp_path, only=["b11002002"], **FAST)  # type: ignore[arg-type]
    for png in (graded / "b11002002" / "trajectories").iterdir():
        assert (tmp_path / "b11002002" / "trajectories" / png.name).read_bytes() == png.read_bytes(), png.name


def test_correct_student_follows_and_buggy_adam_leaves_the_reference(runner: SandboxRunner) -> None:
    correct = probed(runner, CORRECT)
    assert list(correct) == list(STEP_FUNCTIONS)
    for t in correct.values():
        assert t.stopped is None
        assert t.leaves_at is None
        np.testing.assert_allclose(t.student, t.reference, rtol=1e-9, atol=1e-12)
    adam = probed(runner, BUGGY_ADAM)["adam_step"]
    assert adam.stopped is None
    assert adam.leaves_at == 1
    assert np.abs(adam.student - adam.reference).max() > 0.1  # no bias correction: larger first steps


def test_in_process_runner_draws_the_same_paths(runner: SandboxRunner) -> None:
    """``optigrade check`` runs student code in-process; the probes work there too."""
    sandboxed, in_process = probed(runner, BUGGY_ADAM), probed(InProcessRunner(), BUGGY_ADAM)
    for function, t in sandboxed.items():
        np.testing.assert_array_equal(in_process[function].student, t.student)


STUDENT = '''
import torch

CALLS = 0

def sgd_step(param, grad, lr):
    global CALLS
    CALLS += 1
    if CALLS == 3:
        raise ZeroDivisionError("<b>$x$</b> [link](http://evil.example)\u202e\x1b[2J")
    return param - lr * grad

def nesterov_step(param, velocity, grad_fn, lr, gamma=0.9):
    return param * 1e200, velocity

def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    return param - lr * grad / 0.0, m, v

def adagrad_step(param, grad, r, lr, delta=1e-7):
    return "not a tensor"

def rmsprop_step(param, grad, r, lr, decay=0.9, delta=1e-6):
    while True:
        pass
'''


def test_failing_functions_plot_what_exists_with_the_reason(runner: SandboxRunner, tmp_path: Path) -> None:
    (tmp_path / "optimizers.py").write_text(STUDENT)
    got = probed(runner, tmp_path)
    assert len(got["sgd_step"].student) == 3  # the start and two steps
    assert got["sgd_step"].note == "your path stops after step 2: step 3 raised ZeroDivisionError: " \
                                   "<b>$x$</b> [link](http://evil.example)"  # no bidi override, no escape sequence
    assert got["momentum_step"].note is not None
    assert got["momentum_step"].note.startswith("no path: could not run:")
    assert got["nesterov_step"].note == ("your path stops after step 2: diverged: the parameter is not finite "
                                         "after step 2")
    assert "not finite after step 1" in (got["adam_step"].note or "")
    assert got["adagrad_step"].note == ("no path: step 1 returned str; expected 2 tensors (the parameter, "
                                        "then the state)")
    assert len(got["rmsprop_step"].student) == 1
    assert "did not finish" in (got["rmsprop_step"].note or "")
    for t in got.values():
        assert plots.render(t).startswith(PNG)
    # The student's text is shown as text: escaped in HTML and Markdown, never a link or markup.
    report = StudentReport("s", "ok", [], {})
    drawn = {f: (t, plots.render(t)) for f, t in got.items()}
    page = feedback_html(report, {f: plots.data_uri(png) for f, (_, png) in drawn.items()}, plots.captions(drawn))
    assert "<b>$x$</b>" not in page
    assert "&lt;b&gt;$x$&lt;/b&gt;" in page
    text = feedback_markdown(report, {f: f"trajectories/{f}.png" for f in drawn}, plots.captions(drawn))
    assert "\\[link\\](http://evil.example)" in text
    assert "\\<b\\>" in text


def test_non_finite_and_huge_points_do_not_break_the_plot() -> None:
    ref = plots.reference_path("sgd_step")
    wild = ref[:8].copy()
    wild[2] = [1e300, -1e300]
    wild[3] = [np.inf, 0.0]
    wild[5] = [np.nan, 1.0]
    t = plots.Trajectory("sgd_step", ref, wild, "diverged")
    assert len(plots.drawable(wild)) == 3
    assert np.abs(plots.drawable(wild)).max() <= plots.CLIP
    first = plots.render(t)
    assert first.startswith(PNG)
    assert plots.render(t) is first  # the same input is drawn once
    plots.reset()
    assert plots.render(t) == first
    assert t.leaves_at == 2


def test_probes_earn_nothing_and_change_no_result(runner: SandboxRunner, tmp_path: Path) -> None:
    props = [p for p in suite_properties() if p.function in ("adam_step", "sgd_step")]
    plain = Suite(props, examples_per_property=3)
    with_probes = Suite(props, examples_per_property=3, probes=plots.probes())
    for folder in (CORRECT, BUGGY_ADAM):
        a, b = plain.grade(runner, files(folder)), with_probes.evaluate(runner, files(folder))
        assert [(r.prop.name, r.status) for r in a] == [(r.prop.name, r.status) for r in b.results]
        assert len(b.probes) == len(STEP_FUNCTIONS)
    shutil.copy(CORRECT / "epochs.py", tmp_path / "epochs.py")  # no optimizers.py at all
    missing = plots.trajectories(with_probes.evaluate(runner, files(tmp_path)).probes)
    assert all(t.note == "no path: was not run: optimizers.py was not submitted" for t in missing.values())
