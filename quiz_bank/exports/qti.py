"""Canvas (classic quizzes) QTI 1.2 zip: one question group per kind (and part), imsmanifest.xml.

Canvas classic quizzes have no question with several numeric answers, so each part
of a multi-part kind is its own question (with the whole stem) in its own group.

Canvas's "exact answer with margin" is inclusive on both sides, like the quiz
rule, so each numerical item is written as Canvas's own exporter writes it:
``<or><varequal>a</varequal><and><vargte>a−tol</vargte><varlte>a+tol</varlte></and></or>``.
Answers below 0.1 are already asked scaled (see quiz_bank.numbers), which keeps
them clear of Canvas's reported trouble with values under 1e-4.  Each group draws
one question per student (``selection_number`` 1).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from quiz_bank.exports.common import LmsPart, LmsVariant, plain

# Fixed zip timestamps: the same build gives byte-identical output.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def ident(*parts: str) -> str:
    """A stable QTI identifier (Canvas wants them unique; content hashes make them reproducible)."""
    return "g" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def _meta(fields: dict[str, str]) -> str:
    rows = "".join(f"<qtimetadatafield><fieldlabel>{k}</fieldlabel><fieldentry>{v}</fieldentry>"
                   f"</qtimetadatafield>" for k, v in fields.items())
    return f"<itemmetadata><qtimetadata>{rows}</qtimetadata></itemmetadata>"


def _material(html: str) -> str:
    return f'<material><mattext texttype="text/html">{escape(html)}</mattext></material>'


@dataclass(frozen=True)
class _Question:
    pool: str  # the question group: kind, or kind/part
    name: str
    text: str
    part: LmsPart | None
    options: tuple[str, ...]


def _questions(variants: list[LmsVariant]) -> list[_Question]:
    out: list[_Question] = []
    for v in variants:
        if v.options:
            out.append(_Question(v.kind, v.name, v.stem, None, v.options))
        for part in v.parts:
            pool = f"{v.kind}/{part.part}" if len(v.parts) > 1 else v.kind
            text = f"{v.stem}<p>{part.ask}</p><p>\\({part.asked_tex}\\) ({part.form})</p>"
            out.append(_Question(pool, f"{pool} #{v.number:03d}", text, part, ()))
    return out


OUTCOMES = ('<outcomes><decvar maxvalue="100" minvalue="0" varname="SCORE" vartype="Decimal"/></outcomes>')


def _numerical_item(q: _Question, item_id: str) -> str:
    assert q.part is not None
    answer, tol = q.part.item.answer, q.part.item.tolerance
    condition = (f'<or><varequal respident="response1">{plain(answer)}</varequal>'
                 f'<and><vargte respident="response1">{plain(answer - tol)}</vargte>'
                 f'<varlte respident="response1">{plain(answer + tol)}</varlte></and></or>')
    return (
        f"<item ident={quoteattr(item_id)} title={quoteattr(q.name)}>"
        + _meta({"question_type": "numerical_question", "points_possible": "1.0"})
        + "<presentation>" + _material(q.text)
        + '<response_str ident="response1" rcardinality="Single"><render_fib fibtype="Decimal">'
          '<response_label ident="answer1"/></render_fib></response_str></presentation>'
        + "<resprocessing>" + OUTCOMES
        + f'<respcondition continue="No"><conditionvar>{condition}</conditionvar>'
          '<setvar action="Set" varname="SCORE">100</setvar></respcondition></resprocessing></item>'
    )


def _choice_item(q: _Question, item_id: str) -> str:
    answer_ids = [f"{item_id}_{i}" for i in range(len(q.options))]
    labels = "".join(f"<response_label ident={quoteattr(a)}>{_material(text)}</response_label>"
                     for a, text in zip(answer_ids, q.options, strict=True))
    return (
        f"<item ident={quoteattr(item_id)} title={quoteattr(q.name)}>"
        + _meta({"question_type": "multiple_choice_question", "points_possible": "1.0",
                 "original_answer_ids": ",".join(answer_ids)})
        + "<presentation>" + _material(q.text)
        + f'<response_lid ident="response1" rcardinality="Single"><render_choice>{labels}'
          "</render_choice></response_lid></presentation>"
        + "<resprocessing>" + OUTCOMES
        + f'<respcondition continue="No"><conditionvar><varequal respident="response1">{answer_ids[0]}'
          '</varequal></conditionvar><setvar action="Set" varname="SCORE">100</setvar></respcondition>'
          "</resprocessing></item>"
    )


def assessment_xml(variants: list[LmsVariant], title: str, assessment_id: str) -> str:
    """The QTI assessment: one section (question group) per pool, drawing one item."""
    pools: dict[str, list[_Question]] = {}
    for q in _questions(variants):
        pools.setdefault(q.pool, []).append(q)
    sections = []
    for pool, members in pools.items():
        items = "".join(
            (_numerical_item if q.part is not None else _choice_item)(q, ident(assessment_id, q.name))
            for q in members)
        sections.append(
            f"<section ident={quoteattr(ident(assessment_id, pool))} title={quoteattr(pool)}>"
            "<selection_ordering><selection><selection_number>1</selection_number>"
            "<selection_extension><points_per_item>1.0</points_per_item></selection_extension>"
            f"</selection></selection_ordering>{items}</section>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<questestinterop xmlns="http://www.imsglobal.org/xsd/ims_qtiasiv1p2" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://www.imsglobal.org/xsd/ims_qtiasiv1p2 '
        'http://www.imsglobal.org/xsd/ims_qtiasiv1p2p1.xsd">\n'
        f"<assessment ident={quoteattr(assessment_id)} title={quoteattr(title)}>"
        + _meta({"cc_maxattempts": "1"})
        + f'<section ident="root_section">{"".join(sections)}</section></assessment>\n'
        "</questestinterop>\n"
    )


def assessment_meta(title: str, assessment_id: str, points: int, description: str) -> str:
    """Canvas's quiz settings: the number rule as description, shuffled answers, one attempt, unpublished."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<quiz identifier="{assessment_id}" xmlns="http://canvas.instructure.com/xsd/cccv1p0">'
        f"<title>{escape(title)}</title><description>{escape(description)}</description>"
        "<shuffle_answers>true</shuffle_answers>"
        "<quiz_type>assignment</quiz_type>"
        f"<points_possible>{points:.1f}</points_possible><allowed_attempts>1</allowed_attempts>"
        "<show_correct_answers>false</show_correct_answers><available>false</available>"
        "</quiz>\n"
    )


def manifest(assessment_id: str) -> str:
    meta_id = f"{assessment_id}_meta"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<manifest identifier="{assessment_id}_manifest" '
        'xmlns="http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1">'
        "<metadata><schema>IMS Content</schema><schemaversion>1.1.3</schemaversion></metadata>"
        "<organizations/><resources>"
        f'<resource identifier="{assessment_id}" type="imsqti_xmlv1p2">'
        f'<file href="{assessment_id}/{assessment_id}.xml"/>'
        f'<dependency identifierref="{meta_id}"/></resource>'
        f'<resource identifier="{meta_id}" '
        f'type="associatedcontent/imscc_xmlv1p1/learning-application-resource" '
        f'href="{assessment_id}/assessment_meta.xml"><file href="{assessment_id}/assessment_meta.xml"/>'
        "</resource></resources></manifest>\n"
    )


def qti_zip(variants: list[LmsVariant], title: str, seed: int, rules: str) -> bytes:
    """The Canvas import zip: imsmanifest.xml, the assessment and its Canvas settings.

    ``rules`` (HTML) states the number rule; it becomes the quiz description students see.
    """
    assessment_id = ident("optigrade", title, str(seed))
    pools = len({q.pool for q in _questions(variants)})
    files = {
        "imsmanifest.xml": manifest(assessment_id),
        f"{assessment_id}/{assessment_id}.xml": assessment_xml(variants, title, assessment_id),
        f"{assessment_id}/assessment_meta.xml": assessment_meta(title, assessment_id, pools, rules),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            info = zipfile.ZipInfo(name, ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, text.encode("utf-8"))
    return out.getvalue()
