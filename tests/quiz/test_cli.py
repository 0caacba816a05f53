"""``quiz build`` and ``quiz grade`` through typer, as ``optigrade quiz …`` runs them."""

import json
from pathlib import Path

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
