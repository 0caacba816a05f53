"""Write the class's grades (``OUT/grades.csv``) as Canvas's or Moodle's grade import CSV.

Canvas (Grades → Import): ``Student, ID, SIS User ID, SIS Login ID, Section, <assignment>``, the ids
copied from the roster (Canvas finds the student by them) and a ``Points Possible`` row.
Moodle (Grades → Import → CSV file): an identifier column (email, ID number or username: map it to
the same user field in the import form), then ``<assignment>``.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from grader.errors import UsageError
from grader.lms.roster import CANVAS_COLUMNS, MOODLE_IDS, Roster, find_column, match, read_roster

LMS = ("canvas", "moodle")


@dataclass
class Exported:
    out: Path
    students: int  # roster rows written
    graded: int  # of them with a grade
    unmatched: list[str] = field(default_factory=list)  # submissions with no roster entry: "id (total)"
    ambiguous: list[str] = field(default_factory=list)  # submissions matching several roster students
    not_exported: list[str] = field(default_factory=list)  # grader errors: regrade them first


def _grades(graded: Path) -> list[dict[str, str]]:
    path = graded / "grades.csv"
    try:
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
            headers = set(rows[0]) if rows else set()
    except OSError:
        raise UsageError(f"{graded} has no grades.csv; pass the folder `optigrade grade SUBMISSIONS -o OUT` wrote "
                         f"(OUT)") from None
    if not rows:
        raise UsageError(f"{path} lists no submissions; grade the class first (optigrade grade)")
    if not {"student", "total", "max_total", "status"} <= headers:
        raise UsageError(f"{path} lacks the columns student, total, max_total, status; expected the gradebook "
                         f"`optigrade grade` writes (found {sorted(headers)})")
    return rows


def export_grades(graded: Path, *, to: str, roster_path: Path, out: Path, assignment: str = "optigrade",
                  moodle_id: str = "email") -> Exported:
    """Write ``out`` for ``to`` from ``graded``/grades.csv and the roster; what was matched and what not."""
    if to not in LMS:
        raise UsageError(f"--to {to!r} is not one of {', '.join(LMS)}")
    if to == "moodle" and moodle_id not in MOODLE_IDS:
        raise UsageError(f"--moodle-id {moodle_id!r} is not one of {', '.join(MOODLE_IDS)} (the user field Moodle "
                         f"maps the identifier column to)")
    if not assignment.strip():
        raise UsageError("--assignment is empty; give the grade column's name, e.g. --assignment 'Homework 3'")
    if out.is_dir():
        raise UsageError(f"-o {out} is a folder; expected the CSV file to write, e.g. -o {out / f'{to}-grades.csv'}")
    rows = _grades(graded)
    roster = read_roster(roster_path, to)
    result = Exported(out, len(roster.students), 0)
    grade_of: dict[int, str] = {}
    taken: dict[int, str] = {}
    for row in rows:
        sid, total = row["student"], row["total"]
        if row["status"] == "grader_error":
            result.not_exported.append(sid)
            continue
        found = match(roster, sid)
        if not found:
            result.unmatched.append(f"{sid} ({total})")
        elif len(found) > 1:
            result.ambiguous.append(f"{sid} ({total}): rows {', '.join(str(i + 2) for i in found)}")
        elif found[0] in taken:
            raise UsageError(f"submissions {taken[found[0]]!r} and {sid!r} both belong to roster row {found[0] + 2} "
                             f"({_label(roster, found[0])}); keep one of them in SUBMISSIONS and grade again")
        else:
            taken[found[0]] = sid
            grade_of[found[0]] = f"{float(total):g}"
    # Points possible: the maximum every graded submission shares (it differs only if the suite changed).
    maxima = Counter(r["max_total"] for r in rows if r["status"] != "grader_error")
    points = f"{float(maxima.most_common(1)[0][0]):g}" if len(maxima) == 1 else ""
    table = _canvas(roster, grade_of, assignment, points) if to == "canvas" else \
        _moodle(roster, grade_of, assignment, MOODLE_IDS[moodle_id])
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(table)
    _write(out, buf.getvalue())
    result.graded = len(grade_of)
    return result


def _label(roster: Roster, i: int) -> str:
    columns = roster.students[i].columns
    if "Student" in columns:  # Canvas: read by the English names
        return columns["Student"] or "?"
    headers = [find_column(roster.headers, c) for c in ("Full name", "Email address", *MOODLE_IDS.values())]
    return next((columns[h] for h in headers if h and columns.get(h)), "?")


# Columns Canvas shows but does not match on: a display name a student chose ("=HYPERLINK(…)") must not
# become a formula when the instructor opens the file in a spreadsheet, so it is written as text there.
INERT_COLUMNS = ("Student", "Section")


def _inert(cell: str) -> str:
    return "'" + cell if cell.startswith(("=", "+", "-", "@", "\t", "\r")) else cell


def _canvas(roster: Roster, grade_of: dict[int, str], assignment: str, points: str) -> list[list[str]]:
    table = [[*CANVAS_COLUMNS, assignment], ["    Points Possible", "", "", "", "", points]]
    for i, student in enumerate(roster.students):
        table.append([*(_inert(student.columns[c]) if c in INERT_COLUMNS else student.columns[c]
                        for c in CANVAS_COLUMNS), grade_of.get(i, "")])
    return table


def _moodle(roster: Roster, grade_of: dict[int, str], assignment: str, id_column: str) -> list[list[str]]:
    column = find_column(roster.headers, id_column)
    if column is None:
        has = [k for k, v in MOODLE_IDS.items() if find_column(roster.headers, v)]
        raise UsageError(f"--roster {roster.path} has no {id_column!r} column for --moodle-id; choose one it has "
                         f"({', '.join(has) or 'none'}) or export the roster with that field")
    blank = [_label(roster, i) for i in grade_of if not roster.students[i].columns.get(column)]
    if blank:
        raise UsageError(f"--roster {roster.path}: graded students without {id_column!r}: {blank[:5]}; Moodle could "
                         f"not find them; choose another --moodle-id or fill the column in")
    table = [[id_column, assignment]]
    for i, student in enumerate(roster.students):
        if student.columns.get(column):
            table.append([student.columns[column], grade_of.get(i, "")])
    return table


def _write(path: Path, text: str) -> None:
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise UsageError(f"-o {path}: cannot write in {path.parent} ({exc.strerror}); choose a folder you can "
                         f"write to") from None
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.replace(tmp, path)
