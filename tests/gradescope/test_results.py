"""Gradescope's results.json from optigrade's: visibility, scores that add up exactly, the schema check."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.grade.report import HIDDEN_NOTE
from grader.gradescope.results import HIDDEN_NOTES, apportion, to_gradescope, validate


@given(st.lists(st.floats(0, 50, allow_nan=False), min_size=1, max_size=30))
def test_apportion_adds_up_and_stays_within_a_unit(points: list[float]) -> None:
    units = apportion(points)
    assert sum(units) == round(sum(points) * 10_000)
    assert all(abs(u - p * 10_000) < 1 + 1e-6 for u, p in zip(units, points, strict=True))


def _graded(statuses: list[str]) -> dict[str, Any]:
    tests = []
    for i, status in enumerate(statuses):
        test: dict[str, Any] = {"name": f"f: p{i}", "score": 1.1111 if status == "passed" else 0.0,
                                "max_score": 0.0 if status == "skipped" else 1.1111,
                                "visibility": "visible" if i == 0 else "after_published", "output": "o",
                                "tags": ["f"]}
        if status != "skipped":
            test["status"] = status
        tests.append(test)
    return {"score": 0.0, "output": f"Graded by optigrade.\n{HIDDEN_NOTE}", "visibility": "visible",
            "stdout_visibility": "hidden", "tests": tests,
            "extra_data": {"max_score": 10.0, "status": "ok", "backend": "landlock+seccomp"}}


POINTS = {f"f: p{i}": 10 / 9 for i in range(10)}


def test_nine_ninths_make_exactly_ten_and_skipped_tests_count_for_nothing() -> None:
    graded = _graded(["passed"] * 9 + ["skipped"])
    data = to_gradescope(graded, POINTS, hidden_visibility="after_published", execution_time=1.234,
                         isolation={"missing": []})
    assert data["score"] == 10.0 == data["extra_data"]["max_score"]
    assert sum(t["max_score"] for t in data["tests"]) == pytest.approx(10.0, abs=1e-12)
    assert data["tests"][-1]["max_score"] == 0.0 == data["tests"][-1]["score"]
    # shown as passed by Gradescope (0/0, no status), so its name says it did not run
    assert data["tests"][-1]["name"] == "f: p9 [not run: no GPU here, counts for nothing]"
    assert all("not run" not in t["name"] for t in data["tests"][:-1])
    assert data["execution_time"] == 1.23
    assert validate(data) == []


@pytest.mark.parametrize("visibility", ["after_published", "after_due_date", "hidden"])
def test_hidden_tests_get_the_chosen_visibility_and_the_note_says_so(visibility: str) -> None:
    data = to_gradescope(_graded(["passed", "failed", "passed"]), POINTS, hidden_visibility=visibility,
                         execution_time=0.5, isolation={"missing": ["landlock"]})
    assert [t["visibility"] for t in data["tests"]] == ["visible", visibility, visibility]
    assert data["output"].splitlines() == ["Graded by optigrade.", HIDDEN_NOTES[visibility]]
    assert data["extra_data"]["isolation"] == {"missing": ["landlock"]}
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]), abs=1e-12)
    assert data["tests"][1]["score"] == 0.0 < data["tests"][1]["max_score"]


def test_a_test_outside_the_rubric_is_a_bug_not_a_silent_zero() -> None:
    with pytest.raises(ValueError, match="without points"):
        to_gradescope(_graded(["passed"]), {}, hidden_visibility="hidden", execution_time=0.1, isolation={})


@pytest.mark.parametrize(("change", "complaint"), [
    (lambda d: d.update(score="3"), "top-level 'score'"),
    (lambda d: d["tests"][0].pop("max_score"), "'max_score' is None"),
    (lambda d: d["tests"][0].update(visibility="students"), "visibility 'students'"),
    (lambda d: d.update(stdout_visibility="always"), "stdout_visibility"),
    (lambda d: d.update(execution_time="0.42"), "execution_time"),
    (lambda d: d["tests"][0].update(score=5.0), "outside [0, max_score"),
    (lambda d: d.update(score=99.0), "not the sum"),
    (lambda d: d["tests"][0].update(status="ok"), "status 'ok'"),
    (lambda d: d["tests"][0].update(tags="f"), "'tags'"),
    (lambda d: d.update(tests=[]), "'tests' is missing or empty"),
    (lambda d: d.update(output_format="pdf"), "'output_format'"),
])
def test_validate_names_each_break_of_the_schema(change: Any, complaint: str) -> None:
    good = to_gradescope(_graded(["passed", "failed"]), POINTS, hidden_visibility="hidden", execution_time=1.0,
                         isolation={})
    bad = copy.deepcopy(good)
    change(bad)
    problems = validate(bad)
    assert any(complaint in p for p in problems), problems
    assert validate([]) == ["results.json holds a list, expected an object"]


NOTE = ("Graded with a correct bias_correction standing in for yours wherever your code calls it (yours failed "
        "its own tests, where that bug is charged).")


@pytest.mark.parametrize("public_failure", [False, True])
def test_a_public_test_does_not_give_away_that_a_helper_failed_only_hidden_tests(public_failure: bool) -> None:
    """Gradescope shows public tests at once and hidden ones after publishing: an adam_step public test
    that says "yours [bias_correction] failed its own tests" while every public bias_correction test
    passed tells the student a hidden result before grades are published."""
    from grader.grade.report import StudentReport, results_json
    from grader.suite.engine import PropertyResult
    from grader.suite.model import Failure
    from grader.suite.registry import suite_properties

    props = [p for p in suite_properties() if p.function in ("bias_correction", "adam_step") and not p.needs_cuda]
    failing = next(p for p in props if p.function == "bias_correction" and p.public == public_failure)
    results = [PropertyResult(p, "failed", Failure("bias_correction(0.59, 1) = 0.5, expected 0.41"), cases=20)
               if p is failing else
               PropertyResult(p, "passed", cases=20, note=NOTE if p.function == "adam_step" else "") for p in props]
    data = results_json(StudentReport("s", "ok", results, {p.name: 1.0 for p in props}))
    adam = [t for t in data["tests"] if t["tags"] == ["adam_step"]]
    shown = [t["name"] for t in adam if t["visibility"] == "visible" and NOTE in t["output"]]
    assert bool(shown) == public_failure, (f"public adam_step tests {shown[:2]} say bias_correction failed, but "
                                           f"it failed only the hidden {failing.name!r}" if shown else
                                           "the note was dropped though bias_correction failed a public test")
    assert all(NOTE in t["output"] for t in adam if t["visibility"] != "visible")  # shown once published
