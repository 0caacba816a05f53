"""Rendering: Jinja2 templates (``<< >>``/``<% %>`` delimiters, StrictUndefined, i18n) to HTML and TeX.

Question text is rendered once per variant with TeX math kept (``\\( … \\)``); the
LMS exports use it as is, the handouts convert it to MathML so they need no
script and no network.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from quiz_bank import i18n, numbers
from quiz_bank.kinds import ChoiceItem, Kind, NumericItem, Variant
from quiz_bank.kinds.concepts import ConceptKind
from quiz_bank.mathml import render_math
from quiz_bank.roster import Student

TEMPLATES = Path(__file__).resolve().parent / "templates"
HTML_LANG = {"zh-TW": "zh-Hant-TW", "en": "en"}


@cache
def environment(lang: str) -> Environment:
    """The template environment of one handout language."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        block_start_string="<%", block_end_string="%>",
        variable_start_string="<<", variable_end_string=">>",
        comment_start_string="<#", comment_end_string="#>",
        trim_blocks=True, lstrip_blocks=True,
        undefined=StrictUndefined, autoescape=True, extensions=["jinja2.ext.i18n"],
    )
    env.policies["ext.i18n.trimmed"] = True  # one-line msgids whatever the template's line breaks
    # Between two translated sentences: English needs a space, Chinese (。) none.
    env.globals["sep"] = "" if lang == "zh-TW" else " "
    env.filters["minus"] = lambda text: str(text).replace("-", "\u2212")  # the key's −0.4500, not -0.4500
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


@cache
def css() -> str:
    return (TEMPLATES / "handout.css").read_text(encoding="utf-8")


@dataclass(frozen=True)
class RenderedPart:
    item_id: str  # what the student writes next to the answer: Q3, Q5a, …
    ask: Markup
    asked_tex: str  # empty for multiple choice
    integer: bool
    display: str  # the key's answer as shown: 4 significant figures, an integer, or a letter
    accepted: str  # the accepted range as shown on the key


@dataclass(frozen=True)
class RenderedQuestion:
    number: int
    kind: str
    stem: Markup
    parts: tuple[RenderedPart, ...]
    options: tuple[tuple[str, Markup], ...]


def accepted(item: NumericItem) -> str:
    """The accepted range as the key shows it: centred on the exact answer, as grading and the LMSs do.

    "0.6414 ± 0.00005" would suggest 0.64135 passes, but the exact answer is 0.6414094 and grading
    rejects it; the centre is written to 3 more figures than asked (off by < 0.1 % of the tolerance).
    """
    if item.integer:
        return item.display
    centre = numbers.round_sig(item.answer, numbers.SIG_FIGS + 3).normalize()
    shown = item.display if centre == numbers.round_sig(item.answer) else numbers.plain(centre)
    return f"{shown} ± {numbers.plain(item.tolerance)}"


def _macro(env: Environment, kind: Kind, name: str) -> Any:
    return getattr(env.get_template(kind.template).module, name)


def render_question(lang: str, number: int, kind: Kind, variant: Variant) -> RenderedQuestion:
    """One question's text (HTML with TeX math) in a handout language."""
    env = environment(lang)
    shown = kind.display(variant.params)
    stem = Markup(_macro(env, kind, "stem")(shown)).strip()
    parts: list[RenderedPart] = []
    options: list[tuple[str, Markup]] = []
    single = len(variant.items) == 1
    for index, item in enumerate(variant.items):
        item_id = f"Q{number}" if single else f"Q{number}{string.ascii_lowercase[index]}"
        if isinstance(item, ChoiceItem):
            assert isinstance(kind, ConceptKind)
            option = _macro(env, kind, "option")
            options = [(string.ascii_uppercase[i], Markup(option(key)).strip())
                       for i, key in enumerate(item.options)]
            parts.append(RenderedPart(item_id, Markup(""), "", False, item.letter, item.letter))
        else:
            ask = Markup(_macro(env, kind, "ask")(item.part, shown)).strip()
            parts.append(RenderedPart(item_id, ask, item.asked_tex, item.integer, item.display,
                                      accepted(item)))
    return RenderedQuestion(number, kind.id, stem, tuple(parts), tuple(options))


def answer_form(lang: str, integer: bool) -> str:
    """The answer form in words ("4 significant figures" / "exact integer") for the LMS texts."""
    return str(environment(lang).get_template("_macros.j2").module.form(integer)).strip()  # type: ignore[attr-defined]


def rules(lang: str) -> Markup:
    return Markup(environment(lang).get_template("_macros.j2").module.rules()).strip()  # type: ignore[attr-defined]


def handout_html(lang: str, student: Student, questions: list[RenderedQuestion], variant_code: str) -> str:
    """A student's print-ready handout, math as MathML."""
    page = environment(lang).get_template("handout.html.j2").render(
        html_lang=HTML_LANG[lang], css=css(), student=student, questions=questions, variant_code=variant_code)
    return render_math(page)


@dataclass(frozen=True)
class Sheet:
    student: Student
    questions: list[RenderedQuestion]


def key_html(lang: str, seed: int, sheets: list[Sheet]) -> str:
    """The instructor's answer-key handout for the whole class."""
    page = environment(lang).get_template("key.html.j2").render(
        html_lang=HTML_LANG[lang], css=css(), seed=seed, sheets=sheets)
    return render_math(page)
