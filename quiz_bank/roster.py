"""Reading the class roster: ``student_id,name`` per line, checked row by row.

The columns may also be named ``學號`` (or ``帳號``) and ``姓名`` as in a registrar's class list
(:data:`quiz_bank.csvfile.ALIASES`); other columns are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from quiz_bank.csvfile import dict_rows, read_text
from quiz_bank.errors import QuizError

# Ids become file names (handout_<id>.html), so they are kept to characters every file system takes.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Student:
    id: str
    name: str


def parse_roster(text: str, source: str = "roster") -> list[Student]:
    """The students of a roster CSV's text; every problem names the line and the fix."""
    rows = dict_rows(text.lstrip("\ufeff"), ("student_id", "name"), "--roster", source)  # Excel writes a BOM
    students: list[Student] = []
    seen: dict[str, tuple[int, str]] = {}
    name_is_last = (rows.fieldnames or [])[-1] == "name"
    for row in rows:
        line = rows.line_num
        sid, name = (row.get("student_id") or "").strip(), (row.get("name") or "").strip()
        extra = [x for x in row.get(None) or [] if x.strip()]
        if extra and name_is_last:  # Chen, Alice written without quotes: the CSV split the name, join it back
            name = ",".join([name, *extra]).strip()
        elif extra:
            raise QuizError(f"--roster: {source} line {line} has {len(rows.fieldnames or []) + len(extra)} "
                            f"fields but the header names {len(rows.fieldnames or [])}; expected one value per "
                            f"column. Fix: put a value with a comma in quotes (\"Chen, Alice\").")
        if not sid and not name:
            continue  # blank line
        if not sid:
            raise QuizError(f"--roster: {source} line {line}: student_id is empty (name {name!r}). "
                            f"Fix: fill in the student's id.")
        if not ID_PATTERN.fullmatch(sid):
            raise QuizError(f"--roster: {source} line {line}: student_id {sid!r} is not usable as a file name; "
                            f"expected letters, digits, '.', '_' or '-' (at most 64, starting with a "
                            f"letter or digit). Fix: use the university's student number.")
        # Ids that differ only in case would share a handout file on macOS and Windows, and grading
        # matches ids regardless of case: they count as the same student.
        same = sid.casefold()
        if same in seen:
            first, earlier = seen[same]
            also = "" if earlier == sid else f" (as {earlier!r}; ids are compared regardless of case)"
            raise QuizError(f"--roster: {source} line {line}: student_id {sid!r} already appears on line "
                            f"{first}{also}; expected each student_id once. Fix: list each student once.")
        seen[same] = (line, sid)
        students.append(Student(sid, name or sid))
    if not students:
        raise QuizError(f"--roster: {source}: no students found; expected one 'student_id,name' row per student "
                        f"after the header. Fix: add the class list.")
    return students


def read_roster(path: Path) -> list[Student]:
    return parse_roster(read_text(path, "--roster"), str(path))
