"""Grade a whole class: stage, run the suite in the sandbox, score, and write every output.

Resumable: each student's ``results.json`` is written last and atomically, with
a fingerprint of the staged files, suite seed and rubric; a rerun skips
students whose results are current, so nothing is lost or counted twice.
``grades.csv`` and the class summary are always rebuilt from those files.

Start-up is kept short: the drawn examples come from an on-disk cache after the first run
(grader/suite/example_cache.py) and the sandbox's zygote starts while they load.  A large class is
spread over trusted processes (grader/grade/pool.py); ``--shard K/N`` grades one slice of it
(grader/grade/shards.py, joined by grader/grade/merge.py).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from grader.errors import GraderFault, UsageError
from grader.grade import gpu, plots, pool
from grader.grade.gradebook import CLASS_FILES, write_atomic, write_gradebook, write_summary
from grader.grade.shards import MANIFEST, Manifest, Shard, read_manifest, write_manifest
from grader.grade.submission import (
    TRAJECTORIES,
    Grader,
    SandboxOpening,
    Settings,
    draw_examples,
    guarded_judge,
    open_sandbox,
    questions,
    submission_fingerprint,
)
from grader.intake.staging import Submission, stage_submissions
from grader.suite.engine import Suite
from grader.suite.examples import DEFAULT_EXAMPLES, DEFAULT_SEED

RESERVED = (*CLASS_FILES, MANIFEST)  # OUT/<name> files that are not student folders
# Also the names this module had before one submission's grading and the gradebook moved out.
__all__ = ["CLASS_FILES", "TRAJECTORIES", "ClassResult", "grade_class", "guarded_judge", "submission_fingerprint",
           "write_atomic", "write_gradebook", "write_summary"]


@dataclass
class ClassResult:
    out: Path
    rows: list[dict[str, Any]] = field(default_factory=list)
    graded: int = 0
    resumed: int = 0
    grader_errors: int = 0
    startup_s: float = 0.0  # from the call until the first submission could be graded (or none needed it)
    processes: int = 1  # trusted processes that graded submissions (this one included)
    trusted_cpu_s: float = 0.0  # CPU time of the trusted processes' own (not their sandboxes'), start-up included
    spawned_cpu_s: float = 0.0  # the part of it used by the spawned processes (grader/grade/pool.py)
    isolation: list[str] = field(default_factory=list)  # the sandbox's layers (Sandbox.features)
    missing_layers: list[str] = field(default_factory=list)  # the layers it ran without (Sandbox.missing)
    worker_uids: list[int] = field(default_factory=list)  # the uids its workers ran as (root only)


def grade_class(submissions: Path, out: Path, *, jobs: int = 1, device: str = "auto",
                only: Sequence[str] = (), rubric: Path | None = None, unsafe_no_sandbox: bool = False,
                wall_s: float = 10.0, budget_s: float = 120.0, examples: int = DEFAULT_EXAMPLES,
                seed: int = DEFAULT_SEED, shard: Shard | None = None, console: Console | None = None,
                allow_missing: Collection[str] = ()) -> ClassResult:
    """``allow_missing``: isolation layers to grade without where absent (see ``Sandbox``; the Gradescope
    runner passes "landlock" after making the reference root-only and checking it)."""
    started, cpu = time.perf_counter(), _own_cpu()
    console = console or Console(stderr=True)
    _check_numbers(jobs=jobs, wall_s=wall_s, examples=examples, budget_s=budget_s)
    if device not in ("auto", "cpu", "cuda"):
        raise UsageError(f"--device {device!r} is not one of auto, cpu, cuda; fix: --device auto (CUDA where "
                         f"a GPU is, else skipped with the reason)")
    _check_folders(submissions, out)
    if shard:
        _check_shard_folder(out, shard)
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for, but torch.cuda.is_available() is False here; "
                         "use --device auto (CUDA tests are then skipped with the reason) or a GPU machine")
    settings = Settings(out=out, cuda=use_cuda, rubric=rubric, wall_s=wall_s, budget_s=budget_s,
                        examples=examples, seed=seed, unsafe_no_sandbox=unsafe_no_sandbox,
                        allow_missing=tuple(sorted(allow_missing)))
    if use_cuda:  # a canary first: a GPU fault is the machine's, never a student's
        settings = _cuda_or_fallback(settings, device, console)

    props, points = questions(settings)  # a bad rubric stops the run before anything else
    with _Boxes() as boxes:  # the staged copies go away however the run ends
        staged = stage_submissions(submissions, boxes.path / "staged", reserved=RESERVED)
        entries = staged.submissions
        if staged.ignored:
            console.print(f"Not submissions (ignored): {', '.join(staged.ignored[:10])}"
                          f"{' …' if len(staged.ignored) > 10 else ''}", markup=False)  # names are anyone's
        if only:
            known = {s.student_id for s in entries}
            unknown = sorted(set(only) - known)
            if unknown:
                raise UsageError(f"--only names students not found in {submissions}: {unknown}; "
                                 f"found {len(known)} submissions, e.g. {sorted(known)[:5]}")
        mine = shard.take(entries) if shard else list(entries)
        todo = [sub for sub in mine if not only or sub.student_id in only]
        # The sandbox's zygote starts (a second or so) while the examples are read or drawn.
        opening = SandboxOpening(settings, min(jobs, len(todo))) if todo else None
        grader: Grader | None = None
        try:
            with console.status("Preparing the examples (drawn on the first run, then read from a cache)…"):
                suite = Suite(props, examples_per_property=examples, seed=seed, cuda=settings.cuda,
                              probes=plots.probes(), drawn=draw_examples(settings, props),
                              cuda_skip_reason=settings.cuda_skip_reason)
            grader = Grader(settings, suite, points)
            result = ClassResult(out)
            stale = [sub for sub in todo if sub.student_id in only or not grader.is_current(sub)]
            result.resumed = len(todo) - len(stale)
            if stale:
                assert opening is not None
                grader.use_sandbox(opening.take())
                box = grader.sandbox
                result.isolation, result.missing_layers = list(box.features), list(box.missing)
                result.worker_uids = list(box.uids)
                result.startup_s = time.perf_counter() - started
                _grade(grader, stale, jobs, len(todo), result, console)
            else:
                result.startup_s = time.perf_counter() - started
        finally:
            if opening is not None:
                opening.discard()
            if grader is not None:
                grader.close()
    result.rows = write_gradebook(out, [sub.student_id for sub in mine])
    result.trusted_cpu_s += _own_cpu() - cpu
    result.grader_errors = sum(r["status"] == "grader_error" for r in result.rows)
    write_summary(out, result.rows, console)
    if shard and grader is not None:  # last: marks the shard done for `optigrade merge`
        write_manifest(out, Manifest(shard, tuple(sub.student_id for sub in entries), grader.version,
                                     _readable(grader)))
    return result


def _grade(grader: Grader, stale: Sequence[Submission], jobs: int, total: int, result: ClassResult,
           console: Console) -> None:
    """Grade ``stale`` with a progress bar over all ``total`` (the rest are current)."""
    layout = pool.plan(jobs, len(stale))
    with Progress(TextColumn("[bold]Grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[student]}"), console=console) as progress:
        task = progress.add_task("grade", total=total, completed=total - len(stale), student="")

        def done(sub: Submission, ok: bool) -> None:
            result.graded += ok
            progress.update(task, advance=1, student=sub.student_id)

        spawned = pool.grade_all(grader, stale, layout, on_done=done,
                                 on_note=lambda note: console.print(f"[yellow]{note}[/]"))
    result.spawned_cpu_s = sum(spawned.values())
    result.trusted_cpu_s += result.spawned_cpu_s
    result.processes = 1 + len(spawned)


def _cuda_or_fallback(settings: Settings, device: str, console: Console) -> Settings:
    """The canary (grader/grade/gpu.py) in a sandbox of this run's kind: ``settings`` as they are when CUDA
    starts there; else ``--device cuda`` stops before anyone is graded and ``--device auto`` grades on the
    CPU, loudly, each skipped CUDA property saying why."""
    with console.status("Starting CUDA in the sandbox (canary job)…"):
        sandbox = open_sandbox(settings, 1)
        try:
            problem = gpu.cuda_problem(sandbox)
        finally:
            sandbox.close()
    if problem is None:
        return settings
    if device == "cuda":
        raise GraderFault(gpu.refusal(problem))
    reason = gpu.fallback_reason(problem)
    console.print(f"[bold red]warning:[/] {reason}. CUDA properties are skipped (not counted); fix the GPU and "
                  f"grade again to run them (results graded now are then regraded).", highlight=False)
    return replace(settings, cuda=False, cuda_skip_reason=reason)


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def _readable(grader: Grader) -> dict[str, Any]:
    """What a shard's results were graded with, named, so a merge can say what differs."""
    s = grader.settings
    return {"suite": grader.suite.digest(), "seed": s.seed, "examples": s.examples, "cuda": s.cuda,
            "points": hashlib.sha256(repr(sorted(grader.points.items())).encode()).hexdigest()[:12],
            "wall_s": s.wall_s, "budget_s": s.budget_s, "plots": plots.VERSION}


class _Boxes:
    """A private temporary folder for the staged copies, removed however the run ends."""

    def __enter__(self) -> _Boxes:
        self.path = Path(tempfile.mkdtemp(prefix="optigrade-boxes-"))
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)  # read-only files in owner-writable folders: removable


def _check_folders(submissions: Path, out: Path) -> None:
    if not submissions.is_dir():
        raise UsageError(f"SUBMISSIONS {submissions} is not a folder; expected a folder with one sub-folder or "
                         f".zip per student (e.g. an LMS bulk download, unzipped)")
    sub, dest = submissions.resolve(), out.resolve()
    if dest == sub or sub in dest.parents:
        raise UsageError(f"the output folder {out} is inside SUBMISSIONS {submissions}; choose a folder outside "
                         f"it, e.g. -o {submissions.parent / 'graded'}")
    if out.exists() and not out.is_dir():
        raise UsageError(f"the output {out} is a file, expected a folder (created if missing); fix: -o a new "
                         f"folder, e.g. -o {out.parent / 'graded'}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the output folder {out}: {exc.strerror}; fix: -o a folder you can "
                         f"write to") from None


def _check_shard_folder(out: Path, shard: Shard) -> None:
    """Each shard needs a folder of its own: its shard.json and grades.csv would overwrite another's."""
    if (out / MANIFEST).exists():
        try:
            other = read_manifest(out).shard
        except UsageError:
            return  # unreadable: rewritten when this shard is done
        if other != shard:
            raise UsageError(f"{out} holds the output of shard {other}, not {shard}; give each shard its own -o "
                             f"folder, e.g. -o {out.parent / f'{out.name}-{shard.index}'}")


def _check_numbers(*, jobs: int, wall_s: float, examples: int, budget_s: float) -> None:
    if jobs < 1:
        raise UsageError(f"--jobs {jobs}: expected at least 1 (students graded in parallel); fix: --jobs 2 "
                         f"on a 2-core machine")
    if not wall_s > 0:
        raise UsageError(f"--wall {wall_s}: expected seconds > 0 a student function may run; fix: keep the "
                         f"default 10 (a correct batch takes well under 1 s)")
    if not budget_s >= wall_s:
        raise UsageError(f"--budget {budget_s}: expected seconds ≥ --wall ({wall_s}) one submission may take in all; "
                         f"fix: keep the default 120 (a correct submission takes about a second)")
    if examples < 1:
        raise UsageError(f"examples={examples}: expected at least 1 drawn example per property "
                         f"(default {DEFAULT_EXAMPLES})")
