"""A class graded with the example cache, over several trusted processes, or in shards merged later
writes the same bytes as one plain run; a bad merge stops with a clear error and changes nothing."""

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.errors import UsageError
from grader.grade import pool
from grader.grade.merge import merge
from grader.grade.run import grade_class
from grader.grade.shards import MANIFEST, Shard, parse_shard, read_manifest
from grader.grade.submission import Grader, Settings, grade_folder
from grader.intake.staging import Submission, stage_submissions
from tests.grading.conftest import DEMO

HONEST = ("b11002001", "b11002002", "b11002003")  # correct, typical mistakes (shrunk), a missing file
FAST = {"examples": 4, "wall_s": 5.0}
STUDENTS = 4


def make_class(folder: Path, count: int = STUDENTS) -> Path:
    for i in range(count):
        shutil.copytree(DEMO / HONEST[i % len(HONEST)], folder / f"s{i:04d}")
    return folder


def tree(out: Path) -> dict[str, bytes]:
    """Every file under ``out`` by relative path, with its bytes."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def klass(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_class(tmp_path_factory.mktemp("class"))


@pytest.fixture(scope="module")
def single(klass: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("single")
    result = grade_class(klass, out, jobs=1, **FAST)
    assert (result.graded, result.processes) == (STUDENTS, 1)
    return out


@pytest.fixture(scope="module")
def shards(klass: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    outs = []
    for k in (1, 2, 3):
        out = tmp_path_factory.mktemp(f"shard{k}")
        grade_class(klass, out, jobs=1, shard=Shard(k, 3), **FAST)
        outs.append(out)
    return outs


def test_grades_are_byte_identical_with_and_without_the_example_cache(
        klass: Path, single: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTIGRADE_CACHE_DIR", "off")
    grade_class(klass, tmp_path / "drawn", jobs=1, **FAST)
    monkeypatch.setenv("OPTIGRADE_CACHE_DIR", str(tmp_path / "cache"))
    grade_class(klass, tmp_path / "writes", jobs=1, **FAST)
    assert list((tmp_path / "cache").glob("examples-*.bin"))
    grade_class(klass, tmp_path / "reads", jobs=1, **FAST)
    for run in ("drawn", "writes", "reads"):
        assert tree(tmp_path / run) == tree(single), run


def test_spawned_grading_processes_write_the_same_bytes(klass: Path, single: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool, "MIN_PER_PROCESS", 1)  # start processes even for this small class
    here = pool._grade_here

    def after_the_others_started(grader: Grader, work: "pool._Queue", events: object) -> None:
        deadline = time.monotonic() + 300  # (else this process may grade all 4 while they start)
        while len(work.pending) > STUDENTS - 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        here(grader, work, events)  # type: ignore[arg-type]

    monkeypatch.setattr(pool, "_grade_here", after_the_others_started)
    result = grade_class(klass, tmp_path / "out", jobs=4, **FAST)  # 2 threads here, 2 processes
    assert (result.graded, result.processes) == (STUDENTS, 3)
    assert result.spawned_cpu_s > 0  # they did the work they were spawned for
    assert tree(tmp_path / "out") == tree(single)
    again = grade_class(klass, tmp_path / "out", jobs=4, **FAST)  # resumed: nothing to spawn for
    assert (again.graded, again.resumed, again.processes) == (0, STUDENTS, 1)
    only = grade_class(klass, tmp_path / "out", jobs=4, only=["s0001", "s0002"], **FAST)
    assert (only.graded, only.resumed) == (2, 0)
    assert tree(tmp_path / "out") == tree(single)


def grade_here_and_in_a_process(klass: Path, tmp_path: Path, version: str | None = None,
                                ) -> tuple[list[Submission], list[tuple[str, bool]], list[str]]:
    """Grade ``klass`` with one thread here and one started process: (submissions, done, notes)."""
    subs = stage_submissions(klass, tmp_path / "staged").submissions
    done: list[tuple[str, bool]] = []
    notes: list[str] = []
    with Grader.create(Settings(out=tmp_path / "out", **FAST)) as grader:
        if version is not None:
            grader.version = version
        grader.open_sandbox(1)
        pool.grade_all(grader, subs, pool.Plan(threads=1, extra=1),
                       on_done=lambda s, ok: done.append((s.student_id, ok)), on_note=notes.append)
    return subs, done, notes


def test_a_grading_process_that_cannot_start_costs_no_submission(klass: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    feed, here, given_up = pool._Process.feed, pool._grade_here, threading.Event()

    def feed_then_say(*args: Any) -> None:
        try:
            feed(*args)
        finally:
            given_up.set()

    def after_the_process_gave_up(*args: Any) -> None:  # (else this process may grade all before it does)
        given_up.wait(300)
        here(*args)

    monkeypatch.setattr(pool._Process, "feed", feed_then_say)
    monkeypatch.setattr(pool, "_grade_here", after_the_process_gave_up)
    # A started process builds the real suite, sees the version does not match and stops.
    subs, done, notes = grade_here_and_in_a_process(klass, tmp_path, version="another")
    assert sorted(done) == [(s.student_id, True) for s in subs]  # all graded here instead
    assert len(notes) == 1
    assert "could not start (GraderFault: this process built another suite" in notes[0]
    assert all((tmp_path / "out" / s.student_id / "results.json").is_file() for s in subs)


def test_a_grading_process_that_dies_hands_its_submission_to_another(klass: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[pool._Process] = []

    class Recorded(pool._Process):
        def __init__(self) -> None:
            super().__init__()
            started.append(self)

    here = pool._grade_here

    def kill_it_mid_grading(grader: Grader, work: pool._Queue, events: object) -> None:
        deadline = time.monotonic() + 300
        while len(work.pending) == STUDENTS and time.monotonic() < deadline:  # it took its first one
            time.sleep(0.01)
        started[0].proc.kill()
        here(grader, work, events)  # type: ignore[arg-type]

    monkeypatch.setattr(pool, "_Process", Recorded)
    monkeypatch.setattr(pool, "_grade_here", kill_it_mid_grading)
    subs, done, notes = grade_here_and_in_a_process(klass, tmp_path)
    assert sorted(done) == [(s.student_id, True) for s in subs]
    assert len(notes) == 1
    assert "ended unexpectedly (exit status -9); s0000 is graded again by another" in notes[0]


def test_one_submission_folder_is_graded_as_in_a_class(single: Path, tmp_path: Path) -> None:
    folder = grade_folder(DEMO / HONEST[0], Settings(out=tmp_path / "out", **FAST), student_id="s0000")
    assert folder == tmp_path / "out" / "s0000"
    assert tree(folder) == tree(single / "s0000")


def test_plan_spawns_only_for_classes_large_enough() -> None:
    assert pool.plan(1, 100) == pool.Plan(threads=1, extra=0)
    assert pool.plan(2, 100) == pool.Plan(threads=2, extra=0)  # one process keeps up with two
    assert pool.plan(8, 1000) == pool.Plan(threads=2, extra=6)
    assert pool.plan(8, 12) == pool.Plan(threads=7, extra=1)  # too few to pay for more process starts
    assert pool.plan(8, 3) == pool.Plan(threads=3, extra=0)
    assert pool.plan(8, 1) == pool.Plan(threads=1, extra=0)


def test_each_shard_grades_its_slice_and_lists_the_class(shards: list[Path]) -> None:
    ids = [f"s{i:04d}" for i in range(STUDENTS)]
    for k, out in enumerate(shards, start=1):
        manifest = read_manifest(out)
        assert (manifest.shard, manifest.students) == (Shard(k, 3), tuple(ids))
        assert sorted(p.parent.name for p in out.glob("*/results.json")) == ids[k - 1::3]


def test_three_shards_merge_to_the_single_run_byte_for_byte(shards: list[Path], single: Path,
                                                            tmp_path: Path) -> None:
    merge(shards, tmp_path / "merged")
    assert tree(tmp_path / "merged") == tree(single)
    (tmp_path / "empty").mkdir()  # any order, into an empty folder
    merge(shards[::-1], tmp_path / "empty")
    assert tree(tmp_path / "empty") == tree(single)


def test_a_bad_merge_stops_with_a_clear_error_and_loses_nothing(klass: Path, shards: list[Path],
                                                                tmp_path: Path) -> None:
    before = [tree(s) for s in shards]
    one, two, three = shards

    def copy(src: Path, name: str) -> Path:
        return Path(shutil.copytree(src, tmp_path / name))

    def regraded(name: str, k: int, **options: object) -> Path:
        out = tmp_path / name
        grade_class(options.pop("klass", klass), out, jobs=1, shard=Shard(k, 3), **{**FAST, **options})
        return out

    rubric = tmp_path / "rubric.toml"
    shipped = Path(__file__).parents[2] / "grader" / "grade" / "rubric.toml"
    rubric.write_text(shipped.read_text().replace("sgd_step = 5", "sgd_step = 6"))
    bigger = make_class(tmp_path / "class5", STUDENTS + 1)
    unfinished = copy(two, "unfinished")
    (unfinished / MANIFEST).unlink()
    lost = copy(two, "lost")
    shutil.rmtree(lost / "s0001")
    cases = [
        ([one, two], r"shard\(s\) 3/3 missing.*fix: run `optigrade grade … --shard 3/3"),
        ([one, copy(one, "again"), two, three], "are both shard 1/3"),
        ([one, two, regraded("seed", 3, seed=7)], "--seed: 20250924 in .*, 7 in"),
        ([one, two, regraded("rubric", 3, rubric=rubric)], "the rubric's points"),
        ([one, two, regraded("wall", 3, wall_s=6.0)], "--wall: 5.0 in .*, 6.0 in"),
        ([one, two, regraded("bigger", 3, klass=bigger)], r"graded different classes.*only in .*: \['s0004'\]"),
        ([one, unfinished, three], "has no shard.json: it is not the output of a finished"),
        ([one, lost, three], "has no result for s0001"),
    ]
    for given, message in cases:
        with pytest.raises(UsageError, match=message):
            merge(given, tmp_path / "merged")
        assert not (tmp_path / "merged").exists()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "grades.csv").write_text("someone's work")
    with pytest.raises(UsageError, match="not an empty folder"):
        merge(shards, tmp_path / "taken")
    assert (tmp_path / "taken" / "grades.csv").read_text() == "someone's work"
    with pytest.raises(UsageError, match="overlaps the shard folder"):
        merge(shards, one / "merged")
    assert [tree(s) for s in shards] == before
    assert not list(tmp_path.glob(".*merging*"))
    with pytest.raises(UsageError, match="holds the output of shard 1/3, not 2/3; give each shard its own -o"):
        grade_class(klass, one, jobs=1, shard=Shard(2, 3), **FAST)
    assert [tree(s) for s in shards] == before


def test_the_shard_option_and_the_merge_command(shards: list[Path], klass: Path, single: Path,
                                                tmp_path: Path) -> None:
    for text in ("0/3", "4/3", "1-3", "x"):
        with pytest.raises(UsageError, match=r"expected K/N with 1 ≤ K ≤ N.*--shard 1/3"):
            parse_shard(text)
    assert parse_shard(" 2 / 3 ") == Shard(2, 3)
    runner = CliRunner()
    bad = runner.invoke(app, ["grade", str(klass), "-o", str(tmp_path / "x"), "--shard", "3/2"])
    assert bad.exit_code == 2
    assert "expected K/N" in bad.output
    missing = runner.invoke(app, ["merge", str(shards[0]), "-o", str(tmp_path / "m")])
    assert missing.exit_code == 2
    assert "missing" in missing.output
    ok = runner.invoke(app, ["merge", *map(str, shards), "-o", str(tmp_path / "m")])
    assert ok.exit_code == 0, ok.output
    assert tree(tmp_path / "m") == tree(single)


def test_a_submission_is_graded_in_one_worker_fed_by_number(klass: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """What the speed rests on (README, Speed): one sandboxed worker per submission, however many levels
    and shrink rounds it takes, and the suite's requests sent by template number, not as whole frames."""
    from grader.sandbox import sandbox as box_module

    sessions: list[int] = []
    whole: list[int] = []
    opened, encode = box_module.Session.__init__, box_module._encode_requests

    def counting(self: box_module.Session, *args: Any) -> None:
        sessions.append(1)
        opened(self, *args)

    def frames(requests: Any, refs: Any) -> Any:
        for frame in encode(requests, refs):
            whole.append(int(b'"kind":"request"' in frame[:64]))
            yield frame

    monkeypatch.setattr(box_module.Session, "__init__", counting)
    monkeypatch.setattr(box_module, "_encode_requests", frames)
    subs = stage_submissions(klass, tmp_path / "staged").submissions
    with Grader.create(Settings(out=tmp_path / "out", **FAST)) as grader:
        grader.open_sandbox(1)
        assert grader.grade(subs[0])  # correct: every request is one of the suite's
        assert len(sessions) == 1
        assert whole
        assert not any(whole)
        assert grader.grade(subs[1])  # typical mistakes: its failures are shrunk (new requests, sent whole)
        assert len(sessions) == 2
        assert any(whole)
