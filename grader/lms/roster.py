"""Read a roster exported from Canvas or Moodle and find each graded submission's student in it.

Canvas: the gradebook export (Grades → Export → Export Entire Gradebook): ``Student, ID, SIS User ID,
SIS Login ID, [Integration ID,] Section, …``, with a ``Points Possible`` row under the header.
Moodle: the gradebook export (Grades → Export → Plain text file: ``First name, Last name, ID number,
… Email address, …``) or an assignment's grading worksheet (``Identifier`` = ``Participant 123456``,
``Full name``, ``Email address``, …).

Either may come with its headers in Traditional Chinese (an LMS set to 繁體中文, or a class list retyped
in Excel): each column above is also found under the names in :data:`ALIASES` (``學號`` for ID number and
SIS User ID, ``電子郵件`` for Email address, ``帳號`` for Username and SIS Login ID, ``姓名`` for Student and
Full name, …), used only when its English name is absent.

A submission folder is matched by its id (as ``optigrade grade`` sanitised it), first against a
roster key (Canvas ID, SIS User ID, SIS Login ID; Moodle ID number, email, username), then, for the
LMS's own download names (Canvas ``name_<user id>``, Moodle ``name_<participant id>``), by that number.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from grader.errors import UsageError
from grader.intake.staging import sanitize_id

CANVAS_KEYS = ("ID", "SIS User ID", "SIS Login ID")
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MOODLE_IDS = {"email": "Email address", "idnumber": "ID number", "username": "Username"}
# Other names of the columns above, in the order they are tried when the English name is absent.
ALIASES: dict[str, tuple[str, ...]] = {
    "Student": ("姓名", "學生", "學生姓名", "中文姓名"),
    "ID": ("Canvas ID", "使用者 ID", "使用者ID"),
    "SIS User ID": ("SIS 使用者 ID", "SIS使用者ID", "學號", "学号"),
    "SIS Login ID": ("SIS 登入 ID", "SIS登入ID", "帳號", "帐号"),
    "Section": ("章節", "班別", "班級", "組別"),
    "Email address": ("電子郵件", "電子郵件地址", "電子郵件信箱", "電子信箱", "Email", "E-mail", "电子邮件"),
    "ID number": ("學號", "学号", "ID 號碼", "學生證號"),
    "Username": ("帳號", "使用者名稱", "用戶名稱", "帐号", "用户名"),
    "Identifier": ("識別碼", "识别码"),
    "Full name": ("姓名", "全名", "學生姓名"),
}
_NUMBERED = re.compile(r"^.+_(?P<num>\d+)$")  # Canvas name_<user id>, Moodle name_<participant id>
_DIGITS = re.compile(r"(\d+)\s*$")


@dataclass
class Student:
    columns: dict[str, str]  # the roster's own values, by header
    keys: set[str] = field(default_factory=set)  # sanitised ids a submission folder may carry
    number: str = ""  # the LMS number in its download names (Canvas user ID, Moodle participant)


@dataclass
class Roster:
    lms: str
    path: Path
    headers: list[str]
    students: list[Student]


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"--roster {path}: cannot read it ({exc.strerror}); pass the CSV file your LMS exported") \
            from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:  # Excel on Traditional Chinese Windows saves "CSV" as Big5 (as the quiz's rosters are read)
            text = raw.decode("cp950")
        except UnicodeDecodeError:
            raise UsageError(f"--roster {path} is neither UTF-8 nor Big5 text; export it again as CSV (UTF-8) "
                             f"from the LMS, or save it from your spreadsheet as 'CSV UTF-8'") from None
    sample = text[:4096]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    headers = [h.strip() for h in reader.fieldnames or []]
    if not headers:
        raise UsageError(f"--roster {path} is empty; expected a CSV with a header row exported from the LMS")
    rows = [{h.strip(): (v or "").strip() for h, v in row.items() if isinstance(h, str)} for row in reader]
    duplicates = sorted({h for h in headers if headers.count(h) > 1 and h})
    if duplicates:
        raise UsageError(f"--roster {path}: the header names {duplicates} more than once; expected each column once")
    return headers, rows


def find_column(headers: list[str], wanted: str) -> str | None:
    """The header of column ``wanted``: its own name in any case, else its first alias in the file."""
    for name in (wanted, *ALIASES.get(wanted, ())):
        found = next((h for h in headers if h.casefold() == name.casefold()), None)
        if found is not None:
            return found
    return None


def _also(columns: tuple[str, ...] | list[str]) -> str:
    """The other names these columns are accepted under, for error messages."""
    return "; ".join(f"{' / '.join(ALIASES[c])} for {c}" for c in columns if c in ALIASES)


def read_roster(path: Path, lms: str) -> Roster:
    """Read ``path`` as a roster exported from ``lms`` ("canvas" or "moodle"); bad files get clear errors."""
    headers, rows = _rows(path)
    if lms == "canvas":
        missing = [c for c in ("Student", "ID") if find_column(headers, c) is None]
        if missing:
            hint = "; this looks like a Moodle export" if _moodle(headers) else ""
            raise UsageError(f"--roster {path} has no {missing} column; expected Canvas's gradebook export (columns "
                             f"{', '.join(CANVAS_COLUMNS)}, …; also accepted: {_also(CANVAS_COLUMNS)}; found "
                             f"{headers[:8]}{hint}). Fix: in Canvas, Grades → Export → Export Entire Gradebook")
        students = []
        for row in rows:
            got = {c: row.get(find_column(headers, c) or c, "") for c in CANVAS_COLUMNS}
            if got["Student"] == "Points Possible" or not (got["ID"] or got["SIS User ID"] or got["SIS Login ID"]):
                continue  # the points row under the header, or a posting-policy row
            keys = {sanitize_id(got[k]) for k in CANVAS_KEYS if got[k]}
            students.append(Student(got, keys, got["ID"] if got["ID"].isdigit() else ""))
    elif lms == "moodle":
        if not _moodle(headers):
            names = ", ".join([*MOODLE_IDS.values(), "Identifier"])
            raise UsageError(f"--roster {path} has none of the columns {names}; expected a Moodle export (also "
                             f"accepted: {_also([*MOODLE_IDS.values(), 'Identifier'])}; found {headers[:8]}). Fix: in "
                             f"Moodle, Grades → Export → Plain text file (with Email address or ID number), or the "
                             f"assignment's grading worksheet")
        identifier = find_column(headers, "Identifier")
        students = []
        for row in rows:
            got = {h: row.get(h, "") for h in headers}
            keys = {sanitize_id(got[c]) for c in (find_column(headers, n) for n in MOODLE_IDS.values()) if c and got[c]}
            number = _DIGITS.search(got[identifier]) if identifier else None
            if keys or number:
                students.append(Student(got, keys, number.group(1) if number else ""))
    else:
        raise UsageError(f"--to {lms!r} is not one of canvas, moodle")
    if not students:
        raise UsageError(f"--roster {path} lists no students (only a header or empty rows); export it again with "
                         f"the students enrolled")
    _check_unique(path, students)
    return Roster(lms, path, headers, students)


def _moodle(headers: list[str]) -> bool:
    return any(find_column(headers, c) for c in (*MOODLE_IDS.values(), "Identifier"))


def _check_unique(path: Path, students: list[Student]) -> None:
    seen: dict[str, int] = {}
    for i, s in enumerate(students):
        for key in {*s.keys, *([f"#{s.number}"] if s.number else [])}:
            if key in seen and seen[key] != i:
                raise UsageError(f"--roster {path}: {key.lstrip('#')!r} identifies two students (rows "
                                 f"{seen[key] + 2} and {i + 2}); fix the export so every id is unique")
            seen[key] = i


def match(roster: Roster, submission: str) -> list[int]:
    """Indices of the roster students ``submission`` (a sanitised folder id) belongs to: its id as a
    roster key, else the LMS number at the end of its download name; more than one is ambiguous."""
    exact = [i for i, s in enumerate(roster.students) if submission in s.keys]
    if exact:
        return exact
    numbered = _NUMBERED.match(submission)
    if numbered is None:
        return []
    return [i for i, s in enumerate(roster.students) if s.number and s.number == numbered["num"]]
