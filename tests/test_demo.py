"""`make demo` / `optigrade demo`: grades the embedded demo class and builds its quiz, sandbox or not."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from grader.demo import HOSTILE, run_demo
from grader.sandbox import isolation


def rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / "graded" / "grades.csv").open() as f:
        return {r["student"]: r for r in csv.DictReader(f)}


def test_demo_grades_the_class_and_builds_the_quiz(tmp_path: Path) -> None:
    text = io.StringIO()
    run_demo(tmp_path, Console(file=text, width=120))
    table = rows(tmp_path)
    assert len(table) == 4
    assert float(table["b11002001"]["total"]) == float(table["b11002001"]["max_total"])
    assert all(float(r["total"]) < float(r["max_total"]) for sid, r in table.items() if sid != "b11002001")
    assert (tmp_path / "quiz" / "answer_key.json").is_file()
    assert "Where the files are" in text.getvalue()


def test_without_a_sandbox_the_demo_degrades_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(isolation, "probe", lambda: ([], ["Landlock is unavailable (simulated)"]))
    text = io.StringIO()
    run_demo(tmp_path, Console(file=text, width=200))
    table = rows(tmp_path)
    assert HOSTILE not in table  # hostile code never runs without isolation
    assert len(table) == 3
    results = json.loads((tmp_path / "graded" / "b11002001" / "results.json").read_text())
    assert results["extra_data"]["sandboxed"] is False
    assert "No sandbox here" in text.getvalue()
    assert "Landlock is unavailable (simulated)" in text.getvalue()
    assert (tmp_path / "quiz" / "answer_key.json").is_file()
