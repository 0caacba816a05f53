"""Reading answers as students write them: ``≈ 1.000×10⁻³``, ``３，２００``, ``5 000``, ``1/10``, ``−0.5``, ``65.13%``.

Every reader either returns a value or raises :class:`Unreadable` with the
reason, which grading reports per row instead of failing.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_SUPERSCRIPT_RUN = re.compile(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+")
_MINUSES = str.maketrans({"−": "-", "–": "-", "—": "-", "‒": "-", "﹣": "-", "－": "-", "‐": "-"})  # ‐ U+2010: Word
_PREFIXES = ("≈", "~", "≃", "=", "ans:", "answer:", "答:", "答案:", "約", "大約", "約為")
# A count written with its unit: "100 steps", "100 次", "100 步", "100 個 steps".
_COUNT_UNIT = re.compile(r"(?<=\d)(?:個)?(?:steps?|次|步|個)$", re.IGNORECASE)
# A Chinese input method's full stop typed as the decimal point: 0。6513.
_IDEOGRAPHIC_POINT = re.compile(r"(?<=\d)。(?=\d)")
_NUMBER = r"[+-]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)"
_SCIENTIFIC = re.compile(
    rf"^(?P<m>{_NUMBER})?(?:(?:[x×*·]|\*\*)?10(?:\^|\*\*)(?P<open>[({{])?(?P<e1>[+-]?\d+)(?(open)[)}}])"
    rf"|[eE](?P<e2>[+-]?\d+))?$")
_FRACTION = re.compile(rf"^(?P<n>{_NUMBER})/(?P<d>{_NUMBER})$")
# A thousands-separated number never starts with 0: 0,125 is a decimal comma (0.125), not 125.
_THOUSANDS = re.compile(r"^[+-]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d*)?$")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")


# decimal's default context holds exponents up to ±999,999; beyond, scaleb raises instead of rounding.
MAX_EXPONENT = 999_999


class Unreadable(ValueError):
    """A response that cannot be read as the question's kind of answer."""


def normalize(text: str) -> str:
    """Full-width to ASCII, superscript exponents to ``^``, any minus to ``-``, no spaces."""
    text = _SUPERSCRIPT_RUN.sub(lambda m: "^" + m.group().translate(_SUPERSCRIPTS), text)
    text = unicodedata.normalize("NFKC", text).translate(_MINUSES)
    text = "".join(ch for ch in text if not ch.isspace())
    text = _IDEOGRAPHIC_POINT.sub(".", text)
    lowered = text.lower()
    for prefix in sorted(_PREFIXES, key=len, reverse=True):  # 大約 before 約
        if lowered.startswith(prefix):
            text = text[len(prefix):]
            break
    text = _COUNT_UNIT.sub("", text)
    return text.rstrip("。.") if text.count(".") > 1 or text.endswith("。") else text


def _plain_number(text: str) -> Decimal:
    if "," in text:
        if _THOUSANDS.match(text):
            text = text.replace(",", "")
        elif _DECIMAL_COMMA.match(text):
            text = text.replace(",", ".")
        else:
            raise Unreadable(f"{_shown(text)} has commas that are neither thousands separators nor a decimal comma")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise Unreadable(f"{_shown(text)} is not a number") from None
    if not value.is_finite():
        raise Unreadable(f"{_shown(text)} is not a finite number")
    return value


def parse_number(text: str) -> Decimal:
    """A numeric response as an exact decimal; a number too large for that (``1e99999999``) is unreadable.

    >>> [str(parse_number(s)) for s in ("≈ 0.6513", "1.000×10⁻³", "３，２００", "−1/10", "5 000", "2.5e-3")]
    ['0.6513', '0.001000', '3200', '-0.1', '5000', '0.0025']
    >>> [str(parse_number(s)) for s in ("65.13%", "約 0.6513", "0。6513", "1.2×10^{-3}", "100 steps", "100 次")]
    ['0.6513', '0.6513', '0.6513', '0.0012', '100', '100']
    """
    try:
        return _parse_number(text)
    except Unreadable:
        raise
    except (ArithmeticError, ValueError):  # decimal's Overflow/InvalidOperation, int()'s digit limit
        raise Unreadable(f"{_shown(text)} is too large or too small to be an answer (exponents go up to "
                         f"±{MAX_EXPONENT:,})") from None


def _shown(text: str) -> str:
    """A response as messages quote it: stripped, and cut short when it is long."""
    text = text.strip()
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _parse_number(text: str) -> Decimal:
    s = normalize(text)
    if not s:
        raise Unreadable("the response is empty")
    if s.endswith("%"):  # 65.13% is exactly 0.6513
        if "%" in s[:-1]:
            raise Unreadable(f"{_shown(text)} is not a number")
        return parse_number(s[:-1]) / 100
    fraction = _FRACTION.match(s)
    if fraction:
        denominator = _plain_number(fraction["d"])
        if denominator == 0:
            raise Unreadable(f"{_shown(text)} divides by zero")
        return _plain_number(fraction["n"]) / denominator
    m = _SCIENTIFIC.match(s)
    if not m or (m["m"] is None and m["e1"] is None) or (m["open"] and s[-1] != {"(": ")", "{": "}"}[m["open"]]):
        raise Unreadable(f"{_shown(text)} is not a number")
    mantissa = _plain_number(m["m"]) if m["m"] is not None else Decimal(1)
    exponent = m["e1"] if m["e1"] is not None else m["e2"]
    if exponent is None:
        return mantissa
    if len(exponent.lstrip("+-").lstrip("0")) > len(str(MAX_EXPONENT)) or abs(int(exponent)) > MAX_EXPONENT:
        raise ValueError(exponent)
    return mantissa.scaleb(int(exponent))


_AMBIGUOUS_COMMA = re.compile(r"^[+-]?[1-9]\d{0,2},\d{3}$")


def decimal_comma_reading(text: str) -> Decimal | None:
    """The other reading of a response like ``1,234``: read as 1234, it is 1.234 with a decimal comma.

    None when the response has no such second reading.

    >>> decimal_comma_reading("1,234"), decimal_comma_reading("1,234.5"), decimal_comma_reading("0,125")
    (Decimal('1.234'), None, None)
    """
    s = normalize(text)
    return Decimal(s.replace(",", ".")) if _AMBIGUOUS_COMMA.match(s) else None


def parse_choice(text: str, options: int) -> str:
    """A multiple-choice response as a capital letter among the first ``options`` letters.

    >>> parse_choice(" (b) ", 4), parse_choice("Ｃ", 4)
    ('B', 'C')
    """
    s = normalize(text).strip("()[]（）.。:").upper()
    letters = "ABCDEFGH"[:options]
    if len(s) != 1 or s not in letters:
        raise Unreadable(f"{_shown(text)} is not one of the letters {', '.join(letters)}")
    return s
