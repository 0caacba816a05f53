"""The quiz part of ``optigrade demo``: build a quiz for a small class and grade its answers.

The demo's answers (``demo_responses.csv``) are written the way students write:
some right in odd notations (full-width digits, ``×10⁻³``, a leading ``≈``),
some wrong in typical ways (forgot the ×10³, the other ``drop_last`` reading),
some unreadable, so every path of grading shows up.  The file is generated from
the demo's answer key by :func:`demo_responses`; after changing a generator,
regenerate it with ``python -m quiz_bank.demo`` (a test says when it is stale).
"""

from __future__ import annotations

import csv
import io
import json
import random
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from quiz_bank.build import build_quiz
from quiz_bank.grade import grade_responses

HERE = Path(__file__).resolve().parent
DEMO_ROSTER = HERE / "demo_roster.csv"
DEMO_RESPONSES = HERE / "demo_responses.csv"
DEMO_SEED = 20250924  # the lecture's date

_FULL_WIDTH = str.maketrans("0123456789.,-", "０１２３４５６７８９．，－")
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
# Share of right, wrong and unreadable answers per demo student (the rest left blank).
_PLANS = ((1.0, 0.0, 0.0), (0.8, 0.2, 0.0), (0.55, 0.25, 0.1), (0.4, 0.3, 0.1), (0.2, 0.5, 0.05))
_UNREADABLE_NUMBERS = ("about 0.3", "0.48?", "N/A", "1..2")
_UNREADABLE_LETTERS = ("E", "AB")


def _right(entry: dict[str, Any], style: int) -> str:
    shown = str(entry["display"])
    if entry["type"] == "choice":
        return (shown, shown.lower(), f"({shown})", shown.translate(str.maketrans("ABCD", "ＡＢＣＤ")))[style % 4]
    if entry["type"] == "integer":
        n = int(entry["answer"])
        return (str(n), f"{n:,}", str(n).translate(_FULL_WIDTH), f"{n:,}".replace(",", " "))[style % 4]
    x = Decimal(shown)
    mantissa = x.scaleb(-x.adjusted())
    return (shown, "≈ " + shown, shown.replace("-", "−"),
            f"{mantissa}×10{str(x.adjusted()).translate(_SUPERSCRIPT)}", shown.translate(_FULL_WIDTH))[style % 5]


def _wrong(entry: dict[str, Any], rng: random.Random) -> str:
    if entry["type"] == "choice":
        return "ABCD".replace(str(entry["answer"]), "")[rng.randrange(3)]
    if entry["type"] == "integer":  # off by one: the other drop_last reading
        return str(int(entry["answer"]) + rng.choice((-1, 1)))
    shown = Decimal(str(entry["display"]))
    if entry.get("scale_exp"):  # forgot to multiply by 10³ / 10⁶
        return str(shown.scaleb(-int(entry["scale_exp"])))
    return str((shown * Decimal("1.1")).quantize(shown))


def demo_responses(key: list[dict[str, Any]]) -> str:
    """The demo's responses CSV for a demo answer key (deterministic)."""
    rng = random.Random(DEMO_SEED)
    students = list(dict.fromkeys(e["student"] for e in key))
    rows: list[tuple[str, str, str]] = []
    unreadable = 0
    for student, (right, wrong, bad) in zip(students, _PLANS, strict=False):
        for i, entry in enumerate(e for e in key if e["student"] == student):
            draw = rng.random()
            if draw < right:
                rows.append((student, entry["question"], _right(entry, i)))
            elif draw < right + wrong:
                rows.append((student, entry["question"], _wrong(entry, rng)))
            elif draw < right + wrong + bad:
                pool = _UNREADABLE_LETTERS if entry["type"] == "choice" else _UNREADABLE_NUMBERS
                rows.append((student, entry["question"], pool[unreadable % len(pool)]))
                unreadable += 1
    rows.append((students[min(2, len(students) - 1)], "Q99", "0.5"))  # a question nobody was asked
    rows.append(("B00000000", "Q1", "0.5"))  # a student not on the roster
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", "question", "response"])
    writer.writerows(rows)
    return out.getvalue()


def build_demo(out_dir: Path, pdf: bool | None = None) -> list[Path]:
    """Build the demo quiz into ``out_dir`` and grade the demo answers; return the files written."""
    built = build_quiz(DEMO_ROSTER, DEMO_SEED, out_dir, lang="zh-TW", pdf=pdf)
    graded = grade_responses(built.out_dir / "answer_key.json", DEMO_RESPONSES, out_dir / "scores.csv")
    return [*built.files, *graded.files]


def regenerate_responses() -> Path:
    """Rewrite ``demo_responses.csv`` from the current generators' demo key."""
    with tempfile.TemporaryDirectory() as tmp:
        built = build_quiz(DEMO_ROSTER, DEMO_SEED, Path(tmp), pdf=False)
        key = json.loads(built.key_json.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    DEMO_RESPONSES.write_text(demo_responses(key), encoding="utf-8", newline="")
    return DEMO_RESPONSES


if __name__ == "__main__":
    print(f"wrote {regenerate_responses()}")
