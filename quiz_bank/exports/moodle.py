"""Moodle XML: one category per kind, one question per variant, the quiz rule as an absolute tolerance.

Moodle's numerical tolerance is absolute (nominal) and inclusive, so the quiz rule
"within half a unit of the 4th significant figure" is written as that half unit;
counts get tolerance 0.  A one-part variant is a ``numerical`` question; a variant
with several parts (v_t and x_{t+1}) is one ``cloze`` question whose parts are
``{1:NUMERICAL:=answer:tolerance}`` fields, so a student's parts share their
numbers, as on the handout.  A quiz then adds "a random question" from each
kind's category.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from quiz_bank.exports.common import LmsPart, LmsVariant, plain

ROOT_CATEGORY = "$course$/top/optigrade"


def _cdata(html: str) -> str:
    return "<![CDATA[" + html.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _category(path: str, info: str) -> str:
    return (f'  <question type="category">\n    <category><text>{escape(path)}</text></category>\n'
            f'    <info format="html"><text>{_cdata(info)}</text></info>\n'
            f"  </question>\n")


def _head(kind: str, v: LmsVariant, text: str) -> str:
    return (f'  <question type="{kind}">\n'
            f"    <name><text>{escape(v.name)}</text></name>\n"
            f'    <questiontext format="html"><text>{_cdata(text)}</text></questiontext>\n'
            f'    <generalfeedback format="html"><text></text></generalfeedback>\n'
            f"    <penalty>0</penalty>\n    <hidden>0</hidden>\n")


def _asked(part: LmsPart, blank: str = "") -> str:
    """The asking sentence, then what to write: ``v_t = [blank] (4 significant figures)``."""
    return f"<p>{part.ask}</p><p>\\({part.asked_tex}\\){' = ' + blank if blank else ''} ({part.form})</p>"


def _numerical(v: LmsVariant) -> str:
    (part,) = v.parts
    return (
        _head("numerical", v, v.stem + _asked(part))
        + "    <defaultgrade>1</defaultgrade>\n"
        f'    <answer fraction="100" format="plain_text">\n'
        f"      <text>{plain(part.item.answer)}</text>\n"
        f"      <tolerance>{plain(part.item.tolerance)}</tolerance>\n"
        f'      <feedback format="html"><text></text></feedback>\n'
        f"    </answer>\n"
        f"    <unitgradingtype>0</unitgradingtype>\n    <unitpenalty>0</unitpenalty>\n"
        f"    <showunits>3</showunits>\n    <unitsleft>0</unitsleft>\n"
        f"  </question>\n"
    )


def cloze_field(part: LmsPart) -> str:
    """A cloze NUMERICAL field worth 1 mark: ``{1:NUMERICAL:=answer:tolerance}`` (tolerance absolute)."""
    return f"{{1:NUMERICAL:={plain(part.item.answer)}:{plain(part.item.tolerance)}}}"


def _cloze(v: LmsVariant) -> str:
    text = v.stem + "".join(_asked(part, cloze_field(part)) for part in v.parts)
    return _head("cloze", v, text) + "  </question>\n"


def _multichoice(v: LmsVariant) -> str:
    answers = "".join(
        f'    <answer fraction="{100 if i == 0 else 0}" format="html">\n'
        f"      <text>{_cdata(option)}</text>\n"
        f'      <feedback format="html"><text></text></feedback>\n'
        f"    </answer>\n"
        for i, option in enumerate(v.options)
    )
    return (
        _head("multichoice", v, v.stem)
        + "    <defaultgrade>1</defaultgrade>\n"
        f"    <single>true</single>\n    <shuffleanswers>true</shuffleanswers>\n"
        f"    <answernumbering>ABCD</answernumbering>\n"
        f"{answers}"
        f"  </question>\n"
    )


def moodle_xml(variants: list[LmsVariant], quiz_name: str, rules: str) -> str:
    """The Moodle XML of all variants; each kind is its own category under ``quiz_name``.

    ``rules`` (HTML) states the number rule; it becomes each category's description.
    """
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<quiz>\n']
    current = None
    for v in variants:
        if v.kind != current:
            current = v.kind
            parts.append(_category(f"{ROOT_CATEGORY}/{quiz_name}/{v.kind}", f"<p>{escape(v.title)}</p>{rules}"))
        if v.options:
            parts.append(_multichoice(v))
        else:
            parts.append(_numerical(v) if len(v.parts) == 1 else _cloze(v))
    parts.append("</quiz>\n")
    return "".join(parts)
