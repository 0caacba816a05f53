"""``quiz build`` and ``quiz grade`` through typer, as ``optigrade quiz …`` runs them."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quiz_bank.cli import quiz_app

runner = CliRunner()


def test_build_then_grade(roster_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "quiz"
    built = runner.invoke(quiz_app, ["build", "--roster", str(roster_file), "--seed", "7", "-o", str(out),
                                     "--lang", "en", "--kinds", "bias_correction,steps_per_epoch",
                                     "--kinds", "concept_minibatch", "--no-pdf"])
    assert built.exit_code == 0, built.output
    assert "4 handouts" in built.output
    key = json.loads((out / "answer_key.json").read_text(encoding="utf-8"))
    assert {e["template"] for e in key} == {"bias_correction", "steps_per_epoch", "concept_minibatch"}
    responses = tmp_path / "responses.csv"
    responses.write_text("student,question,response\n" + "".join(
        f"{e['student']},{e['question']},{e['display'].replace(',', '')}\n" for e in key) + "B11001,Q1,??\n",
        encoding="utf-8")
    graded = runner.invoke(quiz_app, ["grade", "--key", str(out / "answer_key.json"), "--responses",
                                      str(responses), "-o", str(tmp_path / "scores.csv")])
    assert graded.exit_code == 0, graded.output
    assert "Item statistics" in graded.output
    assert "unreadable" in graded.output
    scores = (tmp_path / "scores.csv").read_text(encoding="utf-8").splitlines()
    assert scores[0] == "student,score,max"
    assert "B11002,3,3" in scores  # B11001's Q1 was answered again with '??': the last answer counts


def test_bad_input_exits_2_with_the_message(tmp_path: Path) -> None:
    roster = tmp_path / "r.csv"
    roster.write_text("student_id,name\nB1,Amy\n,Ben\n", encoding="utf-8")
    result = runner.invoke(quiz_app, ["build", "--roster", str(roster), "--seed", "1", "-o", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "line 3: student_id is empty" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("roster", "options", "says"),
    [
        # each message names the option and the value, says what was expected, and how to fix it
        ("id,name\nB1,Amy\n", [], ["--roster", "header id,name", "expected the columns student_id,name",
                                   "missing: student_id", "Fix: make line 1 'student_id,name'"]),
        ("student_id,name\nB1,Amy\nB1,Ben\n", [], ["--roster", "line 3", "student_id 'B1'", "line 2",
                                                   "expected each student_id once", "Fix:"]),
        (None, ["--kinds", "bias_corection,total_steps"], ["--kinds", "bias_corection", "expected some of",
                                                           "Fix: did you mean --kinds bias_correction,total_steps?"]),
        (None, ["--lang", "fr"], ["--lang", "'fr'", "expected one of zh-TW, en", "Fix: pass --lang zh-TW"]),
        (None, ["--lang", "zh-CN"], ["--lang", "'zh-CN'", "Traditional Chinese, zh-TW", "Fix:"]),
    ],
)
def test_bad_input_messages_name_the_value_the_expectation_and_the_fix(
        roster: str | None, options: list[str], says: list[str], roster_file: Path, tmp_path: Path) -> None:
    path = roster_file
    if roster is not None:
        path = tmp_path / "roster.csv"
        path.write_text(roster, encoding="utf-8")
    result = runner.invoke(quiz_app, ["build", "--roster", str(path), "--seed", "1", "-o", str(tmp_path / "o"),
                                      "--no-pdf", *options])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert message.startswith("error:")
    for part in says:
        assert part in message, (part, message)
    assert "Traceback" not in result.output
    assert not (tmp_path / "o").exists()  # nothing half-written


def test_lang_is_read_in_any_case_or_separator(roster_file: Path, tmp_path: Path) -> None:
    result = runner.invoke(quiz_app, ["build", "--roster", str(roster_file), "--seed", "1", "-o", str(tmp_path),
                                      "--lang", "ZH_tw", "--kinds", "bias_correction", "--no-pdf"])
    assert result.exit_code == 0, result.output
    assert 'lang="zh-Hant-TW"' in (tmp_path / "handouts" / "handout_B11001.html").read_text(encoding="utf-8")
