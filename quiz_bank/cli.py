"""``optigrade quiz build|grade``: thin typer commands over :func:`build_quiz` and :func:`grade_responses`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from quiz_bank import i18n
from quiz_bank.build import build_quiz
from quiz_bank.errors import QuizError
from quiz_bank.grade import grade_responses
from quiz_bank.kinds import KINDS
from quiz_bank.stats import stats_table

quiz_app = typer.Typer(
    help="Per-student numeric quizzes for 最佳化方法: build handouts, answer keys and LMS exports; grade.",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True)
MAX_ISSUES_SHOWN = 20


def _fail(e: QuizError) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)  # one line: greppable
    return typer.Exit(2)


@quiz_app.command()
def build(
    roster: Annotated[Path, typer.Option("--roster", help="CSV with the columns student_id,name (or 學號,姓名).")],
    seed: Annotated[int, typer.Option("--seed", help="The quiz's seed; another seed gives other numbers.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output folder (created if missing).")],
    lang: Annotated[str, typer.Option("--lang", help="Handout language: zh-TW or en.")] = i18n.DEFAULT_LANGUAGE,
    kinds: Annotated[list[str] | None, typer.Option(
        "--kinds", help=f"Kinds to ask, in order; repeat or comma-separate. Default: all ({', '.join(KINDS)})."
    )] = None,
    pdf: Annotated[bool | None, typer.Option(
        "--pdf/--no-pdf", help="Also print PDFs with headless Chromium (default: when it is installed).")] = None,
) -> None:
    """Write every student's handout, the answer key (JSON + HTML), Moodle XML and a Canvas QTI zip."""
    chosen = [k.strip() for group in kinds or [] for k in group.split(",") if k.strip()]
    try:
        result = build_quiz(roster, seed, out, lang=lang, kinds=chosen, pdf=pdf)
    except QuizError as e:
        raise _fail(e) from None
    console.print(f"{len(result.handouts)} handouts in {out / 'handouts'}")
    for label, path in (("answer key", result.key_json), ("key handout", result.key_html),
                        ("Moodle XML", result.moodle), ("Canvas QTI", result.qti)):
        console.print(f"{label}: {path}")
    if result.pdfs:
        console.print(f"{len(result.pdfs)} PDFs")
    if result.pdf_note:
        console.print(result.pdf_note, highlight=False, soft_wrap=True)  # one line: greppable


@quiz_app.command()
def grade(
    key: Annotated[Path, typer.Option("--key", help="answer_key.json written by `quiz build`.")],
    responses: Annotated[Path, typer.Option(
        "--responses", help="CSV with student,question,response (or 學號,題號,作答).")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Scores CSV to write (student,score,max).")],
) -> None:
    """Grade responses; write scores, item statistics, per-item marks and unreadable rows."""
    try:
        result = grade_responses(key, responses, out)
    except QuizError as e:
        raise _fail(e) from None
    total = sum(s for _, s, _ in result.scores)
    possible = sum(m for _, _, m in result.scores)
    console.print(f"{len(result.scores)} students graded, mean {total / max(1, len(result.scores)):.2f} "
                  f"of {possible // max(1, len(result.scores))}; scores in {out}")
    console.print(stats_table(result.stats))
    for warning in result.warnings:
        errors.print(f"[bold yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)  # one line: greppable
    if result.absent:
        console.print(f"{len(result.absent)} student(s) with no response at all (score 0, left out of the "
                      f"statistics): {', '.join(result.absent[:MAX_ISSUES_SHOWN])}"
                      f"{' …' if len(result.absent) > MAX_ISSUES_SHOWN else ''}", highlight=False)
    if result.issues:
        table = Table(title=f"{len(result.issues)} response row(s) not used or unreadable (score 0)")
        for column in ("line", "student", "question", "response", "problem"):
            table.add_column(column)
        for i in result.issues[:MAX_ISSUES_SHOWN]:
            table.add_row(str(i.line), i.student, i.question, i.response, i.problem)
        console.print(table)
        if len(result.issues) > MAX_ISSUES_SHOWN:
            console.print(f"… all of them in {result.files[3]}")
