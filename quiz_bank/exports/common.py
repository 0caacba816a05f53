"""What the LMS exports share: one question per distinct variant and part, text with TeX math kept.

An LMS gives each student a random question from a pool, so the exports hold
every student's variant, grouped per kind (and per part for multi-part kinds,
so the parts of a pool stay interchangeable), duplicates removed.
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
class LmsQuestion:
    pool: str  # kind, or kind/part: one LMS category / question group
    title: str
    name: str
    text: str  # HTML, math as \( … \) for the LMS's MathJax
    numeric: NumericItem | None
    options: tuple[str, ...]  # multiple choice: HTML of each option, the correct one first
    integer: bool = False

    @property
    def answer(self) -> Decimal:
        assert self.numeric is not None
        return self.numeric.answer

    @property
    def tolerance(self) -> Decimal:
        assert self.numeric is not None
        return self.numeric.tolerance


def _option_order(kind: Kind, item: ChoiceItem, rendered: RenderedQuestion) -> tuple[str, ...]:
    """Options in canonical order (the lecture's answer first); the LMS shuffles them itself."""
    assert isinstance(kind, ConceptKind)
    by_key = {key: str(text) for key, (_, text) in zip(item.options, rendered.options, strict=True)}
    return tuple(by_key[key] for key in kind.options)


def collect(lang: str, entries: list[tuple[Kind, Variant, RenderedQuestion]]) -> list[LmsQuestion]:
    """The distinct LMS questions of a class, pools in handout order, variants in first-seen order."""
    seen: set[str] = set()
    pools: dict[str, list[LmsQuestion]] = {}
    for kind, variant, rendered in entries:
        signature = json.dumps([kind.id, variant.params], sort_keys=True)
        if signature in seen:
            continue
        seen.add(signature)
        stem = f"<div>{rendered.stem}</div>"
        multi = len(variant.items) > 1
        for item, part in zip(variant.items, rendered.parts, strict=True):
            pool = f"{kind.id}/{item.part}" if multi else kind.id
            members = pools.setdefault(pool, [])
            name = f"{pool} #{len(members) + 1:03d}"
            if isinstance(item, ChoiceItem):
                members.append(LmsQuestion(pool, kind.title, name, stem, None,
                                           _option_order(kind, item, rendered)))
                continue
            form = answer_form(lang, item.integer)
            text = f"{stem}<p>{part.ask}</p><p>\\({part.asked_tex}\\) ({Markup.escape(form)})</p>"
            members.append(LmsQuestion(pool, kind.title, name, text, item, (), item.integer))
    return [q for members in pools.values() for q in members]


def plain(x: Decimal) -> str:
    """Numbers in the exports: plain decimals (no exponent, which some importers misread)."""
    return numbers.plain(x)
