"""Grade one submission in this (trusted) process: run the suite in the sandbox, score, write its files.

A :class:`Grader` holds what every submission of a run shares: the suite with its examples, the points,
the run's version (what a result must have been graded with to count as current) and a sandbox.
``grade_class`` uses one per trusted process (grader/grade/pool.py); anything that grades a single
submission (e.g. an autograder image) can use :func:`grade_folder`, or a Grader on its own::

    with Grader.create(Settings(out=Path("results"))) as grader:
        grader.open_sandbox()
        grader.grade(submission)   # a staging.Submission: writes results/<id>/results.json, feedback, plots
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from grader.errors import GraderFault, SandboxUnavailableError
from grader.grade import plots
from grader.grade.gradebook import write_atomic
from grader.grade.report import StudentReport, dumps, feedback_html, feedback_markdown, results_json
from grader.grade.rubric import load_rubric
from grader.intake.staging import Submission, stage_submissions
from grader.suite import example_cache
from grader.suite.engine import Suite
from grader.suite.examples import DEFAULT_EXAMPLES, DEFAULT_SEED
from grader.suite.model import Case, Example, Failure, Outcome, Property
from grader.suite.registry import suite_properties
from grader.suite.runners import BudgetedRunner, Runner, SandboxRunner

TRAJECTORIES = "trajectories"  # OUT/<student>/trajectories/<function>.png
# Reply bytes one function's calls may send back in one batch (the sandbox's Limits.reply_mb, whose default
# of 64 suits any caller).  The suite's replies are small: an honest level of the grading order sends at most
# 0.6 MB in all, and a broadcasting bug that answers every call with an n × n outer product of its largest
# input (27 elements) about 2.4 MB.  Every function's replies stay in this process until the submission is
# graded, so 64 MB each let one hostile submission raise the grader's memory by 1.4 GB (2.8 GB at --jobs 2).
REPLY_MB = 8


@dataclass(frozen=True)
class Settings:
    """Everything besides the submission that decides its grade; the same in every process of a run."""

    out: Path
    cuda: bool = False
    rubric: Path | None = None
    wall_s: float = 10.0
    budget_s: float = 120.0
    examples: int = DEFAULT_EXAMPLES
    seed: int = DEFAULT_SEED
    unsafe_no_sandbox: bool = False
    allow_missing: tuple[str, ...] = ()  # isolation layers to grade without where absent (Sandbox)
    cuda_skip_reason: str = Suite.cuda_skip_reason  # why CUDA properties are skipped when ``cuda`` is False


def questions(settings: Settings) -> tuple[list[Property], dict[str, float]]:
    """The suite's properties (judges guarded) and each one's points under the rubric."""
    props = [guarded_judge(p) for p in suite_properties()]
    return props, load_rubric(settings.rubric, props).property_points(props)


def runnable(settings: Settings, props: Sequence[Property]) -> list[Property]:
    return [p for p in props if settings.cuda or not p.needs_cuda]


def draw_examples(settings: Settings, props: Sequence[Property]) -> dict[str, list[Example]]:
    """The examples of the run's properties: from the on-disk cache when it matches, else drawn."""
    return example_cache.load_or_draw(runnable(settings, props), settings.examples, settings.seed)


class Grader:
    """Grades submissions with one suite and one sandbox; thread-safe (one submission per thread)."""

    def __init__(self, settings: Settings, suite: Suite, points: dict[str, float]) -> None:
        self.settings, self.suite, self.points = settings, suite, points
        # Results stay current only for the same questions, points, plots and limits (a result cut short by
        # --wall or --budget may change with them): a resumed run regrades otherwise.
        self.version = hashlib.sha256(
            f"{suite.digest()}|{sorted(points.items())}|{settings.cuda}|{plots.VERSION}|"
            f"{settings.wall_s}|{settings.budget_s}".encode()).hexdigest()[:12]
        self.sandbox: Any = None
        self._runner: SandboxRunner | None = None

    @classmethod
    def create(cls, settings: Settings, drawn: dict[str, list[Example]] | None = None) -> Grader:
        """A grader for ``settings``; ``drawn`` (from :func:`draw_examples`) saves drawing them again."""
        props, points = questions(settings)
        if drawn is None:
            drawn = draw_examples(settings, props)
        suite = Suite(props, examples_per_property=settings.examples, seed=settings.seed, cuda=settings.cuda,
                      probes=plots.probes(), drawn=drawn, cuda_skip_reason=settings.cuda_skip_reason)
        return cls(settings, suite, points)

    def open_sandbox(self, slots: int = 1) -> None:
        self.use_sandbox(open_sandbox(self.settings, slots))

    def use_sandbox(self, sandbox: Any) -> None:
        self.sandbox, self._runner = sandbox, SandboxRunner(sandbox)
        calls = [*(c for cases in self.suite.cases.values() for case in cases for c in case.calls), *self.suite.probes]
        self._runner.prepare(calls)
        preload = getattr(sandbox, "preload", None)
        if preload is not None:  # every worker gets the suite's requests by number (Sandbox.preload)
            preload(self._runner.request(c) for c in calls)
        settle_memory()

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = self._runner = None

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def fingerprint(self, sub: Submission) -> str:
        return f"{self.version}-{submission_fingerprint(sub)}"

    def is_current(self, sub: Submission) -> bool:
        """Whether OUT/<id>/results.json was graded from these files with this run's version."""
        return is_current(self.settings.out / sub.student_id / "results.json", self.fingerprint(sub))

    def grade(self, sub: Submission) -> bool:
        """Grade ``sub`` and write its files; False when the grader failed on it (then its folder holds
        grader_error.txt instead of a new results.json, and a resumed run tries it again)."""
        folder = self.settings.out / sub.student_id
        if self._runner is None:
            raise RuntimeError("Grader.grade before open_sandbox()/use_sandbox()")
        try:
            with self._runner.for_submission() as runner:
                _grade_one(self.suite, BudgetedRunner(runner, self.settings.budget_s), sub, self.points,
                           self.fingerprint(sub), self.settings.out, self.sandbox.backend)
        except GraderFault as exc:
            write_grader_error(folder, str(exc))
            return False
        except Exception as exc:  # a bug of ours on this student's answers: the class run goes on
            write_grader_error(folder, f"grading this submission failed unexpectedly: "
                                       f"{type(exc).__name__}: {ascii(str(exc))[:2000]}")
            return False
        return True


def settle_memory() -> None:
    """Once the suite and its encoded requests are built: they live as long as the process, so the
    garbage collector stops walking them (a full collection over them cost about 60 ms per submission),
    and young collections are made rarer (grading allocates many short-lived, acyclic values)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 100)


def grade_folder(folder: Path, settings: Settings, *, student_id: str = "submission") -> Path:
    """Grade the one submission whose files are in ``folder`` (e.g. an autograder's submission folder),
    staged like any class member's; returns ``settings.out / <id>`` with results.json and the feedback
    (or grader_error.txt).  Symlinks in ``folder`` stay symlinks, so staging refuses them as usual."""
    with tempfile.TemporaryDirectory(prefix="optigrade-one-") as tmp:
        shutil.copytree(folder, Path(tmp) / "in" / student_id, symlinks=True)
        (sub,) = stage_submissions(Path(tmp) / "in", Path(tmp) / "staged").submissions
        with Grader.create(settings) as grader:
            grader.open_sandbox(1)
            grader.grade(sub)
        return settings.out / sub.student_id


def open_sandbox(settings: Settings, slots: int) -> Any:
    """The sandbox one trusted process grades with (``slots`` jobs at once).  Every process of a run
    builds its own here: checks that must run before grading belong here too."""
    try:
        from grader.sandbox import Limits, Sandbox, SandboxUnavailable
    except ImportError as exc:  # pragma: no cover
        raise GraderFault(f"the sandbox package is missing: {exc}") from exc
    try:
        return Sandbox(jobs=slots, limits=Limits(wall_s=settings.wall_s, reply_mb=REPLY_MB),
                       device="cuda" if settings.cuda else "cpu", unsafe_no_sandbox=settings.unsafe_no_sandbox,
                       allow_missing=settings.allow_missing)
    except SandboxUnavailable as exc:
        raise SandboxUnavailableError(f"{exc}\nTo grade without isolation anyway (only for code you trust), "
                                      f"pass --unsafe-no-sandbox; results are then marked unsandboxed.") from None


class SandboxOpening:
    """A sandbox being opened in a thread (its zygote starts in a second or so) while the caller builds the
    suite: ``take()`` waits for it, ``discard()`` closes it if not taken."""

    def __init__(self, settings: Settings, slots: int) -> None:
        self._sandbox: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._open, args=(settings, slots), name="open-sandbox", daemon=True)
        self._thread.start()

    def _open(self, settings: Settings, slots: int) -> None:
        try:
            self._sandbox = open_sandbox(settings, slots)
        except BaseException as exc:  # noqa: BLE001 - raised again by take()
            self._error = exc

    def take(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        sandbox, self._sandbox = self._sandbox, None
        return sandbox

    def discard(self) -> None:
        self._thread.join()
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None


def guarded_judge(prop: Property) -> Property:
    """``prop`` whose judge counts an answer it cannot handle as failed instead of raising.

    Judges run here, on whatever a worker sent back (any decodable value: a bfloat16 tensor numpy
    cannot read, a shape that does not broadcast against the expected one, ...).  An exception from a
    judge would otherwise end the whole class run; an answer the judge cannot even read is not right.
    """
    judge = prop.judge

    def guarded(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        try:
            return judge(case, outcomes)
        except Exception as exc:  # noqa: BLE001 - judged data came from student code
            return Failure(f"the answer could not be judged, so it counts as failed "
                           f"({type(exc).__name__}: {str(exc)[:300]})")

    return dataclasses.replace(prop, judge=guarded)


def submission_fingerprint(sub: Submission) -> str:
    """A hash of what was staged, so a resumed run knows whether a result is still current."""
    h = hashlib.sha256()
    for module in sorted(sub.staged):
        h.update(module.encode() + b"\0" + sub.staged[module].read_bytes() + b"\0")
    h.update("\n".join(sub.problems).encode())
    return h.hexdigest()[:16]


def is_current(results: Path, fingerprint: str) -> bool:
    try:
        data = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(data.get("extra_data", {}).get("fingerprint") == fingerprint)


def _grade_one(suite: Suite, runner: Runner, sub: Submission, points: dict[str, float],
               fingerprint: str, out: Path, backend: str) -> None:
    graded = suite.evaluate(runner, sub.staged)
    results = graded.results
    import_failed = any(o.failure and "importing" in o.failure for r in results for o in r.outcomes)
    status = "student_error" if sub.missing or import_failed else "ok"
    problems = [*sub.problems, *(f"{name} is missing: its functions score zero" for name in sub.missing)]
    report = StudentReport(sub.student_id, status, results, points, problems, backend, fingerprint)
    folder = out / sub.student_id
    try:
        drawn = plots.render_all(graded.probes)
    except Exception as exc:  # a bug of ours: this student is a grader_error, the class run goes on
        raise GraderFault(f"drawing the trajectory plots failed: {exc!r}") from exc
    for function, (_, png) in drawn.items():
        write_atomic(folder / TRAJECTORIES / f"{function}.png", png)
    # How a function's tests ran (e.g. a helper's stand-in) holds for its rollout too: same job.
    notes = {r.prop.function: r.note for r in results if r.note}
    captions = {f: f"{c} As in the tests: {notes[f][:1].lower()}{notes[f][1:]}" if f in notes else c
                for f, c in plots.captions(drawn).items()}
    links = {function: f"{TRAJECTORIES}/{function}.png" for function in drawn}
    uris = {function: plots.data_uri(png) for function, (_, png) in drawn.items()}
    write_atomic(folder / "feedback.md", feedback_markdown(report, links, captions))
    write_atomic(folder / "feedback.html", feedback_html(report, uris, captions))
    write_atomic(folder / "results.json", dumps(results_json(report, captions)))  # last: it marks the student done
    (folder / "grader_error.txt").unlink(missing_ok=True)  # a fault of an earlier run, now regraded


def write_grader_error(folder: Path, message: str) -> None:
    write_atomic(folder / "grader_error.txt", message + "\n")
