"""The demo used by ``optigrade demo``: builds, grades, and shows right, wrong and unreadable answers."""

import csv
from pathlib import Path

from quiz_bank.demo import DEMO_ROSTER, build_demo
from quiz_bank.roster import read_roster


def test_build_demo(tmp_path: Path) -> None:
    files = build_demo(tmp_path, pdf=False)
    assert all(p.is_file() for p in files)
    names = {p.name for p in files}
    assert {"answer_key.json", "moodle.xml", "canvas_qti.zip", "scores.csv", "scores_items.csv"} <= names
    students = read_roster(DEMO_ROSTER)
    assert 4 <= len(students) <= 8
    assert any("\u4e00" <= ch <= "\u9fff" for s in students for ch in s.name)  # Chinese names
    assert any(s.name.isascii() for s in students)  # and English ones
    with (tmp_path / "scores.csv").open(encoding="utf-8") as f:
        scores = [(int(r["score"]), int(r["max"])) for r in csv.DictReader(f)]
    assert any(s == m for s, m in scores)  # someone got everything right
    assert any(s < m for s, m in scores)  # someone got something wrong
    with (tmp_path / "scores_issues.csv").open(encoding="utf-8") as f:
        problems = [r["problem"] for r in csv.DictReader(f)]
    assert any(p.startswith("unreadable") for p in problems)


def test_demo_responses_are_current(tmp_path: Path) -> None:
    import json

    from quiz_bank.build import build_quiz
    from quiz_bank.demo import DEMO_RESPONSES, DEMO_SEED, demo_responses

    built = build_quiz(DEMO_ROSTER, DEMO_SEED, tmp_path, kinds=None, pdf=False)
    key = json.loads(built.key_json.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    assert DEMO_RESPONSES.read_text(encoding="utf-8") == demo_responses(key), (
        "demo_responses.csv is stale (a generator changed): run `python -m quiz_bank.demo`")
