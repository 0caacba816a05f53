"""Reading the CSV files people bring: UTF-8 (with or without Excel's BOM) or Big5.

Excel on Traditional Chinese Windows saves "CSV" as Big5 (cp950), so a roster
or a responses file typed in Taiwan often is not UTF-8; it is read as cp950
rather than refused.  Header names are matched without regard to case or spaces, and a required column
may also be named as class lists and LMS exports in Taiwan name it (:data:`ALIASES`: ``學號``, ``姓名``, …).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

from quiz_bank.errors import QuizError

ENCODINGS = ("utf-8-sig", "cp950")

# Other names a required column has in the files people bring: the registrar's class list or an Excel sheet
# (學號, 姓名), an LMS account export (帳號), a sheet of answers typed by hand (題號, 作答).  Used, in this
# order, only when the column's own name is absent; matched without regard to case or spaces around them.
ALIASES: dict[str, tuple[str, ...]] = {
    "student_id": ("學號", "學生學號", "学号", "student id", "student number", "帳號", "帐号"),
    "name": ("姓名", "學生姓名", "中文姓名", "full name"),
    "student": ("學號", "學生學號", "学号", "student_id", "student id", "帳號", "帐号"),
    "question": ("題號", "题号", "question id"),
    "response": ("作答", "回答", "學生答案", "作答內容"),  # not 答案/answer: a key's answer, not the student's
}


def read_text(path: Path, option: str) -> str:
    """The file's text; ``option`` names the command-line option in messages."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise QuizError(f"{option}: {path} does not exist. Fix: pass the path of the CSV file.") from None
    except IsADirectoryError:
        raise QuizError(f"{option}: {path} is a folder; expected a CSV file. Fix: name the file.") from None
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise QuizError(f"{option}: {path} is neither UTF-8 nor Big5. Fix: save the CSV as UTF-8.")


def dict_rows(text: str, required: tuple[str, ...], option: str, path: object,
              aliases: Mapping[str, Sequence[str]] = ALIASES) -> csv.DictReader[str]:
    """A DictReader with normalized header names, after checking the required columns are there.

    A required column absent under its own name is read from its first alias in the header (``學號`` for
    ``student_id``), which then goes by the required name.
    """
    reader = csv.DictReader(text.splitlines())
    header = [(h or "").strip().lower() for h in reader.fieldnames or []]
    named = {c: c if c in header else next((a.lower() for a in aliases.get(c, ()) if a.lower() in header), None)
             for c in required}
    missing = [c for c, h in named.items() if h is None]
    if missing:
        accepted = "; ".join(f"{c} also as {', '.join(aliases[c])}" for c in missing if aliases.get(c))
        raise QuizError(f"{option}: {path} has the header {','.join(header) or '(empty)'}; expected the columns "
                        f"{','.join(required)} (missing: {', '.join(missing)})"
                        f"{f'; accepted other names: {accepted}' if accepted else ''}. "
                        f"Fix: make line 1 '{','.join(required)}'.")
    twice = [c for c, h in named.items() if header.count(h or c) > 1]
    if twice:  # csv.DictReader would silently keep the last of them
        raise QuizError(f"{option}: {path} has the header {','.join(header)}; the column(s) "
                        f"{', '.join(c if named[c] == c else f'{c} (as {named[c]})' for c in twice)} appear more "
                        f"than once; expected each of {','.join(required)} once. "
                        f"Fix: rename or delete the extra column.")
    stand_in = {h: c for c, h in named.items() if h is not None and h != c}
    reader.fieldnames = [stand_in.get(h, h) for h in header]
    return reader
