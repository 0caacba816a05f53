"""Moodle XML: numerical questions with an absolute tolerance, one category per kind (and part).

Moodle's numerical tolerance is absolute (nominal) and inclusive, so the quiz rule
"within half a unit of the 4th significant figure" is written as that half unit;
counts get tolerance 0.  A quiz then draws "a random question from category".
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from quiz_bank.exports.common import LmsQuestion, plain

ROOT_CATEGORY = "$course$/top/optigrade"


def _cdata(html: str) -> str:
    return "<![CDATA[" + html.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _category(path: str, info: str) -> str:
    return (f'  <question type="category">\n    <category><text>{escape(path)}</text></category>\n'
            f'    <info format="html"><text>{_cdata(info)}</text></info>\n'
            f"  </question>\n")


def _numerical(q: LmsQuestion) -> str:
    return (
        f'  <question type="numerical">\n'
        f"    <name><text>{escape(q.name)}</text></name>\n"
        f'    <questiontext format="html"><text>{_cdata(q.text)}</text></questiontext>\n'
        f'    <generalfeedback format="html"><text></text></generalfeedback>\n'
        f"    <defaultgrade>1</defaultgrade>\n    <penalty>0</penalty>\n    <hidden>0</hidden>\n"
        f'    <answer fraction="100" format="plain_text">\n'
        f"      <text>{plain(q.answer)}</text>\n"
        f"      <tolerance>{plain(q.tolerance)}</tolerance>\n"
        f'      <feedback format="html"><text></text></feedback>\n'
        f"    </answer>\n"
        f"    <unitgradingtype>0</unitgradingtype>\n    <unitpenalty>0</unitpenalty>\n"
        f"    <showunits>3</showunits>\n    <unitsleft>0</unitsleft>\n"
        f"  </question>\n"
    )


def _multichoice(q: LmsQuestion) -> str:
    answers = "".join(
        f'    <answer fraction="{100 if i == 0 else 0}" format="html">\n'
        f"      <text>{_cdata(option)}</text>\n"
        f'      <feedback format="html"><text></text></feedback>\n'
        f"    </answer>\n"
        for i, option in enumerate(q.options)
    )
    return (
        f'  <question type="multichoice">\n'
        f"    <name><text>{escape(q.name)}</text></name>\n"
        f'    <questiontext format="html"><text>{_cdata(q.text)}</text></questiontext>\n'
        f'    <generalfeedback format="html"><text></text></generalfeedback>\n'
        f"    <defaultgrade>1</defaultgrade>\n    <penalty>0</penalty>\n    <hidden>0</hidden>\n"
        f"    <single>true</single>\n    <shuffleanswers>true</shuffleanswers>\n"
        f"    <answernumbering>ABCD</answernumbering>\n"
        f"{answers}"
        f"  </question>\n"
    )


def moodle_xml(questions: list[LmsQuestion], quiz_name: str, rules: str) -> str:
    """The Moodle XML of all pools; each pool is its own category under ``quiz_name``.

    ``rules`` (HTML) states the number rule; it becomes each category's description.
    """
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<quiz>\n']
    current = None
    for q in questions:
        if q.pool != current:
            current = q.pool
            parts.append(_category(f"{ROOT_CATEGORY}/{quiz_name}/{q.pool}", f"<p>{escape(q.title)}</p>{rules}"))
        parts.append(_numerical(q) if q.numeric is not None else _multichoice(q))
    parts.append("</quiz>\n")
    return "".join(parts)
