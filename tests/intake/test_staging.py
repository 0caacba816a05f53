"""Staging: LMS layouts map to clean ids; symlinks, zip tricks and hostile names are refused or tamed."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import pytest

from grader.intake.staging import EXPECTED, Submission, sanitize_id, stage_submissions

REPO_ROOT = Path(__file__).resolve().parents[2]

GOOD = b"def sgd_step(param, grad, lr):\n    return param - lr * grad\n"


def _stage(folder: Path, tmp_path: Path) -> dict[str, Submission]:
    report = stage_submissions(folder, tmp_path / "boxes")
    return {s.student_id: s for s in report.submissions}


def _zip(path: Path, entries: dict[str, bytes], symlinks: dict[str, str] | None = None) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("b11002002", "b11002002"),
        ("../../etc", "etc"),
        ("..", None),
        (".", None),
        ("", None),
        ("陳美", None),
        ("Zoë Ångström", "zoe-angstrom"),
        ("a/b\\c d\x00e", "a-b-c-d-e"),
        ("x" * 300, None),
    ],
)
def test_sanitize_id(raw: str, expected: str | None) -> None:
    got = sanitize_id(raw)
    assert got == sanitize_id(raw)  # deterministic
    assert got not in ("", ".", "..")
    assert len(got) <= 64
    assert set(got) <= set("abcdefghijklmnopqrstuvwxyz0123456789._-")
    if expected is not None:
        assert got == expected
    elif raw in ("", ".", "..", "陳美"):
        assert got.startswith("student-")


def test_lms_layouts_map_to_readable_ids(tmp_path: Path) -> None:
    folder = tmp_path / "download"
    folder.mkdir()
    (folder / "b11002002").mkdir()
    for name in EXPECTED:
        (folder / "b11002002" / name).write_bytes(GOOD)
    moodle = folder / "Chen Mei_123456_assignsubmission_file_"
    moodle.mkdir()
    (moodle / "optimizers.py").write_bytes(GOOD)
    (folder / "Chen Mei_123456_assignsubmission_onlinetext_").mkdir()
    (folder / "陳美_777_assignsubmission_file_").mkdir()
    (folder / "chenmei_12345_67890_optimizers.py").write_bytes(b"# old\n")
    (folder / "chenmei_12345_67891_optimizers-1.py").write_bytes(GOOD)
    (folder / "chenmei_LATE_12345_67892_epochs.py").write_bytes(GOOD)
    (folder / "submission_4242").mkdir()
    (folder / "submission_4242" / "regression.py").write_bytes(GOOD)
    _zip(folder / "alice.zip", {"alice/optimizers.py": GOOD, "__MACOSX/alice/._optimizers.py": b"junk"})
    (folder / ".DS_Store").write_bytes(b"")
    (folder / "grades.csv").write_text("id,grade\n")
    report = stage_submissions(folder, tmp_path / "boxes")
    by_id = {s.student_id: s for s in report.submissions}
    assert sorted(by_id) == ["4242", "777", "alice", "b11002002", "chen-mei_123456", "chenmei_12345"]
    assert sorted(report.ignored) == [".DS_Store", "grades.csv"]
    assert by_id["b11002002"].missing == []
    assert set(by_id["b11002002"].staged) == {"optimizers", "epochs", "regression"}
    moodle_sub = by_id["chen-mei_123456"]
    assert len(moodle_sub.origin) == 2
    assert moodle_sub.missing == ["epochs.py", "regression.py"]
    canvas = by_id["chenmei_12345"]
    assert canvas.staged["optimizers"].read_bytes() == GOOD  # the newer upload (-1) wins
    assert "epochs" in canvas.staged
    assert any("more than one optimizers.py" in p for p in canvas.problems)
    assert by_id["alice"].staged["optimizers"].read_bytes() == GOOD
    assert by_id["777"].missing == list(EXPECTED)
    for submission in report.submissions:
        for path in submission.staged.values():
            assert path.parent == tmp_path / "boxes" / submission.student_id
            assert not os.access(path, os.W_OK) or os.getuid() == 0
            assert stat.S_IMODE(path.stat().st_mode) == 0o444


def test_symlinks_to_the_reference_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "download"
    (folder / "mallory").mkdir(parents=True)
    reference = REPO_ROOT / "solutions" / "optimizers.py"
    (folder / "mallory" / "optimizers.py").symlink_to(reference)
    (folder / "mallory" / "epochs.py").symlink_to(reference.parent / "epochs.py")
    os.mkfifo(folder / "mallory" / "regression.py")
    (folder / "linkdir").symlink_to(reference.parent, target_is_directory=True)
    (folder / "eve_1_2_optimizers.py").symlink_to(reference)
    by_id = _stage(folder, tmp_path)
    mallory = by_id["mallory"]
    assert mallory.staged == {}
    assert "optimizers.py is a symlink; refused (submit the file itself)" in mallory.problems
    assert any("regression.py is not a regular file" in p for p in mallory.problems)
    assert by_id["linkdir"].staged == {}
    assert any("symlink" in p for p in by_id["linkdir"].problems)
    assert by_id["eve_1"].staged == {}
    assert any("symlink" in p for p in by_id["eve_1"].problems)
    staged_bytes = b"".join(p.read_bytes() for s in by_id.values() for p in s.staged.values())
    assert b"_validate" not in staged_bytes


def test_zip_slip_and_other_archive_tricks(tmp_path: Path) -> None:
    folder = tmp_path / "download"
    folder.mkdir()
    _zip(
        folder / "zed.zip",
        {
            "../../optimizers.py": b"slip",
            "/etc/epochs.py": b"absolute",
            "a/b/c/regression.py": b"deep",
            "zed/epochs.py": GOOD,
        },
        symlinks={"optimizers.py": "/work/main/solutions/optimizers.py"},
    )
    big = io.BytesIO()
    with zipfile.ZipFile(big, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("optimizers.py", b"\0" * (2 << 20))  # a small zip that unpacks past the cap
    (folder / "bomb.zip").write_bytes(big.getvalue())
    (folder / "broken.zip").write_bytes(b"PK\x03\x04 not really")
    by_id = _stage(folder, tmp_path)
    zed = by_id["zed"]
    assert list(zed.staged) == ["epochs"]
    assert zed.staged["epochs"].read_bytes() == GOOD
    problems = " ".join(zed.problems)
    assert "points outside the archive" in problems
    assert "is a symlink" in problems
    assert "nested too deep" in problems
    assert not (tmp_path / "optimizers.py").exists()
    assert not (tmp_path / "boxes" / "optimizers.py").exists()
    assert by_id["bomb"].staged == {}
    assert any("limit" in p for p in by_id["bomb"].problems)
    assert any("not a readable zip" in p for p in by_id["broken"].problems)


def test_hostile_and_colliding_ids(tmp_path: Path) -> None:
    folder = tmp_path / "download"
    folder.mkdir()
    for name in ("Alice", "alice", "ALICE!", "x" * 200, "學生", "-.-"):
        (folder / name).mkdir()
        (folder / name / "optimizers.py").write_bytes(GOOD)
    report = stage_submissions(folder, tmp_path / "boxes")
    ids = [s.student_id for s in report.submissions]
    assert len(ids) == len(set(ids)) == 6
    assert {"alice", "alice-2", "alice-3"} <= set(ids)
    for student_id in ids:
        assert (tmp_path / "boxes" / student_id).is_dir()
        assert (tmp_path / "boxes" / student_id).resolve().parent == (tmp_path / "boxes").resolve()
    again = stage_submissions(folder, tmp_path / "boxes2")
    assert [s.student_id for s in again.submissions] == ids  # deterministic


def test_oversized_and_case_mismatched_files(tmp_path: Path) -> None:
    folder = tmp_path / "download"
    (folder / "bob").mkdir(parents=True)
    (folder / "bob" / "Optimizers.py").write_bytes(GOOD)
    (folder / "bob" / "epochs.py").write_bytes(b"#" * ((1 << 20) + 1))
    (folder / "bob" / "conftest.py").write_bytes(b"import os; os.system('rm -rf /')")
    bob = _stage(folder, tmp_path)["bob"]
    assert set(bob.staged) == {"optimizers"}
    assert any("case-sensitive" in p for p in bob.problems)
    assert any("epochs.py is 1048577 bytes" in p for p in bob.problems)
    assert bob.missing == ["epochs.py", "regression.py"]
    assert not (tmp_path / "boxes" / "bob" / "conftest.py").exists()


def test_a_second_download_stands_in_only_where_the_name_is_missing(tmp_path: Path) -> None:
    """Browsers save a re-download as "optimizers (1).py"; a real file of that name always wins."""
    folder = tmp_path / "download"
    (folder / "carol").mkdir(parents=True)
    (folder / "carol" / "optimizers (1).py").write_bytes(b"# first copy\n" + GOOD)
    (folder / "carol" / "optimizers (10).py").write_bytes(b"# latest copy\n" + GOOD)
    (folder / "carol" / "epochs - Copy.py").write_bytes(b"# copy\n")
    (folder / "carol" / "epochs.py").write_bytes(b"# the real one\n")
    _zip(folder / "dave.zip", {"hw/regression-2.py": b"# renamed by the browser\n"})
    staged = _stage(folder, tmp_path)
    carol, dave = staged["carol"], staged["dave"]
    assert carol.staged["optimizers"].read_bytes().startswith(b"# latest copy")
    assert carol.staged["epochs"].read_bytes() == b"# the real one\n"
    assert any("optimizers (10).py was used as optimizers.py" in p for p in carol.problems)
    assert any("ignored epochs - Copy.py: epochs.py is there too" in p for p in carol.problems)
    assert any("ignored optimizers (1).py" in p for p in carol.problems)
    assert dave.staged["regression"].read_bytes() == b"# renamed by the browser\n"
    assert dave.missing == ["optimizers.py", "epochs.py"]


def test_a_py_txt_stands_in_only_where_the_name_is_missing(tmp_path: Path) -> None:
    """Windows hides the extension, so a file saved as "optimizers.py" by Notepad is "optimizers.py.txt".
    Like a copy-named file it stands in, with a note, only where no .py file of that name was submitted."""
    folder = tmp_path / "download"
    for student in ("quin", "rui", "uma", "val"):
        (folder / student).mkdir(parents=True)
    (folder / "quin" / "optimizers.py.txt").write_bytes(b"# hidden txt\n" + GOOD)
    (folder / "quin" / "Epochs.PY.TXT").write_bytes(b"# epochs\n")
    (folder / "quin" / "regression.py").write_bytes(b"# the real one\n")
    (folder / "quin" / "regression.py.txt").write_bytes(b"# an old draft\n")
    _zip(folder / "rosa.zip", {"hw1/optimizers (1).py.txt": b"# zipped txt\n", "hw1/deep/er/epochs.py.txt": b"#\n"})
    moodle = folder / "Lin Rui_555_assignsubmission_file_"
    moodle.mkdir()
    (moodle / "optimizers.py.txt").write_bytes(b"# moodle txt\n")
    (folder / "tomwu_777_100_optimizers.py.txt").write_bytes(b"# first upload\n")
    (folder / "tomwu_777_101_optimizers.py-1.txt").write_bytes(b"# second upload\n")  # Canvas renamed it
    (folder / "tomwu_777_102_epochs.py").write_bytes(b"# real epochs\n")
    (folder / "tomwu_777_103_epochs.py.txt").write_bytes(b"# txt epochs\n")
    (folder / "uma" / "optimizers.py.txt").write_bytes(b"# stray\n")  # the work is in hw1/
    (folder / "uma" / "hw1").mkdir()
    (folder / "uma" / "hw1" / "optimizers.py").write_bytes(GOOD)
    (folder / "val" / "optimizers (1).py").write_bytes(b"# a .py copy\n")
    (folder / "val" / "optimizers.py.txt").write_bytes(b"# a txt\n")
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("hw1/optimizers.py", GOOD)
    _zip(folder / "wes.zip", {"optimizers.py.txt": b"# stray\n", "hw1.zip": inner.getvalue()})
    staged = _stage(folder, tmp_path)
    quin = staged["quin"]
    assert quin.staged["optimizers"].read_bytes() == b"# hidden txt\n" + GOOD
    assert quin.staged["epochs"].read_bytes() == b"# epochs\n"
    assert quin.staged["regression"].read_bytes() == b"# the real one\n"
    assert quin.missing == []
    note = ("optimizers.py.txt was used as optimizers.py (there is no optimizers.py); name it optimizers.py "
            "(Windows hides the .txt ending: in File Explorer, View → Show → File name extensions, then rename it)")
    assert note in quin.problems
    assert any(p.startswith("Epochs.PY.TXT was used as epochs.py") for p in quin.problems)
    assert not any("regression.py.txt" in p for p in quin.problems)  # the real name wins, silently
    rosa = staged["rosa"]
    assert rosa.staged["optimizers"].read_bytes() == b"# zipped txt\n"
    assert any(p.startswith("rosa.zip:hw1/optimizers (1).py.txt was used as optimizers.py") for p in rosa.problems)
    assert rosa.missing == ["epochs.py", "regression.py"]  # a .py.txt nested deeper is not looked for
    assert not any("nested too deep" in p for p in rosa.problems)
    assert staged["lin-rui_555"].staged["optimizers"].read_bytes() == b"# moodle txt\n"
    tom = staged["tomwu_777"]
    assert tom.staged["optimizers"].read_bytes() == b"# second upload\n"  # the newest upload
    assert tom.staged["epochs"].read_bytes() == b"# real epochs\n"
    assert tom.problems[:2] == [
        "ignored tomwu_777_100_optimizers.py.txt: tomwu_777_101_optimizers.py-1.txt is the newest upload of "
        "optimizers.py",
        "tomwu_777_101_optimizers.py-1.txt was used as optimizers.py (there is no optimizers.py); name it "
        "optimizers.py (Windows hides the .txt ending: in File Explorer, View → Show → File name extensions, "
        "then rename it)",
    ]
    # where the real file is there, the note is what it always was
    assert tom.problems[2:] == ["tomwu_777_103_epochs.py.txt is not one of optimizers.py, epochs.py, regression.py; "
                                "ignored"]
    assert staged["uma"].staged["optimizers"].read_bytes() == GOOD
    assert staged["uma"].problems == []  # as before: a stray .py.txt does not stop the look into hw1/
    val = staged["val"]
    assert val.staged["optimizers"].read_bytes() == b"# a .py copy\n"
    assert not any(".txt" in p for p in val.problems)
    assert staged["wes"].staged["optimizers"].read_bytes() == GOOD  # the zip inside is opened as before
    assert not any(".txt" in p for p in staged["wes"].problems)


def test_in_a_zip_the_file_at_the_top_wins_over_an_old_copy_in_a_folder(tmp_path: Path) -> None:
    """Like a folder (which is only searched below when its top has nothing), whatever the entry order."""
    folder = tmp_path / "download"
    folder.mkdir()
    _zip(folder / "erin.zip", {"optimizers.py": GOOD, "old/optimizers.py": b"# old attempt\n"})
    _zip(folder / "fay.zip", {"old/optimizers.py": b"# old attempt\n", "optimizers.py": GOOD})
    _zip(folder / "gus.zip", {"v1/epochs.py": b"# v1\n", "v2/epochs.py": b"# v2\n"})
    staged = _stage(folder, tmp_path)
    for student in ("erin", "fay"):
        assert staged[student].staged["optimizers"].read_bytes() == GOOD
        assert any("used 'optimizers.py' and ignored 'old/optimizers.py'" in p for p in staged[student].problems)
        assert not any("newest upload" in p for p in staged[student].problems)  # one zip: no upload order
    assert staged["gus"].staged["epochs"].read_bytes() == b"# v2\n"
    assert any("used 'v2/epochs.py' and ignored 'v1/epochs.py'" in p for p in staged["gus"].problems)


def test_big5_and_utf16_sources_are_re_encoded_for_python(tmp_path: Path) -> None:
    """Python refuses non-UTF-8 source without a coding line; a Big5 comment must not fail every test."""
    source = ('# 學習率 η\ndef sgd_step(param, grad, lr):\n    """梯度下降"""\n    return param - lr * grad\n'
              'NAME = "最佳化"\n')
    folder = tmp_path / "download"
    for student in ("hana", "ivan", "jun", "kai"):
        (folder / student).mkdir(parents=True)
    (folder / "hana" / "optimizers.py").write_bytes(source.encode("cp950"))
    (folder / "ivan" / "optimizers.py").write_bytes(source.encode("utf-16"))  # Notepad's "Unicode"
    declared = ("# -*- coding: big5 -*-\n" + source).encode("big5")
    (folder / "jun" / "optimizers.py").write_bytes(declared)
    (folder / "kai" / "optimizers.py").write_bytes(b"x = 1\n# \xff\xfe\x80\n")
    staged = _stage(folder, tmp_path)
    for student, label in (("hana", "Big5 (cp950)"), ("ivan", "UTF-16")):
        data = staged[student].staged["optimizers"].read_bytes()
        assert data.decode("utf-8") == source
        scope: dict[str, object] = {}
        exec(compile(data, "optimizers.py", "exec"), scope)  # noqa: S102 - the test's own source
        assert scope["NAME"] == "最佳化"
        assert any(f"saved as {label}, not UTF-8" in p for p in staged[student].problems)
    assert staged["jun"].staged["optimizers"].read_bytes() == declared  # Python decodes it itself
    assert staged["jun"].problems == []
    kai = staged["kai"]
    assert kai.staged["optimizers"].read_bytes() == b"x = 1\n# \xff\xfe\x80\n"
    assert any("not UTF-8 text (byte 0xff on line 2)" in p and "fix: save it as UTF-8" in p for p in kai.problems)


def test_the_size_cap_holds_after_re_encoding(tmp_path: Path) -> None:
    """Big5 grows about 1.5x as UTF-8: a file under the cap as submitted may be over it once converted."""
    cap = 1000
    comment = "# 學習率" * 110 + "\n"  # 8 Big5 bytes a repeat, 11 in UTF-8
    source = (comment + "def sgd_step(param, grad, lr):\n    return param - lr * grad\n").encode("cp950")
    assert len(source) <= cap < len(source.decode("cp950").encode("utf-8"))
    small = ("# 學習率\n".encode("cp950") + GOOD)
    folder = tmp_path / "download"
    for student in ("big", "small", "wide"):
        (folder / student).mkdir(parents=True)
    (folder / "big" / "optimizers.py").write_bytes(source)
    (folder / "big" / "epochs.py").write_bytes(small)
    (folder / "small" / "optimizers.py").write_bytes(small)
    (folder / "wide" / "optimizers.py").write_bytes(("x = 1\n" * 70).encode("utf-16"))  # UTF-16 shrinks
    report = stage_submissions(folder, tmp_path / "boxes", max_file_bytes=cap)
    staged = {s.student_id: s for s in report.submissions}
    big = staged["big"]
    assert "optimizers" not in big.staged
    assert big.missing == ["optimizers.py", "regression.py"]
    size = len(source.decode("cp950").encode("utf-8"))
    assert (f"optimizers.py was saved as Big5 (cp950), not UTF-8, and converted to UTF-8 it is {size} bytes "
            f"({len(source)} as submitted); the limit is {cap} bytes; refused (fix: save it as UTF-8, e.g. VS Code: "
            f"Save with Encoding → UTF-8, and make it smaller than {cap} bytes, e.g. without long comments or "
            f"pasted data)") in big.problems
    assert not any(p.startswith("optimizers.py was saved as Big5 (cp950), not UTF-8; it was converted")
                   for p in big.problems)
    assert big.staged["epochs"].read_bytes() == small.decode("cp950").encode("utf-8")
    assert staged["small"].staged["optimizers"].read_bytes() == small.decode("cp950").encode("utf-8")
    assert staged["wide"].staged["optimizers"].read_bytes() == b"x = 1\n" * 70
    for path in (p for s in report.submissions for p in s.staged.values()):
        assert path.stat().st_size <= cap


def test_a_zip_zipped_again_and_a_folder_with_pycache_are_read(tmp_path: Path) -> None:
    folder = tmp_path / "download"
    (folder / "lena" / "hw1").mkdir(parents=True)
    (folder / "lena" / "hw1" / "optimizers.py").write_bytes(GOOD)
    (folder / "lena" / "__pycache__").mkdir()  # left by running the code: not a second folder of work
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("hw1/epochs.py", b"# epochs\n")
    _zip(folder / "mia.zip", {"mia/hw1.zip": inner.getvalue(), "__MACOSX/mia/._hw1.zip": b"\0"})
    _zip(folder / "ned.zip", {"a.zip": inner.getvalue(), "b.zip": inner.getvalue()})  # which one? neither
    staged = _stage(folder, tmp_path)
    assert staged["lena"].staged["optimizers"].read_bytes() == GOOD
    mia = staged["mia"]
    assert mia.staged["epochs"].read_bytes() == b"# epochs\n"
    assert any("holds only another zip, 'mia/hw1.zip'; its files were used" in p for p in mia.problems)
    assert staged["ned"].staged == {}
    assert any("found none of optimizers.py" in p and "ned.zip:a.zip, ned.zip:b.zip" in p
               for p in staged["ned"].problems)


def test_a_submission_with_nothing_usable_says_what_it_held(tmp_path: Path) -> None:
    folder = tmp_path / "download"
    folder.mkdir()
    _zip(folder / "omar.zip", {"optimizers.txt": GOOD})  # text, not a .py file: not guessed at
    (folder / "pia").mkdir()
    (folder / "pia" / "notes.docx").write_bytes(b"PK")
    staged = _stage(folder, tmp_path)
    assert [p for p in staged["omar"].problems if "omar.zip:optimizers.txt" in p and "fix:" in p]
    assert staged["pia"].problems == ["found none of optimizers.py, epochs.py, regression.py (nor a notebook) in "
                                      "pia; it holds notes.docx; fix: submit the files themselves, at the top of "
                                      "the folder or zip or in one folder inside it"]


def test_notes_quote_at_most_200_characters_of_a_zip_entry_name(tmp_path: Path) -> None:
    """A zip may name its entries with up to 64 KB each; each note quotes a capped name, so 250 such
    entries cannot blow up the notes every report repeats (a red team's zip made 15 MB reports)."""
    folder = tmp_path / "download"
    folder.mkdir()
    long = "<script>" + "x" * 60_000
    _zip(folder / "zed.zip", {**{f"{i}/../{long}/optimizers.py": b"slip" for i in range(20)},
                              **{f"a/b/{i}{long}/epochs.py": b"deep" for i in range(20)},
                              "optimizers.py": GOOD})
    zed = _stage(folder, tmp_path)["zed"]
    assert zed.staged["optimizers"].read_bytes() == GOOD
    assert len(zed.problems) == 40
    assert all(len(p) < 400 for p in zed.problems), max(map(len, zed.problems))
    assert "/<script>xxx" in zed.problems[0]
    assert "…'" in zed.problems[0]


def test_a_repository_upload_is_read_from_the_one_folder_that_holds_the_files(tmp_path: Path) -> None:
    """Gradescope's GitHub upload puts the repository at the top of the submission: a student who pushed
    the released bundle has the graded files in exercises/, beside README.md, check.py and grader/."""
    folder = tmp_path / "download"
    repo = folder / "ria"
    for name, data in {"README.md": b"# hw\n", "check.py": b"", "grader/suite/public/adam.py": b"",
                       ".github/workflows/ci.yml": b"", "exercises/__init__.py": b"",
                       "exercises/optimizers.py": GOOD, "exercises/epochs.py": b"# epochs\n",
                       "exercises/regression.py": b"# regression\n"}.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(data)
    for student in ("sam", "tia"):  # two folders with the files: which one is meant cannot be told
        for sub in ("hw", "backup"):
            (folder / student / sub).mkdir(parents=True)
            (folder / student / sub / "optimizers.py").write_bytes(GOOD)
    (folder / "tia" / "backup" / "optimizers.py").unlink()
    (folder / "tia" / "backup" / "old.txt").write_bytes(b"")
    staged = _stage(folder, tmp_path)
    assert sorted(staged["ria"].staged) == ["epochs", "optimizers", "regression"], staged["ria"].problems
    assert staged["ria"].staged["optimizers"].read_bytes() == GOOD
    assert staged["sam"].staged == {}
    assert staged["tia"].staged["optimizers"].read_bytes() == GOOD


def test_a_repository_downloaded_as_a_zip_is_read_from_its_one_top_folder(tmp_path: Path) -> None:
    """GitHub's "Download ZIP" of the student bundle puts everything under repo-main/; a zip whose files
    are under two different top folders is still refused as nested too deep (which would be a guess)."""
    folder = tmp_path / "download"
    folder.mkdir()
    _zip(folder / "ann.zip", {"hw3-main/README.md": b"# hw3", "hw3-main/exercises/optimizers.py": GOOD,
                              "hw3-main/exercises/epochs.py": GOOD, "hw3-main/.github/x.yml": b""})
    _zip(folder / "bo.zip", {"a/exercises/optimizers.py": GOOD, "b/exercises/epochs.py": GOOD})
    by_id = _stage(folder, tmp_path)
    ann, bo = by_id["ann"], by_id["bo"]
    assert sorted(ann.staged) == ["epochs", "optimizers"]
    assert ann.staged["optimizers"].read_bytes() == GOOD
    assert any("every file lies inside 'hw3-main'" in p for p in ann.problems)
    assert not any("nested too deep" in p for p in ann.problems)
    assert bo.staged == {}
    assert sum("nested too deep" in p for p in bo.problems) == 2


def test_a_repository_upload_of_the_notebook_bundle_is_read_from_exercises(tmp_path: Path) -> None:
    """README: "a GitHub upload of the student bundle ... is read from its exercises/".  With ``optigrade
    release --notebook`` the bundle also holds exercises.ipynb at its top; a student who worked in the .py
    files and pushed the repository must be graded on them, not on the stub notebook beside them."""
    from grader.release import release

    repo = tmp_path / "download" / "ria"
    release(repo, notebook=True)
    assert (repo / "exercises.ipynb").exists()
    (repo / "exercises" / "optimizers.py").write_bytes(GOOD)
    staged = _stage(tmp_path / "download", tmp_path)
    assert staged["ria"].staged["optimizers"].read_bytes() == GOOD, staged["ria"].problems


def test_a_repository_of_the_notebook_bundle_worked_in_the_notebook_is_read_from_it(tmp_path: Path) -> None:
    """The other way round: the student edited exercises.ipynb and left exercises/*.py as released. The
    unchanged stubs give way to the notebook (they would score zero), with a note saying so."""
    import json

    from grader.release import release

    repo = tmp_path / "download" / "noa"
    release(repo, notebook=True)
    notebook = json.loads((repo / "exercises.ipynb").read_text(encoding="utf-8"))
    notebook["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                              "source": GOOD.decode()})
    (repo / "exercises.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    noa = _stage(tmp_path / "download", tmp_path)["noa"]
    assert b"return param - lr * grad" in noa.staged["optimizers"].read_bytes(), noa.problems
    assert b"NotImplementedError" not in noa.staged["optimizers"].read_bytes().split(b"def sgd_step")[-1].split(
        b"\ndef ")[0]
    assert any("optimizers.py is the unchanged stub" in p for p in noa.problems), noa.problems


def test_the_notebook_bundle_downloaded_as_a_zip_is_read_from_exercises(tmp_path: Path) -> None:
    """hw3-main/exercises.ipynb (the stub notebook) beside hw3-main/exercises/optimizers.py (the work)."""
    from grader.release import release

    repo = tmp_path / "repo" / "hw3-main"
    release(repo, notebook=True)
    (repo / "exercises" / "optimizers.py").write_bytes(GOOD)
    folder = tmp_path / "download"
    folder.mkdir()
    entries = {str(p.relative_to(repo.parent)): p.read_bytes() for p in sorted(repo.rglob("*")) if p.is_file()}
    _zip(folder / "ria.zip", entries)
    ria = _stage(folder, tmp_path)["ria"]
    assert ria.staged["optimizers"].read_bytes() == GOOD, ria.problems
    assert any("every file lies inside 'hw3-main'" in p for p in ria.problems), ria.problems
