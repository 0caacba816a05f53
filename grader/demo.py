"""``optigrade demo`` / ``make demo``: grade the embedded demo class and build its quiz."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from solutions import optimizers as ref

ROOT = Path(__file__).resolve().parent.parent
DEMO_CLASS = ROOT / "examples" / "demo_class"
STEPS = 8


def trajectories() -> Table:
    """Each reference optimizer on the lecture's f(x) = ½x² (∇f(x) = x) from x₀ = 4, side by side."""
    f64 = torch.float64
    table = Table(title="Reference optimizers on f(x) = ½x², x₀ = 4 (η = 0.1; Adam α = 0.5)")
    table.add_column("step", justify="right")
    names = ["SGD", "Momentum", "Nesterov", "Adagrad", "RMSProp", "Adam"]
    for n in names:
        table.add_column(n, justify="right")
    x = {n: torch.tensor(4.0, dtype=f64) for n in names}
    state = {n: [torch.zeros((), dtype=f64), torch.zeros((), dtype=f64)] for n in names}
    for t in range(1, STEPS + 1):
        x["SGD"] = ref.sgd_step(x["SGD"], x["SGD"], 0.1)
        x["Momentum"], state["Momentum"][0] = ref.momentum_step(x["Momentum"], x["Momentum"], state["Momentum"][0], 0.1)
        x["Nesterov"], state["Nesterov"][0] = ref.nesterov_step(x["Nesterov"], state["Nesterov"][0], lambda p: p, 0.1)
        x["Adagrad"], state["Adagrad"][0] = ref.adagrad_step(x["Adagrad"], x["Adagrad"], state["Adagrad"][0], 1.0)
        x["RMSProp"], state["RMSProp"][0] = ref.rmsprop_step(x["RMSProp"], x["RMSProp"], state["RMSProp"][0], 0.1)
        x["Adam"], state["Adam"][0], state["Adam"][1] = ref.adam_step(
            x["Adam"], x["Adam"], state["Adam"][0], state["Adam"][1], t, lr=0.5)
        table.add_row(str(t), *(f"{float(x[n]):.4f}" for n in names))
    return table


HOSTILE = "b11002004"  # examples/demo_class: tries to cheat, stall and escape


def run_demo(out: Path, console: Console) -> None:
    from grader.errors import SandboxUnavailableError
    from grader.grade.run import grade_class

    console.print(trajectories())
    console.rule("Grading the demo class (examples/demo_class)")
    grades = out / "graded"
    try:
        grade_class(DEMO_CLASS, grades, jobs=2, console=console, wall_s=3.0)
    except SandboxUnavailableError as exc:
        # Degrade: the demo's own honest students are trusted code, so they may run unsandboxed (and are
        # marked so); the hostile one is never run without isolation.
        console.print(f"[bold yellow]No sandbox here[/]: {exc}\nGrading only the demo's honest students, "
                      f"UNSANDBOXED; the hostile one ({HOSTILE}) is skipped.")
        with tempfile.TemporaryDirectory() as tmp:
            for student in sorted(p for p in DEMO_CLASS.iterdir() if p.is_dir() and p.name != HOSTILE):
                shutil.copytree(student, Path(tmp) / student.name)
            grade_class(Path(tmp), grades, jobs=2, console=console, wall_s=3.0, unsafe_no_sandbox=True)
    written = [grades / "grades.csv", grades / "class_summary.json"]
    try:
        from quiz_bank.demo import build_demo

        console.rule("Building the demo quiz (quiz_bank)")
        written += build_demo(out / "quiz")
    except ImportError as exc:  # pragma: no cover
        console.print(f"quiz bank unavailable: {exc}")
    console.rule("Where the files are")
    console.print(f"Gradebook: {grades / 'grades.csv'}")
    console.print(f"Per student: {grades}/<student>/results.json, feedback.md, feedback.html")
    console.print(f"Quiz: {out / 'quiz'}")
