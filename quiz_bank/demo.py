"""The quiz part of ``optigrade demo``: build a quiz for a small class and grade its answers.

The demo's answers (``demo_responses.csv``) are written the way students write:
some right in odd notations (full-width digits, ``×10⁻³``, a leading ``≈``),
some wrong, some unreadable, so every path of grading shows up.
"""

from __future__ import annotations

from pathlib import Path

from quiz_bank.build import build_quiz
from quiz_bank.grade import grade_responses

HERE = Path(__file__).resolve().parent
DEMO_ROSTER = HERE / "demo_roster.csv"
DEMO_RESPONSES = HERE / "demo_responses.csv"
DEMO_SEED = 20250924  # the lecture's date


def build_demo(out_dir: Path, pdf: bool | None = None) -> list[Path]:
    """Build the demo quiz into ``out_dir`` and grade the demo answers; return the files written."""
    built = build_quiz(DEMO_ROSTER, DEMO_SEED, out_dir, lang="zh-TW", pdf=pdf)
    graded = grade_responses(built.out_dir / "answer_key.json", DEMO_RESPONSES, out_dir / "scores.csv")
    return [*built.files, *graded.files]
