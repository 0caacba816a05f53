"""Moodle XML and Canvas QTI: they parse, pool per kind, and carry the quiz rule in each target's form.

quizgen.md §2: Moodle numerical accepts a − tol ≤ x ≤ a + tol (absolute, inclusive);
Canvas exact+margin accepts x == exact or exact − margin ≤ x ≤ exact + margin.  Both
must equal the key's rule: tol = half a unit of the answer's 4th significant figure.
"""

import json
import re
import xml.etree.ElementTree as ET
import zipfile
from decimal import Decimal

import pytest

from quiz_bank.build import BuildResult
from quiz_bank.kinds import KINDS, ConceptKind

QTI = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"
MANIFEST = "{http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1}"


def _half_unit(answer: Decimal, integer: bool) -> Decimal:
    return Decimal(0) if integer else Decimal(5) * Decimal(10) ** (answer.adjusted() - 4)


def _key_answers(built: BuildResult) -> dict[str, set[Decimal]]:
    """Every numeric answer of the key, per pool (kind or kind/part)."""
    key = json.loads(built.key_json.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    parts = {(e["template"]): set() for e in key}  # type: ignore[var-annotated]
    for e in key:
        parts.setdefault(e["template"], set()).add(e["part"])
    pools: dict[str, set[Decimal]] = {}
    for e in key:
        if e["type"] != "choice":
            pool = e["template"] if len(parts[e["template"]]) == 1 else f"{e['template']}/{e['part']}"
            pools.setdefault(pool, set()).add(Decimal(repr(e["answer"])))
    return pools


CLOZE_NUMERICAL = re.compile(r"\{1:NUMERICAL:=(?P<a>-?[\d.]+):(?P<tol>[\d.]+)\}")


def test_moodle_xml(built: BuildResult) -> None:
    root = ET.parse(built.moodle).getroot()  # type: ignore[arg-type]
    assert root.tag == "quiz"
    pools: dict[str, set[Decimal]] = {}
    categories: list[str] = []
    choice_pools = set()
    key = json.loads(built.key_json.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    parts = {k: [e["part"] for e in key if e["template"] == k and e["student"] == key[0]["student"]]
             for k in KINDS}
    for q in root.findall("question"):
        kind = q.get("type")
        if kind == "category":
            path = q.findtext("category/text") or ""
            assert path.startswith("$course$/top/optigrade/")
            categories.append(path.split("/", 4)[4])
            assert "4 位有效數字" in (q.findtext("info/text") or "")  # the number rule, stated
            continue
        assert categories, "every question sits in a category"
        pool = categories[-1]
        text = q.findtext("questiontext/text") or ""
        assert "<math" not in text  # TeX stays TeX for Moodle's MathJax filter
        integer = pool in ("steps_per_epoch", "total_steps")
        if kind == "numerical":
            assert "\\(" in text
            assert len(parts[pool]) == 1
            (answer,) = q.findall("answer")
            assert answer.get("fraction") == "100"
            a, tol = Decimal(answer.findtext("text") or ""), Decimal(answer.findtext("tolerance") or "")
            assert tol == _half_unit(a, integer), (pool, a, tol)
            pools.setdefault(pool, set()).add(a)
        elif kind == "cloze":  # one question per variant: its parts share their numbers
            fields = CLOZE_NUMERICAL.findall(text)
            assert len(fields) == len(parts[pool]) > 1, (pool, text)
            for part, (a, tol) in zip(parts[pool], fields, strict=True):
                assert Decimal(tol) == _half_unit(Decimal(a), integer), (pool, a, tol)
                pools.setdefault(f"{pool}/{part}", set()).add(Decimal(a))
        else:
            assert kind == "multichoice"
            assert q.findtext("shuffleanswers") == "true"
            assert q.findtext("single") == "true"
            fractions = [float(a.get("fraction") or "nan") for a in q.findall("answer")]
            assert sorted(fractions) == [0, 0, 0, 100]  # one right answer, fractions sum to 100 %
            choice_pools.add(pool)
    assert sorted(categories) == sorted(KINDS)  # exactly one category per kind
    assert pools == _key_answers(built)  # every student's variant is in its kind's pool, nothing else
    assert choice_pools == {k.id for k in KINDS.values() if isinstance(k, ConceptKind)}


def test_moodle_cloze_variants_are_whole(built: BuildResult) -> None:
    """Each cloze question holds the answers of one student's variant, all its parts together."""
    key = json.loads(built.key_json.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    texts = [q.findtext("questiontext/text") or "" for q in ET.parse(built.moodle).getroot()  # type: ignore[arg-type]
             if q.get("type") == "cloze"]
    variants = {tuple(Decimal(a) for a, _ in CLOZE_NUMERICAL.findall(t)) for t in texts}
    for student in {e["student"] for e in key}:
        for kind in ("momentum_update", "adam_first_step"):
            answers = tuple(Decimal(repr(e["answer"])) for e in key if e["student"] == student and
                            e["template"] == kind)
            assert answers in variants, (student, kind)


def test_canvas_qti_zip(built: BuildResult) -> None:
    with zipfile.ZipFile(built.qti) as zf:  # type: ignore[arg-type]
        names = set(zf.namelist())
        manifest = ET.fromstring(zf.read("imsmanifest.xml"))
        hrefs = {f.get("href") for f in manifest.iter(f"{MANIFEST}file")}
        assert hrefs <= names
        (resource,) = [r for r in manifest.iter(f"{MANIFEST}resource") if r.get("type") == "imsqti_xmlv1p2"]
        assessment = ET.fromstring(zf.read(resource.find(f"{MANIFEST}file").get("href")))  # type: ignore[union-attr,arg-type]
        meta = ET.fromstring(zf.read(next(n for n in names if n.endswith("assessment_meta.xml"))))
    description = meta.findtext("{http://canvas.instructure.com/xsd/cccv1p0}description") or ""
    assert "4 位有效數字" in description
    sections = [s for s in assessment.iter(f"{QTI}section") if s.get("ident") != "root_section"]
    pools: dict[str, set[Decimal]] = {}
    for section in sections:
        assert section.findtext(f"{QTI}selection_ordering/{QTI}selection/{QTI}selection_number") == "1"
        pool = section.get("title") or ""
        for item in section.findall(f"{QTI}item"):
            fields = {f.findtext(f"{QTI}fieldlabel"): f.findtext(f"{QTI}fieldentry")
                      for f in item.iter(f"{QTI}qtimetadatafield")}
            condition = item.find(f"{QTI}resprocessing/{QTI}respcondition/{QTI}conditionvar")
            assert condition is not None
            if fields["question_type"] == "numerical_question":
                exact = Decimal(condition.findtext(f"{QTI}or/{QTI}varequal") or "")
                low = Decimal(condition.findtext(f"{QTI}or/{QTI}and/{QTI}vargte") or "")
                high = Decimal(condition.findtext(f"{QTI}or/{QTI}and/{QTI}varlte") or "")
                integer = pool.split("/")[0] in ("steps_per_epoch", "total_steps")
                margin = _half_unit(exact, integer)
                assert (low, high) == (exact - margin, exact + margin), (pool, exact, low, high)
                assert abs(exact) >= Decimal("0.1")  # Canvas zeroes answers below 1e-4: none are
                pools.setdefault(pool, set()).add(exact)
            else:
                assert fields["question_type"] == "multiple_choice_question"
                correct = condition.findtext(f"{QTI}varequal")
                assert correct == fields["original_answer_ids"].split(",")[0]  # type: ignore[union-attr]
    assert pools == _key_answers(built)


def test_moodle_and_qti_escape_cdata_and_markup(built: BuildResult) -> None:
    text = built.moodle.read_text(encoding="utf-8")  # type: ignore[union-attr]
    assert "<![CDATA[" in text
    with zipfile.ZipFile(built.qti) as zf:  # type: ignore[arg-type]
        infos = zf.infolist()
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)  # reproducible zip


@pytest.mark.parametrize("text", ["a ]]> b"])
def test_cdata_terminator_is_split(text: str) -> None:
    from quiz_bank.exports.moodle import _cdata

    wrapped = f"<t>{_cdata(text)}</t>"
    assert ET.fromstring(wrapped).text == text


def _significant_digits(text: str) -> int:
    return len(Decimal(text).normalize().as_tuple().digits)


def test_no_float_noise_in_the_key_or_the_exports(built: BuildResult) -> None:
    """Students see the LMS's "correct answer" after the quiz: 97.5, never 97.50000000000003."""
    key = json.loads(built.key_json.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    assert all(_significant_digits(repr(e["answer"])) <= 13 for e in key if e["type"] == "numeric")
    moodle = built.moodle.read_text(encoding="utf-8")  # type: ignore[union-attr]
    answers = [*re.findall(r"<text>(-?\d[\d.]*)</text>", moodle), *(a for a, _ in CLOZE_NUMERICAL.findall(moodle))]
    with zipfile.ZipFile(built.qti) as zf:  # type: ignore[arg-type]
        qti = "".join(zf.read(n).decode("utf-8") for n in zf.namelist())
    answers += re.findall(r'<varequal respident="response1">(-?\d[\d.]*)</varequal>', qti)
    assert len(answers) > 20
    assert all(_significant_digits(a) <= 13 for a in answers), max(answers, key=_significant_digits)
