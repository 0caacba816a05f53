"""Grading: responses read as students write them, the key's tolerance, per-row issues, statistics."""

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quiz_bank.build import BuildResult
from quiz_bank.cli import quiz_app
from quiz_bank.errors import QuizError
from quiz_bank.grade import grade_responses, read_responses
from quiz_bank.responses import Unreadable, parse_choice, parse_number
from quiz_bank.stats import kind_stats, pearson


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.6513", "0.6513"), (" 0.6513 ", "0.6513"), ("≈ 0.6513", "0.6513"), ("~0.6513", "0.6513"),
        ("−0.5", "-0.5"), ("－０．５", "-0.5"), ("３２００", "3200"), ("3,200", "3200"), ("5 000 000", "5000000"),
        ("5,000,000", "5000000"), ("1.5e-3", "0.0015"), ("1.5E-3", "0.0015"), ("1.5×10⁻³", "0.0015"),
        ("1.5 x 10^-3", "0.0015"), ("1.5*10**-3", "0.0015"), ("1.5×10^(-3)", "0.0015"), ("10^-3", "0.001"),
        ("1/10", "0.1"), ("-3/4", "-0.75"), ("0,5", "0.5"), ("+2", "2"), (".5", "0.5"), ("0.6513。", "0.6513"),
        ("答: 0.25", "0.25"), ("9.955 × 10⁰", "9.955"),
        # as students in Taiwan type them: full-width comma, 約/大約, an IME full stop, a unit, a percentage
        ("３，２００", "3200"), ("約 0.6513", "0.6513"), ("大約0.6513", "0.6513"), ("0。6513", "0.6513"),
        ("100 steps", "100"), ("100次", "100"), ("３，２００ 個 steps", "3200"), ("65.13%", "0.6513"),
        ("−5%", "-0.05"), ("1.2×10^{-3}", "0.0012"), ("1.2E−3", "0.0012"), ("1.2 ×10 ⁻³", "0.0012"),
        # a decimal comma before three digits: no thousands-separated number starts with 0
        ("0,125", "0.125"), ("-0,125", "-0.125"), ("０，１２５", "0.125"), ("1,250", "1250"),
        ("\u2010" + "1.540", "-1.540"), ("\u2011" + "1.540", "-1.540"),  # hyphens from a word processor
    ],
)
def test_parse_number(text: str, value: str) -> None:
    assert parse_number(text) == Decimal(value)


@pytest.mark.parametrize("text", ["", "   ", "abc", "0.48?", "1..2", "1,23,4", "50%%", "%", "1/0", "e5", "5e", "nan",
                                  "inf", "0.5 0.6x", "1.2×10^{-3)", "100 apples"])
def test_unreadable_numbers_say_why(text: str) -> None:
    with pytest.raises(Unreadable) as info:
        parse_number(text)
    assert str(info.value)


@pytest.mark.parametrize("text", ["1e9999999999999999999", "1e" + "1" * 5000, "10^99999999999", "1.5×10^-" + "9" * 30,
                                  "1e1000000", "99e999999", "1" * 1_000_001 + "/0.001"])
def test_absurd_exponents_are_unreadable_not_a_crash(text: str) -> None:
    with pytest.raises(Unreadable, match="too large or too small") as info:
        parse_number(text)
    assert len(str(info.value)) < 200  # a 1,000,000-digit response is not quoted in full


def test_huge_responses_score_zero_with_an_issue(built: BuildResult, tmp_path: Path) -> None:
    key = json.loads(built.key_json.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    numeric = next(e for e in key if e["student"] == "B11001" and e["type"] == "numeric")
    negative = next(e for e in key if e["type"] == "numeric" and e["answer"] < 0 and e["student"] != "B11001")
    rows = [("B11001", numeric["question"], "1e9999999999999999999"),
            (negative["student"], negative["question"], "9" * 28 + "e999972")]  # response − answer overflows
    result = grade_responses(built.key_json, _write_responses(tmp_path / "r.csv", rows),  # type: ignore[arg-type]
                             tmp_path / "s.csv")
    assert [(i.line, "too large" in i.problem) for i in result.issues] == [(2, True)]
    assert {s: score for s, score, _ in result.scores}[negative["student"]] == 0


@pytest.mark.parametrize(("text", "letter"), [("A", "A"), ("b", "B"), ("(C)", "C"), ("Ｄ", "D"), (" d. ", "D")])
def test_parse_choice(text: str, letter: str) -> None:
    assert parse_choice(text, 4) == letter


@pytest.mark.parametrize("text", ["E", "AB", "1", "", "選A"])
def test_unreadable_choices(text: str) -> None:
    with pytest.raises(Unreadable):
        parse_choice(text, 4)


def _write_responses(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "question", "response"])
        writer.writerows(rows)
    return path


def test_grading_end_to_end(built: BuildResult, tmp_path: Path) -> None:
    key = json.loads(built.key_json.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    first = [e for e in key if e["student"] == "B11001"]
    numeric = next(e for e in first if e["type"] == "numeric")
    integer = next(e for e in first if e["type"] == "integer")
    choice = next(e for e in first if e["type"] == "choice")
    a, tol = Decimal(repr(numeric["answer"])), Decimal(repr(numeric["tolerance"]))
    wrong_letter = "ABCD".replace(choice["answer"], "")[0]
    rows = [
        ("B11001", numeric["question"], numeric["display"]),                 # right, as the key shows it
        ("B11001", integer["question"], f"{integer['answer']:,}"),           # right, with separators
        ("B11001", choice["question"].lower(), f"({choice['answer'].lower()})"),  # right, sloppy
        ("B11002", numeric["question"], "not a number"),                     # unreadable
        ("B11002", integer["question"], str(integer["answer"] + 1)),         # wrong (not B11002's answer anyway)
        ("B11003", numeric["question"], str(a + tol + Decimal("1e-9"))),     # just outside: wrong
        ("B11004", "Q99", "1"),                                              # no such question
        ("NOBODY", "Q1", "1"),                                               # no such student
        ("B11001", choice["question"], wrong_letter),                        # answered again: the last counts
    ]
    result = grade_responses(built.key_json, _write_responses(tmp_path / "r.csv", rows),  # type: ignore[arg-type]
                             tmp_path / "out" / "scores.csv")
    scores = {s: (score, top) for s, score, top in result.scores}
    assert scores["B11001"] == (2, len(first))
    assert scores["B11002"][0] <= 1
    assert scores["B11003"][0] == 0
    problems = [(i.line, i.problem) for i in result.issues]
    assert any(line == 5 and "unreadable" in p for line, p in problems)
    assert any(line == 8 and "Q99" in p for line, p in problems)
    assert any(line == 9 and "NOBODY" in p for line, p in problems)
    assert any(line == 10 and "answered again (first on line 4)" in p for line, p in problems)
    with (tmp_path / "out" / "scores.csv").open(encoding="utf-8") as f:
        assert next(csv.reader(f)) == ["student", "score", "max"]
    for name in ("scores_items.csv", "scores_detail.csv", "scores_issues.csv"):
        assert (tmp_path / "out" / name).is_file()
    kinds = {s.kind for s in result.stats}
    assert kinds == {e["template"] for e in key}


def test_right_answers_in_every_notation_score_full_marks(built: BuildResult, tmp_path: Path) -> None:
    """Every key answer, rounded to 4 significant figures and written in a student's notation, is accepted."""
    key = json.loads(built.key_json.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    notations = [lambda d: d, lambda d: "≈ " + d, lambda d: d.replace("-", "−"),
                 lambda d: d.translate(str.maketrans("0123456789.-", "０１２３４５６７８９．－")),
                 lambda d: f"{Decimal(d.replace(',', '')).scaleb(3):f}e-3"]
    rows = [(e["student"], e["question"],
             e["display"].lower() if e["type"] == "choice" else notations[i % len(notations)](e["display"]))
            for i, e in enumerate(key)]
    result = grade_responses(built.key_json, _write_responses(tmp_path / "r.csv", rows),  # type: ignore[arg-type]
                             tmp_path / "s.csv")
    assert result.issues == []
    assert all(score == top for _, score, top in result.scores)


def test_bad_key_and_responses_are_quiz_errors(built: BuildResult, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("id,answer\n1,2\n", encoding="utf-8")
    with pytest.raises(QuizError, match="missing: student, question, response"):
        grade_responses(built.key_json, bad, tmp_path / "s.csv")  # type: ignore[arg-type]
    key = tmp_path / "key.json"
    key.write_text('[{"student": "a"}]', encoding="utf-8")
    with pytest.raises(QuizError, match="entry 1"):
        grade_responses(key, bad, tmp_path / "s.csv")
    key.write_text("{", encoding="utf-8")
    with pytest.raises(QuizError, match="not JSON"):
        grade_responses(key, bad, tmp_path / "s.csv")


def test_statistics() -> None:
    assert pearson([0, 1, 1, 0], [1, 3, 4, 2]) == pytest.approx(0.8944, abs=1e-4)
    assert pearson([1, 1, 1], [1, 2, 3]) is None
    scores = {"a": {"k1": [1, 1], "k2": [1]}, "b": {"k1": [1, 0], "k2": [0]}, "c": {"k1": [0, 0], "k2": [0]}}
    k1, k2 = kind_stats(scores, ["k1", "k2"])
    assert (k1.items, k1.students) == (2, 3)
    assert k1.facility == pytest.approx(0.5)
    assert k2.facility == pytest.approx(1 / 3)
    assert k1.discrimination == pytest.approx(pearson([2, 1, 0], [1, 0, 0]))  # k1 against the rest (k2)
    assert k2.discrimination is not None
    assert k2.discrimination > 0


def test_statistics_match_a_hand_computation() -> None:
    """Four students, three kinds; facility and discrimination worked out by hand.

    k1 (2 items): per student X = 2, 1, 0, 1; the rest of the test Y = 2, 1, 1, 0.
    Means 1 and 1; deviations (1, 0, −1, 0) and (1, 0, 0, −1): Sxy = 1, Sxx = Syy = 2, r = 1/2.
    k2: X = 1, 1, 0, 0; Y = 3, 1, 1, 1: Sxy = 1, Sxx = 1, Syy = 3, r = 1/√3.
    k3: X = 1, 0, 1, 0; Y = 3, 2, 0, 1: Sxy = 0.75 − 0.25 − 0.75 + 0.25 = 0, r = 0.
    Facility: k1 4 of 8 items right, k2 2 of 4, k3 2 of 4: all 0.5.
    """
    scores = {"a": {"k1": [1, 1], "k2": [1], "k3": [1]}, "b": {"k1": [1, 0], "k2": [1], "k3": [0]},
              "c": {"k1": [0, 0], "k2": [0], "k3": [1]}, "d": {"k1": [1, 0], "k2": [0], "k3": [0]}}
    k1, k2, k3 = kind_stats(scores, ["k1", "k2", "k3"])
    assert [s.facility for s in (k1, k2, k3)] == [0.5, 0.5, 0.5]
    assert k1.discrimination == pytest.approx(0.5)
    assert k2.discrimination == pytest.approx(1 / 3**0.5)
    assert k3.discrimination == pytest.approx(0.0)
    assert (k1.items, k2.items, k1.students) == (2, 1, 4)


def test_students_without_any_response_are_left_out_of_the_statistics(built: BuildResult, tmp_path: Path) -> None:
    key = json.loads(built.key_json.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    rows = [(e["student"], e["question"], e["display"]) for e in key if e["student"] in ("B11001", "B11002")]
    result = grade_responses(built.key_json, _write_responses(tmp_path / "r.csv", rows),  # type: ignore[arg-type]
                             tmp_path / "s.csv")
    assert result.absent == ["B11003", "B11004"]
    assert {s: score for s, score, _ in result.scores}["B11003"] == 0  # still scored
    assert all(s.students == 2 and s.facility == 1.0 for s in result.stats)  # absentees would make it 0.5


def test_ids_and_numbers_as_students_type_them(built: BuildResult, tmp_path: Path) -> None:
    """Lower-case or full-width student ids, question ids without the Q, and 3,200 left unquoted in the CSV."""
    key = json.loads(built.key_json.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    count = max((e for e in key if e["student"] == "B11002" and e["type"] == "integer"), key=lambda e: e["answer"])
    numeric = next(e for e in key if e["student"] == "B11002" and e["type"] == "numeric")
    thousands = f"{count['answer']:,}"
    assert "," in thousands
    lines = ["student,question,response",
             f"b11002,{count['question'].lower()},{thousands}",  # not quoted: the CSV splits it at the comma
             f"Ｂ１１００２,{numeric['question'][1:]},{numeric['display']}"]  # full-width id, "2a" for Q2a
    responses = tmp_path / "r.csv"
    responses.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = grade_responses(built.key_json, responses, tmp_path / "s.csv")  # type: ignore[arg-type]
    assert result.issues == []
    assert {s: score for s, score, _ in result.scores}["B11002"] == 2


def test_unquoted_comma_before_further_columns_is_reported_not_misread(built: BuildResult, tmp_path: Path) -> None:
    """With a column after `response`, 1,206 unquoted splits into 1 and 206: no way to tell, so say so."""
    key = json.loads(built.key_json.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    count = max((e for e in key if e["type"] == "integer"), key=lambda e: e["answer"])
    shown = f"{count['answer']:,}"
    assert "," in shown
    responses = tmp_path / "r.csv"
    choice = next(e for e in key if e["student"] == count["student"] and e["type"] == "choice")
    responses.write_text(f"student,question,response,comment\n{count['student']},{count['question']},{shown},late\n"
                         f"{count['student']},{choice['question']},{choice['answer']},\n", encoding="utf-8")
    result = grade_responses(built.key_json, responses, tmp_path / "s.csv")  # type: ignore[arg-type]
    assert [(i.line, i.question) for i in result.issues] == [(2, count["question"])]
    assert {s: score for s, score, _ in result.scores}[count["student"]] == 1  # a trailing empty field is fine
    assert "unquoted comma" in result.issues[0].problem
    assert "Fix:" in result.issues[0].problem


def test_an_unquoted_comma_in_a_later_column_leaves_the_response_as_it_was(built: BuildResult,
                                                                           tmp_path: Path) -> None:
    """A comment `Chen, Wei` splits the row, but the response before it cannot have been cut: graded as read."""
    key = json.loads(built.key_json.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    choice = next(e for e in key if e["type"] == "choice")
    responses = tmp_path / "r.csv"
    responses.write_text(f"student,question,response,comment\n{choice['student']},{choice['question']},"
                         f"{choice['answer']},Chen, Wei\n", encoding="utf-8")
    result = grade_responses(built.key_json, responses, tmp_path / "s.csv")  # type: ignore[arg-type]
    assert result.issues == []
    assert {s: score for s, score, _ in result.scores}[choice["student"]] == 1


def test_responses_with_chinese_headers(built: BuildResult, tmp_path: Path) -> None:
    key = json.loads(built.key_json.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    entry = next(e for e in key if e["type"] == "choice")
    responses = tmp_path / "r.csv"
    row = f"{entry['student']},{entry['question']},{entry['answer']}"
    responses.write_text(f"學號,題號,作答\n{row}\n", encoding="utf-8")
    result = grade_responses(built.key_json, responses, tmp_path / "s.csv")  # type: ignore[arg-type]
    assert result.issues == []
    assert {s: score for s, score, _ in result.scores}[entry["student"]] == 1
    responses.write_text("學生,題目,答\nB11001,Q1,0.5\n", encoding="utf-8")
    with pytest.raises(QuizError, match="student also as 學號.*question also as 題號.*response also as 作答"):
        grade_responses(built.key_json, responses, tmp_path / "s.csv")  # type: ignore[arg-type]


def test_a_number_split_into_an_empty_later_column_is_warned_about(built: BuildResult, tmp_path: Path) -> None:
    """student,question,response,comment: an unquoted 1,206 with no comment reads as response 1, comment 206,
    and the trailing empty field that is left looks like a harmless trailing comma.  No single row proves it,
    but a row one field longer than the others, with a short number followed by three digits, is named."""
    key = json.loads(built.key_json.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    count = next(e for e in key if e["type"] == "integer" and 1000 <= e["answer"] < 1_000_000)
    choice = next(e for e in key if e["student"] == count["student"] and e["type"] == "choice")
    shown = f"{count['answer']:,}"
    responses = tmp_path / "r.csv"
    responses.write_text(f"student,question,response,comment\n"
                         f"{count['student']},{choice['question']},{choice['answer']},\n"
                         f"{count['student']},{count['question']},{shown},\n", encoding="utf-8")
    result = grade_responses(built.key_json, responses, tmp_path / "s.csv")  # type: ignore[arg-type]
    assert result.issues == []  # graded as read: no row can be shown to be wrong
    head, tail = shown.split(",")
    assert result.warnings == [
        f"--responses: {responses}: line 3 may hold a number split by an unquoted comma: its response is "
        f"{head!r} and the next column (comment) holds {tail!r}, with one field more than the other rows, so "
        f"{shown} may have been read as {head} (graded as read). Fix: quote such numbers (\"{shown}\") or make "
        f"`response` the last column, then grade again."]
    graded = CliRunner().invoke(quiz_app, ["grade", "--key", str(built.key_json), "--responses", str(responses),
                                           "-o", str(tmp_path / "s.csv")])
    assert graded.exit_code == 0, graded.output
    assert "warning: --responses" in " ".join(graded.output.split())
    assert "line 3 may hold a number split" in " ".join(graded.output.split())


def test_every_split_row_is_named(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("student,question,response,comment\nB1,Q1,0.5,\nB1,Q2,1,206,\nB2,Q1,0,125,\nB2,Q2,3,200,\n"
                    "B3,Q1,0.7,\n", encoding="utf-8")
    warnings: list[str] = []
    read_responses(path, warnings)
    assert len(warnings) == 1
    assert "lines 3, 4, 5 may hold numbers split by an unquoted comma" in warnings[0]
    path.write_text("student,question,response,comment\nB1,Q2,1,206,\nB2,Q1,3,200,\n", encoding="utf-8")
    read_responses(path, warnings)  # every row so: longer than the header
    assert "lines 2, 3 may hold" in warnings[1]


@pytest.mark.parametrize("text", [
    # a column after `response` that holds three digits in every row: a section, seconds taken
    "student,question,response,section\nB1,Q1,3,101\nB1,Q2,0.5,101\nB2,Q1,12,102\n",
    "student,question,response,seconds\nB1,Q1,3,125\nB1,Q2,0.5,40\n",
    # `response` last: the split is joined back, nothing is lost
    "student,question,response\nB1,Q1,1,206\nB1,Q2,0.5\n",
    # a row one field longer, but the response is not a cut number
    "student,question,response,comment\nB1,Q1,0.5,,\nB1,Q2,0.6,\n",
])
def test_honest_responses_files_get_no_warning(text: str, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(text, encoding="utf-8")
    warnings: list[str] = []
    read_responses(path, warnings)
    assert warnings == []


def test_a_required_column_twice_is_an_error(built: BuildResult, tmp_path: Path) -> None:
    responses = tmp_path / "r.csv"
    responses.write_text("student,question,Response,response\nB11001,Q1,0.5,0.6\n", encoding="utf-8")
    with pytest.raises(QuizError, match="response appear more than once"):
        grade_responses(built.key_json, responses, tmp_path / "s.csv")  # type: ignore[arg-type]


def test_a_comma_that_reads_both_ways_is_reported_when_only_the_decimal_reading_is_right(
        built: BuildResult, tmp_path: Path) -> None:
    """1,234 is 1234 (thousands); when the answer is 1.234 the row is flagged for a decision by hand."""
    key = json.loads(built.key_json.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    entry = next(e for e in key if e["type"] == "numeric" and 1 <= abs(e["answer"]) < 10)
    comma = entry["display"].replace(".", ",")  # -1.540 -> -1,540
    other = next(e for e in key if e["type"] == "numeric" and e["student"] != entry["student"])
    rows = [(entry["student"], entry["question"], comma),
            (other["student"], other["question"], "1,234")]  # wrong both ways: no flag
    result = grade_responses(built.key_json, _write_responses(tmp_path / "r.csv", rows),  # type: ignore[arg-type]
                             tmp_path / "s.csv")
    assert [(i.line, i.response) for i in result.issues] == [(2, comma)]
    assert "decide by hand" in result.issues[0].problem
    assert {s: score for s, score, _ in result.scores}[entry["student"]] == 0
