"""Reading the CSV files people bring: UTF-8 (with or without Excel's BOM) or Big5.

Excel on Traditional Chinese Windows saves "CSV" as Big5 (cp950), so a roster
or a responses file typed in Taiwan often is not UTF-8; it is read as cp950
rather than refused.  Header names are matched without regard to case or spaces.
"""

from __future__ import annotations

import csv
from pathlib import Path

from quiz_bank.errors import QuizError

ENCODINGS = ("utf-8-sig", "cp950")


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


def dict_rows(text: str, required: tuple[str, ...], option: str, path: object) -> csv.DictReader[str]:
    """A DictReader with normalized header names, after checking the required columns are there."""
    reader = csv.DictReader(text.splitlines())
    header = [(h or "").strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in required if c not in header]
    if missing:
        raise QuizError(f"{option}: {path} has the header {','.join(header) or '(empty)'}; expected the columns "
                        f"{','.join(required)} (missing: {', '.join(missing)}). "
                        f"Fix: make line 1 '{','.join(required)}'.")
    twice = [c for c in required if header.count(c) > 1]
    if twice:  # csv.DictReader would silently keep the last of them
        raise QuizError(f"{option}: {path} has the header {','.join(header)}; the column(s) {', '.join(twice)} "
                        f"appear more than once; expected each of {','.join(required)} once. "
                        f"Fix: rename or delete the extra column.")
    reader.fieldnames = header
    return reader
