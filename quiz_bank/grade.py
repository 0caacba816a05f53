"""``optigrade quiz grade``: score responses against ``answer_key.json`` under the quiz's number rule.

Unreadable, unknown or repeated responses are reported row by row (in
``<scores>_issues.csv`` and in the result) and score 0; they never stop grading.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from quiz_bank import numbers
from quiz_bank.csvfile import dict_rows, read_text
from quiz_bank.errors import QuizError
from quiz_bank.responses import Unreadable, decimal_comma_reading, normalize, parse_choice, parse_number
from quiz_bank.stats import KindStats, kind_stats

KEY_FIELDS = ("student", "question", "template", "answer", "tolerance")


@dataclass(frozen=True)
class KeyEntry:
    student: str
    question: str
    template: str
    answer: Decimal | str  # a letter for multiple choice
    tolerance: Decimal
    options: int

    def correct(self, response: str) -> bool:
        """Whether a response earns the point; raises Unreadable when it cannot be read."""
        if isinstance(self.answer, str):
            return parse_choice(response, self.options) == self.answer
        return numbers.accepts(parse_number(response), self.answer, self.tolerance)


@dataclass(frozen=True)
class Issue:
    line: int
    student: str
    question: str
    response: str
    problem: str


@dataclass
class GradeResult:
    scores: list[tuple[str, int, int]]  # student, score, max
    stats: list[KindStats]
    issues: list[Issue]
    files: list[Path] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)  # students without any response (not in the statistics)
    warnings: list[str] = field(default_factory=list)  # about the whole responses file, for the instructor


def _entry(i: int, raw: Any, source: str) -> KeyEntry:
    if not isinstance(raw, dict) or any(f not in raw for f in KEY_FIELDS):
        raise QuizError(f"{source}: entry {i} is {str(raw)[:80]!r}; expected an object with the fields "
                        f"{', '.join(KEY_FIELDS)}. Fix: pass the answer_key.json written by `quiz build`.")
    answer = raw["answer"]
    if isinstance(answer, str):
        return KeyEntry(str(raw["student"]), str(raw["question"]), str(raw["template"]), answer,
                        Decimal(0), len(raw.get("options") or "ABCD"))
    if not isinstance(answer, int | float) or isinstance(answer, bool):
        raise QuizError(f"{source}: entry {i} has answer {answer!r}; expected a number or a letter. "
                        f"Fix: rebuild the key with `quiz build`.")
    return KeyEntry(str(raw["student"]), str(raw["question"]), str(raw["template"]),
                    numbers.to_decimal(answer), numbers.to_decimal(raw["tolerance"] or 0), 0)


def read_key(path: Path) -> list[KeyEntry]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise QuizError(f"--key: {path} does not exist. "
                        f"Fix: pass the answer_key.json from `quiz build`.") from None
    except json.JSONDecodeError as e:
        raise QuizError(f"--key: {path} is not JSON ({e.msg}, line {e.lineno}). "
                        f"Fix: pass the answer_key.json from `quiz build`.") from None
    if not isinstance(data, list) or not data:
        raise QuizError(f"--key: {path} holds {type(data).__name__}; expected a non-empty list of answers. "
                        f"Fix: pass the answer_key.json from `quiz build`.")
    return [_entry(i, raw, str(path)) for i, raw in enumerate(data, start=1)]


Row = tuple[int, str, str, str, str]  # line, student, question, response, why it cannot be used ("" if it can)

# What is left of 1,206 or 0,125 split by an unquoted comma: a response of at most three digits, and three
# digits in the next column.
_CUT_HEAD = re.compile(r"^[+-]?\d{1,3}$")
_CUT_TAIL = re.compile(r"^\d{3}(?:\.\d+)?$")
MAX_LINES_NAMED = 10


def read_responses(path: Path, warnings: list[str] | None = None) -> list[Row]:
    """(line, student, question, response, problem) for every row; ``warnings`` gets what concerns the file.

    With a column after ``response``, an unquoted ``1,206`` whose later column is empty reads as ``1`` and
    ``206`` and leaves an empty field over, which looks like a harmless trailing comma: no single row can be
    shown to be wrong.  A warning names the rows with a response of at most three digits, three digits in the
    next column and one field more than most other rows (than the header, when every row looks so): a column
    that honestly holds three digits, a section or seconds taken, in rows as long as the others, says nothing.
    """
    reader = dict_rows(read_text(path, "--responses"), ("student", "question", "response"), "--responses", path)
    header = reader.fieldnames or []
    last_is_response = header[-1] == "response"
    after = header[header.index("response") + 1] if not last_is_response else ""
    rows = []
    lengths: list[int] = []  # fields in each row
    cut: list[tuple[int, int, str, str]] = []  # rows that may hold a split number: (row index, line, head, tail)
    for row in reader:
        response = row["response"] or ""
        extra = row.get(None)
        lengths.append(sum(v is not None for k, v in row.items() if k is not None) + len(extra or []))
        if after and not any(x.strip() for x in extra or []) and _CUT_HEAD.match(normalize(response)) \
                and _CUT_TAIL.match((row.get(after) or "").strip()):
            cut.append((len(lengths) - 1, reader.line_num, response.strip(), (row.get(after) or "").strip()))
        problem = ""
        if extra and last_is_response:  # 3,200 written without quotes: the CSV split it, join it back
            response = ",".join([response, *extra])
        elif extra and any(x.strip() for x in extra) and _CUT_HEAD.match(normalize(response)) \
                and _CUT_TAIL.match((row.get(after) or "").strip()):
            # Some field held an unquoted comma, and it may have been the response's: 3,200 read as 3 with 200
            # in the next column.  (One in a later field, a comment "Chen, Wei", leaves the response as it was.)
            problem = (f"the row has {len(header) + len(extra)} fields but the header names {len(header)} "
                       f"({','.join(header)}); a value with an unquoted comma such as 3,200? Fix: quote it "
                       f"(\"3,200\") or make `response` the last column")
        rows.append((reader.line_num, (row["student"] or "").strip(), (row["question"] or "").strip(), response,
                     problem))
    if cut and warnings is not None:
        # the length most of the other rows have (the shorter one on a tie; the header's when every row is
        # suspect): a row longer than that has a field too many
        suspect = {i for i, *_ in cut}
        others = Counter(n for i, n in enumerate(lengths) if i not in suspect)
        usual = max(others.items(), key=lambda item: (item[1], -item[0]))[0] if others else len(header)
        longer = [(line, head, tail) for i, line, head, tail in cut if lengths[i] > usual]
        if longer:
            warnings.append(_split_warning(path, longer, after))
    return rows


def _split_warning(path: Path, rows: list[tuple[int, str, str]], after: str) -> str:
    lines = [str(line) for line, _, _ in rows[:MAX_LINES_NAMED]] + (["…"] if len(rows) > MAX_LINES_NAMED else [])
    _, head, tail = rows[0]
    if len(rows) == 1:
        where = (f"line {lines[0]} may hold a number split by an unquoted comma: its response is {head!r} and the "
                 f"next column ({after}) holds {tail!r}, with one field more than the other rows")
    else:
        where = (f"lines {', '.join(lines)} may hold numbers split by an unquoted comma: each has a response of at "
                 f"most three digits (line {rows[0][0]}: {head!r}) and three digits in the next column ({after}: "
                 f"{tail!r}), with one field more than most rows")
    return (f"--responses: {path}: {where}, so {head},{tail} may have been read as {head} (graded as read). "
            f"Fix: quote such numbers (\"{head},{tail}\") or make `response` the last column, then grade again.")


def _student_id(text: str) -> str:
    """Student ids as typed: ``b11001`` and ``Ｂ１１００１`` mean B11001 (the roster refuses ids differing only so)."""
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


def _question_id(text: str) -> str:
    """Question ids as students copy them: ``q2a``, ``Ｑ２ａ``, ``2a`` and ``Q2A`` all mean Q2a."""
    text = "".join(unicodedata.normalize("NFKC", text).split()).upper()
    return f"Q{text}" if text[:1].isdigit() else text


def score(key: list[KeyEntry], rows: list[Row]) -> tuple[dict[tuple[str, str], int], list[Issue], set[str]]:
    """0/1 per (student, question) of the key, the rows that could not be used, the students who answered."""
    answered: set[str] = set()
    entries = {(_student_id(e.student), _question_id(e.question)): e for e in key}
    students = {_student_id(e.student) for e in key}
    marks = {(e.student, e.question): 0 for e in key}
    issues: list[Issue] = []
    seen: dict[tuple[str, str], int] = {}
    for line, student, question, response, problem in rows:
        where = (_student_id(student), _question_id(question))
        if where[0] not in students:
            issues.append(Issue(line, student, question, response, f"student {student!r} is not in the key"))
            continue
        if where not in entries:
            issues.append(Issue(line, student, question, response,
                                f"question {question!r} is not on {student}'s quiz"))
            continue
        if where in seen:
            issues.append(Issue(line, student, question, response,
                                f"answered again (first on line {seen[where]}); this later answer counts"))
        seen[where] = line
        entry = entries[where]
        mark = (entry.student, entry.question)
        answered.add(entry.student)
        if problem:
            marks[mark] = 0
            issues.append(Issue(line, student, question, response, problem))
            continue
        if not response.strip():
            marks[mark] = 0
            continue
        try:
            marks[mark] = int(entry.correct(response))
        except Unreadable as e:
            marks[mark] = 0
            issues.append(Issue(line, student, question, response, f"unreadable: {e}"))
            continue
        other = decimal_comma_reading(response) if not marks[mark] else None
        if other is not None and isinstance(entry.answer, Decimal) and numbers.accepts(other, entry.answer,
                                                                                        entry.tolerance):
            issues.append(Issue(line, student, question, response,
                                f"read as {numbers.plain(parse_number(response))} (a thousands separator), which "
                                f"is wrong; with a decimal comma, {numbers.plain(other)}, it would be right. "
                                f"Fix: decide by hand (the mark stays 0)"))
    return marks, issues, answered


def grade_responses(key_path: Path, responses_path: Path, out_path: Path) -> GradeResult:
    """Grade a responses CSV; write ``out_path`` (student,score,max) and its companions beside it.

    Beside ``SCORES.csv`` go ``SCORES_items.csv`` (statistics per kind),
    ``SCORES_detail.csv`` (every item's mark) and ``SCORES_issues.csv`` (rows not used).
    """
    key = read_key(key_path)
    warnings: list[str] = []
    marks, issues, answered = score(key, read_responses(responses_path, warnings))
    students = list(dict.fromkeys(e.student for e in key))
    kinds = list(dict.fromkeys(e.template for e in key))
    per_kind: dict[str, dict[str, list[int]]] = {s: {} for s in students}
    for e in key:
        per_kind[e.student].setdefault(e.template, []).append(marks[(e.student, e.question)])
    scores = [(s, sum(sum(v) for v in per_kind[s].values()), sum(len(v) for v in per_kind[s].values()))
              for s in students]
    # A student with no response row at all did not sit the quiz: they score 0, but counting them in the
    # statistics would lower every facility and inflate every discrimination.
    absent = [s for s in students if s not in answered]
    stats = kind_stats({s: per_kind[s] for s in students if s in answered}, kinds)

    out_path.parent.mkdir(parents=True, exist_ok=True)
    stem = out_path.with_suffix("")
    files = [out_path, Path(f"{stem}_items.csv"), Path(f"{stem}_detail.csv"), Path(f"{stem}_issues.csv")]
    _write_csv(files[0], ["student", "score", "max"], [list(map(str, row)) for row in scores])
    _write_csv(files[1], ["kind", "items", "students", "facility", "discrimination"],
               [[s.kind, str(s.items), str(s.students), f"{s.facility:.4f}",
                 "" if s.discrimination is None else f"{s.discrimination:.4f}"] for s in stats])
    _write_csv(files[2], ["student", "question", "template", "correct"],
               [[e.student, e.question, e.template, str(marks[(e.student, e.question)])] for e in key])
    _write_csv(files[3], ["line", "student", "question", "response", "problem"],
               [[str(i.line), i.student, i.question, i.response, i.problem] for i in issues])
    return GradeResult(scores, stats, issues, files, absent, warnings)


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
