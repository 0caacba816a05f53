"""optigrade export-grades: Canvas and Moodle import files from a graded class and an LMS roster."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.errors import UsageError
from grader.lms.export import export_grades

GRADES = """student,sgd_step,total,max_total,status
b11002001,5,94.81,94.81,ok
chenmei_12345,5,60.5,94.81,student_error
chen-mei_777,1,12,94.81,ok
stranger,0,33.3,94.81,ok
broken,0,0,0,grader_error
"""
CANVAS = """Student,ID,SIS User ID,SIS Login ID,Integration ID,Section,Homework 3 (991),Current Points
    Points Possible,,,,,,100,(read only)
"Lin, Ann",555,B11002001,ann@uni.edu,,A,,
"Chen, Mei",12345,B11002009,mei@uni.edu,,A,,
"Wu, Bo",222,B11002010,bo@uni.edu,,B,,
"Student, Test",999,,,,A,,
"""
MOODLE_WORKSHEET = """Identifier,Full name,Email address,Status,Grade,Maximum grade
Participant 777,Chen Mei,mei@uni.edu,Submitted,,100
Participant 778,Wu Bo,bo@uni.edu,No submission,,100
"""
MOODLE_GRADEBOOK = """First name,Last name,ID number,Institution,Department,Email address
Ann,Lin,b11002001,NTU,CSIE,ann@uni.edu
Bo,Wu,b11002010,NTU,CSIE,
"""


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


@pytest.fixture
def graded(tmp_path: Path) -> Path:
    out = tmp_path / "OUT"
    out.mkdir()
    _write(out, "grades.csv", GRADES)
    return out


def _read(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_canvas_file_copies_the_ids_and_leaves_missing_students_empty(graded: Path, tmp_path: Path) -> None:
    roster = _write(tmp_path, "canvas.csv", CANVAS)
    done = export_grades(graded, to="canvas", roster_path=roster, out=tmp_path / "import.csv",
                         assignment="Homework 3 (991)")
    assert _read(tmp_path / "import.csv") == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Homework 3 (991)"],
        ["    Points Possible", "", "", "", "", "94.81"],
        ["Lin, Ann", "555", "B11002001", "ann@uni.edu", "A", "94.81"],  # folder named by the SIS User ID
        ["Chen, Mei", "12345", "B11002009", "mei@uni.edu", "A", "60.5"],  # Canvas download name_<user ID>
        ["Wu, Bo", "222", "B11002010", "bo@uni.edu", "B", ""],  # no submission: empty, not 0
        ["Student, Test", "999", "", "", "A", ""],
    ]
    assert (done.students, done.graded) == (4, 2)
    assert done.unmatched == ["chen-mei_777 (12)", "stranger (33.3)"]  # listed, never dropped
    assert done.not_exported == ["broken"]


def test_moodle_worksheet_maps_participants_to_emails(graded: Path, tmp_path: Path) -> None:
    roster = _write(tmp_path, "worksheet.csv", MOODLE_WORKSHEET)
    done = export_grades(graded, to="moodle", roster_path=roster, out=tmp_path / "m.csv", assignment="HW3")
    assert _read(tmp_path / "m.csv") == [["Email address", "HW3"], ["mei@uni.edu", "12"], ["bo@uni.edu", ""]]
    assert "b11002001 (94.81)" in done.unmatched


def test_moodle_gradebook_export_by_id_number(graded: Path, tmp_path: Path) -> None:
    roster = _write(tmp_path, "grades-export.csv", MOODLE_GRADEBOOK)
    export_grades(graded, to="moodle", roster_path=roster, out=tmp_path / "m.csv", moodle_id="idnumber")
    assert _read(tmp_path / "m.csv") == [["ID number", "optigrade"], ["b11002001", "94.81"], ["b11002010", ""]]
    _write(graded, "grades.csv", GRADES.replace("stranger", "b11002010"))  # Bo has no email in this export
    with pytest.raises(UsageError, match="graded students without 'Email address'"):
        export_grades(graded, to="moodle", roster_path=roster, out=tmp_path / "m.csv", moodle_id="email")
    with pytest.raises(UsageError, match="no 'Username' column.*idnumber"):
        export_grades(graded, to="moodle", roster_path=roster, out=tmp_path / "m.csv", moodle_id="username")


MOODLE_ZH = """姓氏,名字,學號,機構,部門,電子郵件
林,安,b11002001,NTU,CSIE,ann@uni.edu
吳,波,b11002010,NTU,CSIE,
"""
CANVAS_ZH = """姓名,ID,學號,帳號,班別,Homework 3 (991)
    Points Possible,,,,,100
林安,555,B11002001,ann@uni.edu,A,
陳美,12345,B11002009,mei@uni.edu,A,
"""


def test_rosters_with_chinese_headers(graded: Path, tmp_path: Path) -> None:
    """A Moodle gradebook exported in Traditional Chinese, a Canvas roster retyped in Excel."""
    roster = _write(tmp_path, "moodle-zh.csv", MOODLE_ZH)
    export_grades(graded, to="moodle", roster_path=roster, out=tmp_path / "m.csv", moodle_id="idnumber")
    assert _read(tmp_path / "m.csv") == [["ID number", "optigrade"], ["b11002001", "94.81"], ["b11002010", ""]]
    export_grades(graded, to="moodle", roster_path=roster, out=tmp_path / "m.csv", moodle_id="email")
    assert _read(tmp_path / "m.csv") == [["Email address", "optigrade"], ["ann@uni.edu", "94.81"]]
    _write(graded, "grades.csv", GRADES.replace("stranger", "b11002010"))  # 吳波 has no email in this export
    with pytest.raises(UsageError, match="graded students without 'Email address': \\['b11002010'\\]"):
        export_grades(graded, to="moodle", roster_path=roster, out=tmp_path / "m.csv", moodle_id="email")
    _write(graded, "grades.csv", GRADES)
    done = export_grades(graded, to="canvas", roster_path=_write(tmp_path, "canvas-zh.csv", CANVAS_ZH),
                         out=tmp_path / "c.csv")
    assert done.graded == 2
    assert _read(tmp_path / "c.csv")[2:] == [["林安", "555", "B11002001", "ann@uni.edu", "A", "94.81"],
                                             ["陳美", "12345", "B11002009", "mei@uni.edu", "A", "60.5"]]
    # The same roster saved by Excel on Traditional Chinese Windows (Big5): read alike, written as UTF-8.
    big5 = tmp_path / "canvas-big5.csv"
    big5.write_bytes(CANVAS_ZH.encode("cp950"))
    export_grades(graded, to="canvas", roster_path=big5, out=tmp_path / "c5.csv")
    assert (tmp_path / "c5.csv").read_bytes() == (tmp_path / "c.csv").read_bytes()


@pytest.mark.parametrize(("roster", "lms", "complaint"), [
    (MOODLE_WORKSHEET, "canvas", r"no \['Student', 'ID'\] column.*looks like a Moodle export.*Export Entire"),
    ("Name,Score\nAnn,3\n", "moodle", "none of the columns Email address.*also accepted: 電子郵件"),
    ("Name,Score\nAnn,3\n", "canvas", r"no \['Student', 'ID'\] column.*also accepted: 姓名 .* for Student"),
    ("", "canvas", "is empty"),
    ("Student,ID,SIS User ID,SIS Login ID,Section\n", "canvas", "lists no students"),
    ("Student,ID,SIS User ID,SIS Login ID,Section\nA,1,x,,S\nB,1,y,,S\n", "canvas", "'1' identifies two students"),
    ("Student,ID,ID\nA,1,2\n", "canvas", "names \\['ID'\\] more than once"),
    (b"Student,ID\n\xff\xfe,1\n", "canvas", "neither UTF-8 nor Big5"),
])
def test_bad_rosters_get_clear_errors(graded: Path, tmp_path: Path, roster: str | bytes, lms: str,
                                      complaint: str) -> None:
    path = _write(tmp_path, "roster.csv", roster)
    with pytest.raises(UsageError, match=complaint):
        export_grades(graded, to=lms, roster_path=path, out=tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()


def test_two_submissions_of_one_student_are_an_error_not_a_guess(graded: Path, tmp_path: Path) -> None:
    _write(graded, "grades.csv", GRADES + "b11002009,1,1,94.81,ok\n")  # Mei's SIS id, and her Canvas download
    with pytest.raises(UsageError, match="'chenmei_12345' and 'b11002009' both belong to roster row 3"):
        export_grades(graded, to="canvas", roster_path=_write(tmp_path, "c.csv", CANVAS), out=tmp_path / "x.csv")


def test_cli_lists_unmatched_submissions_and_errors(graded: Path, tmp_path: Path) -> None:
    roster = _write(tmp_path, "canvas.csv", CANVAS)
    runner = CliRunner()
    result = runner.invoke(app, ["export-grades", str(graded), "--to", "canvas", "--roster", str(roster),
                                 "-o", str(tmp_path / "import.csv")])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # rich wraps long lines
    assert "2 of 4 roster students graded" in said
    assert "No roster entry (NOT in the file; add them to the LMS or rename the folders): 2" in said
    assert "stranger (33.3)" in said
    assert "Grader errors (NOT in the file; regrade them): 1 broken" in said
    missing = runner.invoke(app, ["export-grades", str(tmp_path), "--to", "canvas", "--roster", str(roster),
                                  "-o", str(tmp_path / "x.csv")])
    assert missing.exit_code == 2
    assert "has no grades.csv" in " ".join(missing.output.split())


def test_a_display_name_that_looks_like_a_formula_is_written_as_text(graded: Path, tmp_path: Path) -> None:
    """Canvas matches on the ids; the name a student chose is shown, so it must not run in a spreadsheet."""
    roster = _write(tmp_path, "canvas.csv", CANVAS.replace('"Lin, Ann"', '"=HYPERLINK(""http://x"",""Ann"")"'))
    export_grades(graded, to="canvas", roster_path=roster, out=tmp_path / "c.csv")
    row = _read(tmp_path / "c.csv")[2]
    assert row[0] == "'=HYPERLINK(\"http://x\",\"Ann\")"
    assert row[1:] == ["555", "B11002001", "ann@uni.edu", "A", "94.81"]
