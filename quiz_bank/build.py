"""``optigrade quiz build``: every student's handout, the answer key, and the LMS exports.

Everything is a function of (roster, seed, language, kinds): each student's
numbers come from sha256(seed, student id, kind), nothing depends on the clock
or on dict/set hashing, so the same command writes byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quiz_bank import i18n, numbers
from quiz_bank.browser import find_chromium, font_warning, print_pdfs
from quiz_bank.errors import QuizError
from quiz_bank.exports.common import collect
from quiz_bank.exports.moodle import moodle_xml
from quiz_bank.exports.qti import qti_zip
from quiz_bank.kinds import ChoiceItem, Kind, Variant, select, student_rng
from quiz_bank.render import RenderedQuestion, Sheet, handout_html, key_html, render_question, rules
from quiz_bank.roster import Student, read_roster

QUIZ_NAME = "optimizers-quiz"
HANDOUT_DIR = "handouts"


@dataclass
class BuildResult:
    """What a build wrote, by role."""

    out_dir: Path
    handouts: list[Path] = field(default_factory=list)
    pdfs: list[Path] = field(default_factory=list)
    key_json: Path | None = None
    key_html: Path | None = None
    moodle: Path | None = None
    qti: Path | None = None
    pdf_note: str = ""

    @property
    def files(self) -> list[Path]:
        extra = [p for p in (self.key_json, self.key_html, self.moodle, self.qti) if p is not None]
        return [*self.handouts, *self.pdfs, *extra]


def variant_code(seed: int, student_id: str) -> str:
    """A short code printed on the handout, so a sheet can be matched to its key entry by eye."""
    return hashlib.sha256(f"{seed}\x1f{student_id}".encode()).hexdigest()[:8]


Entry = tuple[Kind, Variant, RenderedQuestion]


def key_entries(student: Student, sheet: list[Entry]) -> list[dict[str, Any]]:
    """The answer-key rows of one student: one per gradable item, answers unrounded."""
    rows: list[dict[str, Any]] = []
    for kind, variant, rendered in sheet:
        for item, part in zip(variant.items, rendered.parts, strict=True):
            row: dict[str, Any] = {"student": student.id, "question": part.item_id, "template": kind.id,
                                   "part": item.part, "params": variant.params}
            if isinstance(item, ChoiceItem):
                row.update(answer=item.letter, tolerance=None, type="choice", options=list(item.options),
                           display=item.letter)
            else:
                answer: int | float = int(item.answer) if item.integer else float(item.answer)
                row.update(answer=answer, tolerance=float(item.tolerance), type="integer" if item.integer
                           else "numeric", scale_exp=item.scale_exp, sig_figs=None if item.integer
                           else numbers.SIG_FIGS, display=item.display)
            rows.append(row)
    return rows


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8", newline="\n")
    return path


def build_quiz(roster: Path | list[Student], seed: int, out_dir: Path, lang: str = i18n.DEFAULT_LANGUAGE,
               kinds: list[str] | None = None, pdf: bool | None = None) -> BuildResult:
    """Build the quiz for a class.

    Args:
        roster: the roster CSV (``student_id,name``) or the students themselves.
        seed: the quiz's seed; another seed gives other numbers.
        out_dir: where to write (created if missing).
        lang: handout language, ``zh-TW`` (the lecture's) or ``en``.
        kinds: kind ids to ask, in order; all kinds when None or empty.
        pdf: also print PDFs with headless Chromium: None = when Chromium is installed,
            True = required, False = never.
    """
    lang = i18n.check_language(lang)
    students = read_roster(roster) if isinstance(roster, Path) else roster
    chosen = select(kinds)
    chromium = find_chromium() if pdf is not False else None
    if pdf is True and chromium is None:
        raise QuizError("--pdf: no Chromium found (looked for chromium, chromium-browser, google-chrome). "
                        "Fix: install it (apt-get install chromium) or set OPTIGRADE_CHROMIUM to its path.")
    out_dir.mkdir(parents=True, exist_ok=True)
    handout_dir = out_dir / HANDOUT_DIR
    handout_dir.mkdir(exist_ok=True)
    result = BuildResult(out_dir)

    rendered_cache: dict[str, RenderedQuestion] = {}
    sheets: list[Sheet] = []
    all_entries: list[tuple[Kind, Variant, RenderedQuestion]] = []
    key: list[dict[str, Any]] = []
    for student in students:
        sheet: list[tuple[Kind, Variant, RenderedQuestion]] = []
        for number, kind in enumerate(chosen, start=1):
            variant = kind.variant(student_rng(seed, student.id, kind.id))
            # Many students share a multiple-choice order or a parameter set: render each once.
            signature = json.dumps([number, kind.id, variant.params], sort_keys=True)
            if signature not in rendered_cache:
                rendered_cache[signature] = render_question(lang, number, kind, variant)
            sheet.append((kind, variant, rendered_cache[signature]))
        questions = [rendered for _, _, rendered in sheet]
        path = handout_dir / f"handout_{student.id}.html"
        result.handouts.append(_write(path, handout_html(lang, student, questions,
                                                         variant_code(seed, student.id))))
        sheets.append(Sheet(student, questions))
        all_entries += sheet
        key += key_entries(student, sheet)

    keep = {p.name for p in result.handouts}
    for stale in handout_dir.glob("handout_*.*"):  # a previous build's students must not linger
        if stale.with_suffix(".html").name not in keep:
            stale.unlink()

    key_text = json.dumps(key, ensure_ascii=False, indent=1) + "\n"
    result.key_json = _write(out_dir / "answer_key.json", key_text)
    result.key_html = _write(out_dir / "answer_key.html", key_html(lang, seed, sheets))
    lms = collect(lang, all_entries)
    stated = str(rules(lang))
    result.moodle = _write(out_dir / "moodle.xml", moodle_xml(lms, f"{QUIZ_NAME}-seed{seed}", stated))
    result.qti = out_dir / "canvas_qti.zip"
    result.qti.write_bytes(qti_zip(lms, f"Optimizers quiz (seed {seed})", seed, stated))

    if chromium is not None:
        result.pdfs = print_pdfs(chromium, [*result.handouts, result.key_html])
        result.pdf_note = font_warning(lang)
    else:
        result.pdf_note = ("PDFs skipped: " + ("--no-pdf given." if pdf is False else
                           "no Chromium found (apt-get install chromium, or set OPTIGRADE_CHROMIUM)."))
    return result
