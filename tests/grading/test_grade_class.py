"""The grade command on the demo class, through the real sandbox: outputs, determinism, resume."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from grader.errors import UsageError
from grader.grade.run import grade_class
from grader.intake.staging import sanitize_id
from tests.grading.conftest import DEMO

FAST = {"examples": 4, "wall_s": 2.0, "jobs": 2}


def rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / "grades.csv").open() as f:
        return {r["student"]: r for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("graded")
    grade_class(DEMO, out, **FAST)
    return out


def test_every_submission_gets_a_row_and_files(graded: Path) -> None:
    table = rows(graded)
    assert set(table) == {"b11002001", "b11002002", "b11002003", "b11002004"}
    for sid in table:
        for name in ("results.json", "feedback.md", "feedback.html"):
            assert (graded / sid / name).is_file()


def test_correct_student_full_marks_and_hostile_earns_only_honest_work(graded: Path) -> None:
    table = rows(graded)
    assert float(table["b11002001"]["total"]) == float(table["b11002001"]["max_total"]) > 0
    hostile = table["b11002004"]
    for function in ("steps_per_epoch", "total_steps", "batch_bounds"):  # loop, exit, lying __eq__
        assert float(hostile[function]) == 0.0
    for function in ("adam_step", "mse_gradients", "sgd_step"):  # honest code beside the hostile file
        assert float(hostile[function]) == float(table["b11002001"][function])
    assert table["b11002003"]["status"] == "student_error"  # regression.py is missing
    assert float(table["b11002003"]["mse_gradients"]) == 0.0


def test_results_json_follows_gradescope(graded: Path) -> None:
    data = json.loads((graded / "b11002002" / "results.json").read_text())
    assert {"score", "tests"} <= data.keys()
    for test in data["tests"]:
        function = test["name"].split(":")[0]
        assert test["tags"] == [function]
        assert test["visibility"] in ("visible", "after_published")
        assert {"score", "max_score", "output"} <= test.keys()
    failed = [t for t in data["tests"] if t.get("status") == "failed"]
    assert any("bias correction" in t["output"].lower() for t in failed if t["name"].startswith("adam_step"))


def test_same_submissions_same_grades(graded: Path, tmp_path: Path) -> None:
    grade_class(DEMO, tmp_path, **FAST)
    assert (tmp_path / "grades.csv").read_text() == (graded / "grades.csv").read_text()
    for sid in rows(graded):
        first, second = (json.loads((d / sid / "results.json").read_text()) for d in (graded, tmp_path))
        assert [(t["name"], t["score"], t.get("status")) for t in first["tests"]] == [
            (t["name"], t["score"], t.get("status")) for t in second["tests"]]


def test_killed_run_resumes_without_loss_or_double_counting(graded: Path, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "grader.cli", "grade", str(DEMO), "-o", str(tmp_path), "--wall", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list(tmp_path.glob("*/results.json")):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    result = grade_class(DEMO, tmp_path, **{**FAST, "examples": 20, "jobs": 1})
    assert result.resumed + result.graded == 4
    assert result.resumed >= 1
    assert set(rows(tmp_path)) == set(rows(graded))
    assert all(r["status"] != "grader_error" for r in rows(tmp_path).values())


def test_lms_names_hostile_ids_symlinks_and_zip_slip_end_to_end(tmp_path: Path) -> None:
    """Staging rules in detail live in tests/sandbox/test_staging.py; here they reach the gradebook."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    good = (DEMO / "b11002001" / "epochs.py").read_text()
    moodle = subs / "Chen Mei_123456_assignsubmission_file_"
    moodle.mkdir()
    (moodle / "epochs.py").write_text(good)
    (moodle / "optimizers.py").symlink_to(Path(__file__).resolve().parents[2] / "solutions" / "optimizers.py")
    with zipfile.ZipFile(subs / "Mallory <script>%2F..%2F.zip", "w") as z:
        z.writestr("../../evil.py", "x = 1")
        z.writestr("s2/epochs.py", good)
    (subs / "notes.txt").write_text("not a submission")
    result = grade_class(subs, out, **FAST)
    table = rows(out)
    zipped = sanitize_id("Mallory <script>%2F..%2F")
    assert set(table) == {"chen-mei_123456", zipped}, table
    assert ".." not in zipped.split("/")
    assert all(r["status"] == "student_error" for r in table.values())  # files missing
    assert all(float(r["steps_per_epoch"]) > 0 for r in table.values())  # what they did submit counts
    assert float(table["chen-mei_123456"]["sgd_step"]) == 0  # the symlinked reference earns nothing
    feedback = (out / "chen-mei_123456" / "feedback.md").read_text()
    assert "symlink; refused" in feedback
    assert "outside" in (out / zipped / "feedback.md").read_text()
    assert not (tmp_path / "evil.py").exists()
    assert sorted(p.name for p in out.iterdir()) == sorted([*table, "class_summary.json", "grades.csv"])
    assert result.graded == 2


def test_bad_input_says_what_and_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a folder"):
        grade_class(tmp_path / "missing", tmp_path / "out")
    with pytest.raises(UsageError, match="inside SUBMISSIONS"):
        grade_class(DEMO, DEMO / "out")
    with pytest.raises(UsageError, match="--only names students"):
        grade_class(DEMO, tmp_path / "out", only=["nobody"])
    (tmp_path / "a-file").write_text("")
    with pytest.raises(UsageError, match="is a file, expected a folder.*fix"):
        grade_class(DEMO, tmp_path / "a-file")
    with pytest.raises(UsageError, match="--jobs 0: expected at least 1.*fix"):
        grade_class(DEMO, tmp_path / "out", jobs=0)
    with pytest.raises(UsageError, match="--wall 0: expected seconds > 0.*fix"):
        grade_class(DEMO, tmp_path / "out", wall_s=0)
    with pytest.raises(UsageError, match="--budget 5.0: expected seconds ≥ --wall.*fix"):
        grade_class(DEMO, tmp_path / "out", budget_s=5.0)
    with pytest.raises(UsageError, match="'gpu' is not one of auto, cpu, cuda; fix"):
        grade_class(DEMO, tmp_path / "out", device="gpu")
    bad = tmp_path / "rubric.toml"
    bad.write_text('[points]\nadam = 3\n')
    with pytest.raises(UsageError, match="unknown functions"):
        grade_class(DEMO, tmp_path / "out", rubric=bad)


def test_unsandboxed_results_say_so(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    shutil.copytree(DEMO / "b11002001", subs / "b11002001")
    grade_class(subs, tmp_path / "out", **{**FAST, "jobs": 1}, unsafe_no_sandbox=True)
    data = json.loads((tmp_path / "out" / "b11002001" / "results.json").read_text())
    assert data["extra_data"]["sandboxed"] is False
    assert data["output"].startswith("UNSANDBOXED")
    assert data["score"] == data["extra_data"]["max_score"]  # isolation off changes no score


def test_resume_fingerprint_tracks_the_examples_asked() -> None:
    from grader.suite.engine import Suite
    from grader.suite.registry import suite_properties

    props = suite_properties()
    first = Suite(props, examples_per_property=2).digest()
    assert Suite(props, examples_per_property=2).digest() == first  # same draw, same questions
    assert Suite(props, examples_per_property=2, seed=7).digest() != first
    assert Suite(props[:-1], examples_per_property=2).digest() != first


def test_the_examples_do_not_depend_on_what_else_was_imported() -> None:
    """Hypothesis draws literals from loaded local modules; the suite must not (CLI vs library vs tests)."""
    script = ("{pre}\nfrom grader.suite.engine import Suite\nfrom grader.suite.registry import suite_properties\n"
              "print(Suite(suite_properties(), examples_per_property=5).digest())")
    digests = {
        subprocess.run([sys.executable, "-c", script.format(pre=pre)], capture_output=True, text=True,
                       check=True, timeout=300).stdout.strip()
        for pre in ("", "import grader.cli, grader.grade.run, quiz_bank.build")
    }
    assert len(digests) == 1, digests


def test_only_regrades_the_chosen_students_and_keeps_the_rest(graded: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(graded, out)
    before = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/results.json")}
    result = grade_class(DEMO, out, only=["b11002002"], **FAST)
    assert (result.graded, result.resumed) == (1, 0)
    after = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/results.json")}
    assert {sid for sid in after if after[sid] != before[sid]} == {"b11002002"}
    assert rows(out) == rows(graded)  # the gradebook still lists everyone, with the same grades


def test_a_submission_that_stalls_everywhere_is_stopped_by_its_budget(tmp_path: Path) -> None:
    """Every function loops forever: without a per-submission budget it would hold a slot for
    functions × (1 + retries) × wall; with one, the rest is charged with the reason."""
    from grader.suite.contract import FUNCTIONS, MODULE_OF

    subs = tmp_path / "subs"
    shutil.copytree(DEMO / "b11002001", subs / "honest")
    (subs / "staller").mkdir()
    for module in sorted(set(MODULE_OF.values())):
        stalls = [f"def {f}(*args, **kwargs):\n    while True:\n        pass\n"
                  for f in FUNCTIONS if MODULE_OF[f] == module]
        (subs / "staller" / f"{module}.py").write_text("\n".join(stalls))
    started = time.monotonic()
    grade_class(subs, tmp_path / "out", examples=4, wall_s=1.0, budget_s=4.0, jobs=2)
    assert time.monotonic() - started < 60
    table = rows(tmp_path / "out")
    assert float(table["staller"]["total"]) == 0
    assert float(table["honest"]["total"]) == float(table["honest"]["max_total"]) > 0
    outputs = [t["output"] for t in json.loads((tmp_path / "out" / "staller" / "results.json").read_text())["tests"]]
    assert any("used up its time budget of 4 s" in o for o in outputs)


def test_a_resumed_run_regrades_when_the_limits_change(tmp_path: Path) -> None:
    """A result cut short by --wall or --budget may differ under other limits, so it is not kept."""
    subs = tmp_path / "subs"
    shutil.copytree(DEMO / "b11002001", subs / "s1")
    fast = {"examples": 2, "jobs": 1}
    first = grade_class(subs, tmp_path / "out", wall_s=2.0, budget_s=30.0, **fast)
    same = grade_class(subs, tmp_path / "out", wall_s=2.0, budget_s=30.0, **fast)
    other = grade_class(subs, tmp_path / "out", wall_s=2.0, budget_s=60.0, **fast)
    assert (first.graded, same.resumed, other.graded) == (1, 1, 1)


def test_private_folders_everywhere_are_fine(tmp_path: Path) -> None:
    """Submissions, rubric and OUT inside folders only their owner may enter (a home directory): only the
    trusted side reads and writes them; the sandboxed uid gets copies in its own job folder."""
    private = tmp_path / "home"
    subs = private / "class"
    shutil.copytree(DEMO / "b11002001", subs / "b11002001")
    rubric = private / "rubric.toml"
    shutil.copy(Path(grade_class.__code__.co_filename).parent / "rubric.toml", rubric)
    for folder in (private, subs, subs / "b11002001"):
        os.chmod(folder, 0o700)
    os.chmod(rubric, 0o600)
    result = grade_class(subs, private / "out", rubric=rubric, **FAST)
    assert (result.graded, result.grader_errors) == (1, 0)
    data = json.loads((private / "out" / "b11002001" / "results.json").read_text())
    assert data["score"] == data["extra_data"]["max_score"] > 0
