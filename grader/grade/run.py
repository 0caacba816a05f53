"""Grade a whole class: stage, run the suite in the sandbox, score, and write every output.

Resumable: each student's ``results.json`` is written last and atomically, with
a fingerprint of the staged files, suite seed and rubric; a rerun skips
students whose results are current, so nothing is lost or counted twice.
``grades.csv`` and the class summary are always rebuilt from those files.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
import shutil
import tempfile
import threading
from collections import Counter
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from grader.errors import GraderFault, SandboxUnavailableError, UsageError
from grader.grade import gpu, plots
from grader.grade.report import StudentReport, dumps, feedback_html, feedback_markdown, results_json
from grader.grade.rubric import load_rubric
from grader.intake.staging import Submission, stage_submissions
from grader.suite.contract import FUNCTIONS
from grader.suite.engine import Suite
from grader.suite.examples import DEFAULT_SEED
from grader.suite.model import Case, Failure, Outcome, Property
from grader.suite.registry import suite_properties
from grader.suite.runners import BudgetedRunner, Runner, SandboxRunner

TRAJECTORIES = "trajectories"  # OUT/<student>/trajectories/<function>.png
# OUT/<name> files of the whole class: no student id may take these names (a folder named grades.csv
# would become OUT/grades.csv/ and the gradebook could not be written).
CLASS_FILES = ("grades.csv", "class_summary.json")


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write ``text`` so that readers see the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(text.encode() if isinstance(text, str) else text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@dataclass
class ClassResult:
    out: Path
    rows: list[dict[str, Any]] = field(default_factory=list)
    graded: int = 0
    resumed: int = 0
    grader_errors: int = 0
    isolation: list[str] = field(default_factory=list)  # the sandbox's layers (Sandbox.features)
    missing_layers: list[str] = field(default_factory=list)  # the layers it ran without (Sandbox.missing)
    worker_uids: list[int] = field(default_factory=list)  # the uids its workers ran as (root only)


def grade_class(submissions: Path, out: Path, *, jobs: int = 1, device: str = "auto",
                only: Sequence[str] = (), rubric: Path | None = None, unsafe_no_sandbox: bool = False,
                wall_s: float = 10.0, budget_s: float = 120.0, examples: int = 20, seed: int = DEFAULT_SEED,
                console: Console | None = None, allow_missing: Collection[str] = ()) -> ClassResult:
    """``allow_missing``: isolation layers to grade without where absent (see ``Sandbox``; the Gradescope
    runner passes "landlock" after making the reference root-only and checking it)."""
    console = console or Console(stderr=True)
    _check_numbers(jobs=jobs, wall_s=wall_s, examples=examples, budget_s=budget_s)
    if device not in ("auto", "cpu", "cuda"):
        raise UsageError(f"--device {device!r} is not one of auto, cpu, cuda; fix: --device auto (CUDA where "
                         f"a GPU is, else skipped with the reason)")
    _check_folders(submissions, out)
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for, but torch.cuda.is_available() is False here; "
                         "use --device auto (CUDA tests are then skipped with the reason) or a GPU machine")

    props = [guarded_judge(p) for p in suite_properties()]
    rules = load_rubric(rubric, props)
    points = rules.property_points(props)
    boxes = Path(tempfile.mkdtemp(prefix="optigrade-boxes-"))
    try:  # the staged copies go away however the run ends
        staged = stage_submissions(submissions, boxes / "staged", reserved=CLASS_FILES)
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
        sandbox, use_cuda, skip_reason = _start_sandbox(device, use_cuda, jobs, wall_s, unsafe_no_sandbox,
                                                        allow_missing, console)
        with console.status("Drawing the examples (once for the whole class)…"):
            suite = Suite(props, examples_per_property=examples, seed=seed, cuda=use_cuda, probes=plots.probes(),
                          cuda_skip_reason=skip_reason)
        # Results stay current only for the same questions, points, plots and limits (a result cut short by
        # --wall or --budget may change with them): a resumed run regrades otherwise.
        version = hashlib.sha256(f"{suite.digest()}|{sorted(points.items())}|{use_cuda}|{plots.VERSION}|"
                                 f"{wall_s}|{budget_s}".encode()).hexdigest()[:12]

        result = ClassResult(out, isolation=list(sandbox.features), missing_layers=list(sandbox.missing),
                             worker_uids=list(sandbox.uids))
        lock = threading.Lock()
        with sandbox, Progress(TextColumn("[bold]Grading"), BarColumn(), MofNCompleteColumn(),
                               TimeElapsedColumn(), TextColumn("{task.fields[student]}"),
                               console=console) as progress:
            task = progress.add_task("grade", total=len(entries), student="")
            runner = SandboxRunner(sandbox)

            def one(sub: Submission) -> None:
                sid = sub.student_id
                try:
                    fingerprint = f"{version}-{submission_fingerprint(sub)}"
                    if sid not in only and _is_current(out / sid / "results.json", fingerprint):
                        with lock:
                            result.resumed += 1
                    else:
                        _grade_one(suite, BudgetedRunner(runner, budget_s), sub, points, fingerprint, out,
                                   sandbox.backend)
                        with lock:
                            result.graded += 1
                except GraderFault as exc:
                    _write_grader_error(out / sid, str(exc))
                except Exception as exc:  # a bug of ours on this student's answers: the class run goes on
                    _write_grader_error(out / sid, f"grading this submission failed unexpectedly: "
                                                   f"{type(exc).__name__}: {ascii(str(exc))[:2000]}")
                finally:
                    progress.update(task, advance=1, student=sid)

            todo = [sub for sub in entries if not only or sub.student_id in only]
            progress.update(task, total=len(todo))
            with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
                for future in [pool.submit(one, sub) for sub in todo]:
                    future.result()
    finally:
        shutil.rmtree(boxes, ignore_errors=True)  # read-only files in owner-writable folders: removable
    result.rows = write_gradebook(out, [sub.student_id for sub in entries])
    result.grader_errors = sum(r["status"] == "grader_error" for r in result.rows)
    write_summary(out, result.rows, console)
    return result


def _start_sandbox(device: str, cuda: bool, jobs: int, wall_s: float, unsafe_no_sandbox: bool,
                   allow_missing: Collection[str], console: Console) -> tuple[Any, bool, str]:
    """(sandbox, whether CUDA properties run, why they are skipped otherwise).  On CUDA, a canary job
    first (grader/grade/gpu.py): a GPU fault is the machine's, never a student's."""
    sandbox = _open_sandbox(jobs, wall_s, cuda, unsafe_no_sandbox, allow_missing)
    if not cuda:
        return sandbox, False, Suite.cuda_skip_reason
    with console.status("Starting CUDA in the sandbox (canary job)…"):
        problem = gpu.cuda_problem(sandbox)
    if problem is None:
        return sandbox, True, ""
    sandbox.close()
    if device == "cuda":
        raise GraderFault(gpu.refusal(problem))
    reason = gpu.fallback_reason(problem)
    console.print(f"[bold red]warning:[/] {reason}. CUDA properties are skipped (not counted); fix the GPU and "
                  f"grade again to run them (results graded now are then regraded).", highlight=False)
    return _open_sandbox(jobs, wall_s, False, unsafe_no_sandbox, allow_missing), False, reason


def _open_sandbox(jobs: int, wall_s: float, cuda: bool, unsafe_no_sandbox: bool,
                  allow_missing: Collection[str]) -> Any:
    try:
        from grader.sandbox import Limits, Sandbox, SandboxUnavailable
    except ImportError as exc:  # pragma: no cover
        raise GraderFault(f"the sandbox package is missing: {exc}") from exc
    try:
        return Sandbox(jobs=jobs, limits=Limits(wall_s=wall_s), device="cuda" if cuda else "cpu",
                       unsafe_no_sandbox=unsafe_no_sandbox, allow_missing=allow_missing)
    except SandboxUnavailable as exc:
        raise SandboxUnavailableError(f"{exc}\nTo grade without isolation anyway (only for code you trust), "
                                      f"pass --unsafe-no-sandbox; results are then marked unsandboxed.") from None


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
        raise UsageError(f"examples={examples}: expected at least 1 drawn example per property (default 20)")


def submission_fingerprint(sub: Submission) -> str:
    """A hash of what was staged, so a resumed run knows whether a result is still current."""
    h = hashlib.sha256()
    for module in sorted(sub.staged):
        h.update(module.encode() + b"\0" + sub.staged[module].read_bytes() + b"\0")
    h.update("\n".join(sub.problems).encode())
    return h.hexdigest()[:16]


def _is_current(results: Path, fingerprint: str) -> bool:
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


def _write_grader_error(folder: Path, message: str) -> None:
    write_atomic(folder / "grader_error.txt", message + "\n")


def write_gradebook(out: Path, students: Sequence[str]) -> list[dict[str, Any]]:
    """grades.csv: one row for every submission found, rebuilt from the results on disk."""
    rows = []
    for sid in students:
        row: dict[str, Any] = {"student": sid, **dict.fromkeys(FUNCTIONS, 0.0), "total": 0.0, "max_total": 0.0,
                               "status": "grader_error"}
        try:
            data = json.loads((out / sid / "results.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            rows.append(row)
            continue
        for test in data["tests"]:
            row[test["tags"][0]] += test["score"]
        row.update({f: round(row[f], 2) for f in FUNCTIONS})
        row.update(total=data["score"], max_total=data["extra_data"]["max_score"],
                   status=data["extra_data"]["status"])
        rows.append(row)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["student", *FUNCTIONS, "total", "max_total", "status"],
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(out / "grades.csv", buf.getvalue())
    return rows


def write_summary(out: Path, rows: Sequence[dict[str, Any]], console: Console) -> None:
    """Class statistics: mean per function and the most common failing properties."""
    failing: Counter[str] = Counter()
    for row in rows:
        try:
            data = json.loads((out / row["student"] / "results.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        failing.update(t["name"] for t in data["tests"] if t.get("status") == "failed")
    n = max(1, len(rows))
    means = {f: round(sum(float(r[f]) for r in rows) / n, 2) for f in FUNCTIONS}
    summary = {"students": len(rows), "mean_total": round(sum(float(r["total"]) for r in rows) / n, 2),
               "mean_per_function": means, "most_common_failures": failing.most_common(10),
               "status": Counter(r["status"] for r in rows)}
    write_atomic(out / "class_summary.json", dumps(summary))

    table = Table(title=f"Gradebook ({len(rows)} submissions)")
    for col in ("student", "total", "max", "status"):
        table.add_column(col, justify="right" if col in ("total", "max") else "left")
    for r in rows:
        table.add_row(r["student"], f"{r['total']:g}", f"{r['max_total']:g}", r["status"])
    console.print(table)
    common = Table(title="Most common failing properties")
    common.add_column("property")
    common.add_column("students", justify="right")
    for name, count in failing.most_common(8):
        common.add_row(name, str(count))
    console.print(common)
    console.print("Mean per function: " + ", ".join(f"{f} {m:g}" for f, m in means.items()))
