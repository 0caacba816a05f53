"""The ``optigrade`` command: a thin layer over plain functions, one per subcommand."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from grader.errors import OptigradeError

app = typer.Typer(help="Auto-graded optimizer exercises and quizzes for the lecture 最佳化方法.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
console = Console(stderr=True)
T = TypeVar("T")


def _run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return fn(*args, **kwargs)
    except OptigradeError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}")  # a message is text: "[notebook]" is no markup
        raise typer.Exit(2) from None


@app.command()
def grade(
    submissions: Annotated[Path, typer.Argument(help="Folder with one sub-folder or .zip per student.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Where grades.csv and per-student files go.")],
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Students graded at once (one per core).")] = 1,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda (auto: CUDA tests run where a GPU is).")] = "auto",
    only: Annotated[Optional[list[str]], typer.Option(help="Regrade only these student ids.")] = None,  # noqa: UP045
    rubric: Annotated[Optional[Path], typer.Option(help="Rubric TOML (default: the shipped one).")] = None,  # noqa: UP045
    wall: Annotated[float, typer.Option(help="Seconds a student function may run before it is killed.")] = 10.0,
    budget: Annotated[float, typer.Option(help="Seconds one submission may take in all (stalling code).")] = 120.0,
    unsafe_no_sandbox: Annotated[bool, typer.Option("--unsafe-no-sandbox",
                                                    help="Run without isolation (trusted code only).")] = False,
    shard: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="K/N: grade only the K-th of N slices of the class (join them with `optigrade merge`).")] = None,
) -> None:
    """Grade a whole class: gradebook, Gradescope results.json and feedback per student."""
    from grader.grade.run import grade_class
    from grader.grade.shards import parse_shard

    if unsafe_no_sandbox:
        console.print("[bold red]--unsafe-no-sandbox: student code runs WITHOUT isolation (limits still apply); "
                      "only for code you trust. Results are marked UNSANDBOXED.[/]")
    slice_ = _run(parse_shard, shard) if shard is not None else None
    result = _run(grade_class, submissions, out, jobs=jobs, device=device, only=only or (), rubric=rubric,
                  unsafe_no_sandbox=unsafe_no_sandbox, wall_s=wall, budget_s=budget, shard=slice_, console=console)
    console.print(f"Graded {result.graded}, kept {result.resumed} up-to-date results"
                  f"{f' (shard {slice_})' if slice_ else ''}; gradebook: {out / 'grades.csv'}")
    if result.grader_errors:
        console.print(f"[bold red]{result.grader_errors} submission(s) hit a grader error[/]: see grader_error.txt")
        raise typer.Exit(1)


@app.command()
def merge(
    shards: Annotated[list[Path], typer.Argument(help="The -o folders of `optigrade grade --shard K/N`, K = 1..N.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="New folder for the whole class's output.")],
) -> None:
    """Join the outputs of sharded grading runs into one, as if one machine had graded the class."""
    from grader.grade.merge import merge as merge_shards

    result = _run(merge_shards, shards, out, console=console)
    console.print(f"Merged {len(shards)} shards: {len(result.rows)} submissions; gradebook: {out / 'grades.csv'}")
    if result.grader_errors:
        console.print(f"[bold red]{result.grader_errors} submission(s) hit a grader error[/]: see grader_error.txt")
        raise typer.Exit(1)


@app.command()
def check(folder: Annotated[Path, typer.Argument(help="Folder with your exercise files.")] = Path("exercises"),
          verbose: Annotated[bool, typer.Option("--verbose", "-v",
                                                help="Every failing check with its counter-example.")] = False,
          ) -> None:
    """Check your own exercise files against the public properties (hidden tests also count).

    Exit status 0 only when every public check passes, 1 when one fails, 2 on a usage error."""
    from grader.check import all_passed
    from grader.check import check as run_check

    results = _run(run_check, folder, verbose=verbose)
    raise typer.Exit(0 if all_passed(results) else 1)


@app.command()
def release(out: Annotated[Path, typer.Option("-o", "--out", help="New folder for the student bundle.")],
            notebook: Annotated[bool, typer.Option("--notebook", help="Also write exercises.ipynb, the Jupyter/Colab "
                                                   "edition with a check cell under each function.")] = False,
            ) -> None:
    """Write the student bundle: stubs, public checks, a check script and a README (and, with --notebook,
    the notebook edition)."""
    from grader.release import release as write_release

    files = _run(write_release, out, notebook=notebook)
    console.print(f"Wrote {len(files)} files to {out}")


@app.command()
def stubs() -> None:
    """Regenerate exercises/ from solutions/."""
    from grader.stubs import write_stubs

    for path in write_stubs():
        console.print(f"wrote {path}")


@app.command()
def demo(out: Annotated[Path, typer.Option("-o", "--out")] = Path("demo-out")) -> None:
    """Grade the embedded demo class and build its quiz, then say where everything is."""
    from grader.demo import run_demo

    _run(run_demo, out, console)


@app.command()
def gradescope(
    out: Annotated[Path, typer.Option("-o", "--out", help="The autograder zip to write (upload it to Gradescope).")],
    rubric: Annotated[Optional[Path], typer.Option(help="Rubric TOML (default: the shipped one).")] = None,  # noqa: UP045
    hidden_visibility: Annotated[str, typer.Option(
        help="When students see the hidden tests: after_published | after_due_date | hidden.")] = "after_published",
    wheel: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        help="Ship this optigrade wheel instead of building one from the source tree.")] = None,
) -> None:
    """Write a Gradescope autograder zip (setup.sh, run_autograder, the optigrade wheel, the rubric)."""
    from grader.gradescope.package import build_autograder

    built = _run(build_autograder, out, rubric=rubric, hidden_visibility=hidden_visibility, wheel=wheel)
    console.print(f"Wrote {out} ({', '.join(built.entries)}). Upload it in Gradescope: Configure Autograder → "
                  f"Zip file upload (Ubuntu 22.04 or later). Maximum there: {built.max_points:g} points (no GPU: "
                  f"the CUDA properties count for neither score nor maximum).")


@app.command("export-grades")
def export_grades(
    graded: Annotated[Path, typer.Argument(help="The folder `optigrade grade` wrote (OUT, with grades.csv).")],
    to: Annotated[str, typer.Option(help="canvas | moodle")],
    roster: Annotated[Path, typer.Option(help="The roster exported from that LMS (CSV).")],
    out: Annotated[Path, typer.Option("-o", "--out", help="The import CSV to write.")],
    assignment: Annotated[str, typer.Option(help="The grade column's name (Canvas: as in its export).")] = "optigrade",
    moodle_id: Annotated[str, typer.Option(help="Moodle identifier column: email | idnumber | username.")] = "email",
) -> None:
    """Write the grades as Canvas's gradebook import CSV or Moodle's grade import CSV."""
    from grader.lms.export import export_grades as write_export

    done = _run(write_export, graded, to=to, roster_path=roster, out=out, assignment=assignment, moodle_id=moodle_id)
    console.print(f"Wrote {out}: {done.graded} of {done.students} roster students graded; the others have an "
                  f"empty cell (not a zero).")
    for title, items in (
        ("No roster entry (NOT in the file; add them to the LMS or rename the folders)", done.unmatched),
        ("Several roster entries match (NOT in the file)", done.ambiguous),
        ("Grader errors (NOT in the file; regrade them)", done.not_exported),
    ):
        if items:
            console.print(f"[bold yellow]{title}:[/] {len(items)}")
            for item in items:
                console.print(f"  {item}", markup=False)


try:
    from quiz_bank.cli import quiz_app

    app.add_typer(quiz_app, name="quiz", help="Per-student numeric quizzes: build handouts, grade answers.")
except ImportError:  # pragma: no cover - the quiz bank is part of the package; this guards partial checkouts
    pass


if __name__ == "__main__":
    app()
