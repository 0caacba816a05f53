"""What the LMS exports share: one entry per distinct variant of a kind, text with TeX math kept.

An LMS gives each student a random question from a pool, so the exports hold
every student's variant, grouped per kind, duplicates removed.  How a variant
with several parts becomes questions is each target's business (Moodle: one
cloze question; Canvas: one question per part).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup

from quiz_bank import numbers
from quiz_bank.kinds import ChoiceItem, ConceptKind, Kind, NumericItem, Variant
from quiz_bank.render import RenderedQuestion, answer_form


@dataclass(frozen=True)
class LmsPart:
    """One numeric part: the sentence asking for it and its answer."""

    part: str  # the part id (v_t, x_next, …)
    ask: str  # HTML, math as \( … \)
    asked_tex: str  # what the student writes down, e.g. v_{1} \times 10^{3}
    form: str  # "4 significant figures" / "exact integer", in the handout language
    item: NumericItem


@dataclass(frozen=True)
class LmsVariant:
    """One distinct variant of a kind: its stem, and its numeric parts or its options."""

    kind: str
    title: str
    number: int  # 1, 2, … within its kind, in first-seen order
    stem: str  # HTML, math as \( … \) for the LMS's MathJax
    parts: tuple[LmsPart, ...]
    options: tuple[str, ...]  # multiple choice: HTML of each option, the correct one first

    @property
    def name(self) -> str:
        return f"{self.kind} #{self.number:03d}"


def _option_order(kind: Kind, item: ChoiceItem, rendered: RenderedQuestion) -> tuple[str, ...]:
    """Options in canonical order (the lecture's answer first); the LMS shuffles them itself."""
    assert isinstance(kind, ConceptKind)
    by_key = {key: str(text) for key, (_, text) in zip(item.options, rendered.options, strict=True)}
    return tuple(by_key[key] for key in kind.options)


def collect(lang: str, entries: list[tuple[Kind, Variant, RenderedQuestion]]) -> list[LmsVariant]:
    """The distinct variants of a class, kinds in handout order, variants in first-seen order."""
    seen: set[str] = set()
    per_kind: dict[str, list[LmsVariant]] = {}
    for kind, variant, rendered in entries:
        signature = json.dumps([kind.id, variant.params], sort_keys=True)
        if signature in seen:
            continue
        seen.add(signature)
        members = per_kind.setdefault(kind.id, [])
        stem = f"<div>{rendered.stem}</div>"
        parts: list[LmsPart] = []
        options: tuple[str, ...] = ()
        for item, part in zip(variant.items, rendered.parts, strict=True):
            if isinstance(item, ChoiceItem):
                options = _option_order(kind, item, rendered)
            else:
                form = str(Markup.escape(answer_form(lang, item.integer)))
                parts.append(LmsPart(item.part, str(part.ask), part.asked_tex, form, item))
        members.append(LmsVariant(kind.id, kind.title, len(members) + 1, stem, tuple(parts), options))
    return [v for members in per_kind.values() for v in members]


def plain(x: Decimal) -> str:
    """Numbers in the exports: plain decimals (no exponent, which some importers misread)."""
    return numbers.plain(x)
