"""Reading the class roster: ``student_id,name`` per line, checked row by row."""

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
    seen: dict[str, int] = {}
    for row in rows:
        line = rows.line_num
        sid, name = (row.get("student_id") or "").strip(), (row.get("name") or "").strip()
        if not sid and not name:
            continue  # blank line
        if not sid:
            raise QuizError(f"{source} line {line}: student_id is empty (name {name!r}). "
                            f"Fix: fill in the student's id.")
        if not ID_PATTERN.fullmatch(sid):
            raise QuizError(f"{source} line {line}: student_id {sid!r} is not usable as a file name; "
                            f"expected letters, digits, '.', '_' or '-' (at most 64, starting with a "
                            f"letter or digit). Fix: use the university's student number.")
        if sid in seen:
            raise QuizError(f"{source} line {line}: student_id {sid!r} already appears on line {seen[sid]}. "
                            f"Fix: list each student once.")
        seen[sid] = line
        students.append(Student(sid, name or sid))
    if not students:
        raise QuizError(f"{source}: no students found; expected one 'student_id,name' row per student "
                        f"after the header. Fix: add the class list.")
    return students


def read_roster(path: Path) -> list[Student]:
    return parse_roster(read_text(path, "--roster"), str(path))
