"""The results.json Gradescope shows, made from the one ``optigrade grade`` writes, and its schema check.

``grade`` rounds each test's points to 4 decimals, so 9 tests of 10/9 points add up to 9.9999.  Here
each function's points are shared out in whole units of 0.0001 (largest remainder), so the tests of a
function add up to exactly its points and the top-level score is exactly the sum of the tests.
Schema: https://gradescope-autograders.readthedocs.io/en/latest/specs/ (see ../shared/research).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from grader.grade.report import HIDDEN_NOTE

UNIT = 10_000  # score units per point: 4 decimals
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
FORMATS = ("text", "html", "simple_format", "md", "ansi")
HIDDEN_NOTES = {
    "after_published": HIDDEN_NOTE,
    "after_due_date": "Hidden tests also count towards your grade; they are shown after the due date.",
    "hidden": "Hidden tests also count towards your grade; their results (and so your total) are not shown "
              "to students.",
}
# What a missing layer means, for the instructor's output and extra_data.
LAYER_NOTES = {
    "landlock": "no Landlock: files are kept apart by ownership alone (workers run as an unprivileged uid; "
                "the optigrade install and /autograder/source were made root-only and checked before grading)",
    "namespaces": "no namespaces: no private network or tmpfs (sockets are refused by seccomp; a worker's "
                  "files count against RLIMIT_FSIZE only)",
}


def apportion(points: Sequence[float]) -> list[int]:
    """Whole units per value that add up to round(sum × UNIT), each within one unit of value × UNIT."""
    scaled = [p * UNIT for p in points]
    units = [math.floor(x) for x in scaled]
    short = round(sum(scaled)) - sum(units)
    for i in sorted(range(len(scaled)), key=lambda i: (units[i] - scaled[i], i))[:max(short, 0)]:
        units[i] += 1
    return units


def max_score(points_by_function: Mapping[str, Sequence[float]]) -> float:
    """The maximum ``to_gradescope`` reports for these points (each function's tests' exact points, the
    tests that count only): each function rounded to whole units on its own, as its tests are shared out."""
    return sum(sum(apportion(points)) for points in points_by_function.values()) / UNIT


SKIPPED_TAG = "not run: no GPU here, counts for nothing"


def to_gradescope(graded: Mapping[str, Any], points: Mapping[str, float], *, hidden_visibility: str,
                  execution_time: float, isolation: Mapping[str, Any]) -> dict[str, Any]:
    """Gradescope's results.json from ``optigrade grade``'s one (``graded``).

    ``points``: each test's exact points (``Rubric.property_points``); ``isolation``: what the sandbox
    had and missed, stored in ``extra_data``.
    """
    tests = [dict(t) for t in graded["tests"]]
    unknown = [t["name"] for t in tests if t["name"] not in points]
    if unknown:
        raise ValueError(f"tests without points in the rubric: {unknown[:5]}")
    by_function: dict[str, list[int]] = {}
    for i, test in enumerate(tests):
        if test.get("status") is not None:  # skipped tests (no GPU) count for neither score nor maximum
            by_function.setdefault(test["tags"][0], []).append(i)
        else:  # Gradescope shows a 0/0 test without a status as passed: its name says it was not run
            test["name"] = f"{test['name']} [{SKIPPED_TAG}]"
        if test.get("visibility") != "visible":
            test["visibility"] = hidden_visibility
    earned = 0
    for indices in by_function.values():
        for i, units in zip(indices, apportion([points[tests[i]["name"]] for i in indices]), strict=True):
            tests[i]["max_score"] = units / UNIT
            tests[i]["score"] = units / UNIT if tests[i]["status"] == "passed" else 0.0
            earned += units if tests[i]["status"] == "passed" else 0
    lines = [line for line in str(graded.get("output", "")).splitlines() if line != HIDDEN_NOTE]
    extra = {**graded.get("extra_data", {}), "isolation": dict(isolation)}
    extra["max_score"] = sum(round(t["max_score"] * UNIT) for t in tests) / UNIT
    return {
        "score": earned / UNIT,
        "execution_time": round(execution_time, 2),
        "output": "\n".join([*lines, HIDDEN_NOTES[hidden_visibility]]),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": extra,
    }


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def validate(data: Any) -> list[str]:
    """Every way ``data`` breaks Gradescope's results.json spec or our promises about it; [] when none."""
    if not isinstance(data, dict):
        return [f"results.json holds a {type(data).__name__}, expected an object"]
    problems = []
    tests = data.get("tests")
    if not isinstance(tests, list) or not tests:
        problems.append("'tests' is missing or empty")
        tests = []
    if not _number(data.get("score")):
        problems.append(f"top-level 'score' is {data.get('score')!r}, expected a number")
    if "execution_time" in data and not (_number(data["execution_time"]) and data["execution_time"] >= 0):
        problems.append(f"'execution_time' is {data['execution_time']!r}, expected seconds ≥ 0")
    for key in ("visibility", "stdout_visibility"):
        if key in data and data[key] not in VISIBILITIES:
            problems.append(f"top-level {key!r} is {data[key]!r}, expected one of {VISIBILITIES}")
    for key in ("output_format", "test_output_format", "test_name_format"):
        if key in data and data[key] not in FORMATS:
            problems.append(f"{key!r} is {data[key]!r}, expected one of {FORMATS}")
    if "extra_data" in data and not isinstance(data["extra_data"], dict):
        problems.append("'extra_data' is not an object")
    if not isinstance(data.get("output", ""), str):
        problems.append("top-level 'output' is not a string")
    total = 0.0
    for i, test in enumerate(tests):
        where = f"test {i} ({test.get('name', '?')!r})" if isinstance(test, dict) else f"test {i}"
        if not isinstance(test, dict):
            problems.append(f"{where} is not an object")
            continue
        for key in ("score", "max_score"):
            if not _number(test.get(key)):
                problems.append(f"{where}: {key!r} is {test.get(key)!r}, expected a number")
        if _number(test.get("score")) and _number(test.get("max_score")):
            total += test["score"]
            if not 0 <= test["score"] <= test["max_score"] + 1e-9:
                problems.append(f"{where}: score {test['score']} outside [0, max_score {test['max_score']}]")
        for key in ("name", "output", "number"):
            if key in test and not isinstance(test[key], str):
                problems.append(f"{where}: {key!r} is not a string")
        if test.get("visibility", "visible") not in VISIBILITIES:
            problems.append(f"{where}: visibility {test.get('visibility')!r}, expected one of {VISIBILITIES}")
        if test.get("status", "passed") not in ("passed", "failed"):
            problems.append(f"{where}: status {test.get('status')!r}, expected 'passed' or 'failed'")
        if "tags" in test and not (isinstance(test["tags"], list) and all(isinstance(t, str) for t in test["tags"])):
            problems.append(f"{where}: 'tags' is not a list of strings")
        if "extra_data" in test and not isinstance(test["extra_data"], dict):
            problems.append(f"{where}: 'extra_data' is not an object")
    if _number(data.get("score")) and abs(data["score"] - total) > 1e-6:
        problems.append(f"top-level score {data['score']} is not the sum of the tests' scores ({total})")
    return problems
