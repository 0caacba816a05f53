"""The one number rule of the quiz: 4 significant figures, half away from zero.

The same rule is used on the handout (what the key shows), in grading (what is
accepted) and in every export (translated into that target's tolerance form):

* Counts (steps) are integers and must be exact: tolerance 0.
* Every other answer is accepted when it lies within half a unit of the 4th
  significant figure of the exact answer, bounds included.  Every correct
  rounding of the exact answer to 4 significant figures lies inside, and
  nothing that rounds differently by more than that does.
* A value below 0.1 in magnitude is asked scaled by 10³ or 10⁶ (``scale_exp``)
  so that 4 significant figures never need more than 4 decimals: Canvas is
  reported to zero answers below 1e-4 and to round input to 4 decimals.

All arithmetic is done in :class:`decimal.Decimal` built from a float's
shortest repr, so ``1 - 0.999`` shows as 0.001 and ``round`` never does
banker's rounding.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, Inexact, localcontext

SIG_FIGS = 4
# Float arithmetic leaves noise in the 16th-17th digit (1 - 0.999 = 0.0010000000000000009); answers are
# stored to this many significant figures, far beyond the 4 asked and far below any tolerance.
NOISE_FIGS = 13
# Below this magnitude a value is asked in a scaled form (see the module docstring).
SCALE_BELOW = Decimal("0.1")


def to_decimal(x: float | int | Decimal) -> Decimal:
    """The exact decimal a number stands for: a float's shortest repr, not its binary expansion."""
    if isinstance(x, Decimal):
        return x
    if isinstance(x, bool):
        raise TypeError(f"to_decimal: got the bool {x!r}; expected a number.")
    if isinstance(x, int):
        return Decimal(x)
    return Decimal(repr(float(x)))


def round_sig(x: Decimal, sig: int = SIG_FIGS) -> Decimal:
    """Round to ``sig`` significant figures, half away from zero, keeping trailing zeros.

    >>> round_sig(Decimal("0.12345")), round_sig(Decimal("0.651322")), round_sig(Decimal("9.99996"))
    (Decimal('0.1235'), Decimal('0.6513'), Decimal('10.00'))
    """
    if x == 0:
        return Decimal(0)
    exp = x.adjusted()
    rounded = x.quantize(Decimal(1).scaleb(exp - sig + 1), rounding=ROUND_HALF_UP)
    if rounded.adjusted() > exp:  # 9.9996 → 10.000: one digit too many, requantize
        rounded = rounded.quantize(Decimal(1).scaleb(exp - sig + 2), rounding=ROUND_HALF_UP)
    return rounded


def denoise(x: Decimal) -> Decimal:
    """A computed value without float noise: rounded to 13 significant figures, trailing zeros dropped.

    The key, Moodle and Canvas all get this value, so none of them shows 97.50000000000003.

    >>> denoise(Decimal("97.50000000000003")), denoise(Decimal("-1.5500000007142858"))
    (Decimal('97.5'), Decimal('-1.550000000714'))
    """
    if x == 0:
        return Decimal(0)
    return round_sig(x, NOISE_FIGS).normalize()


def scale_exponent(value: Decimal) -> int:
    """k such that the question asks for value × 10^k: 0, or the multiple of 3 that lifts |value| to ≥ 1.

    >>> scale_exponent(Decimal("0.65")), scale_exponent(Decimal("0.00995")), scale_exponent(Decimal("2.6e-5"))
    (0, 3, 6)
    """
    if value == 0 or abs(value) >= SCALE_BELOW:
        return 0
    k = 0
    while abs(value.scaleb(k)) < 1:
        k += 3
    return k


def tolerance(answer: Decimal, integer: bool) -> Decimal:
    """Half a unit of the 4th significant figure of ``answer``; 0 for counts.

    >>> tolerance(Decimal("0.651322"), False), tolerance(Decimal("100"), True)
    (Decimal('0.00005'), Decimal('0'))
    """
    if integer or answer == 0:
        return Decimal(0)
    return Decimal(5).scaleb(answer.adjusted() - SIG_FIGS)


def accepts(response: Decimal, answer: Decimal, tol: Decimal) -> bool:
    """The grading rule: |response − answer| ≤ tol, in exact decimal arithmetic.

    Written as answer − tol ≤ response ≤ answer + tol: the bounds are short (the key's digits) and
    computed exactly, and comparing decimals never rounds, whereas response − answer is rounded to the
    context's 28 digits (and overflows for a response like 9.99e999999).

    >>> accepts(Decimal("0.651350000000000000000000000000001"), Decimal("0.6513"), Decimal("0.00005"))
    False
    """
    with localcontext() as exact:
        exact.prec = max(len(answer.as_tuple().digits), len(tol.as_tuple().digits)) + \
            abs(answer.adjusted() - tol.adjusted()) + 2
        exact.traps[Inexact] = True
        low, high = answer - tol, answer + tol
    return low <= response <= high


def is_degenerate(answer: Decimal, integer: bool) -> bool:
    """An answer a student could guess or read off: one that rounds to 0 or ±1 (or a count below 2)."""
    if integer:
        return abs(answer) < 2
    return abs(round_sig(answer)) in (Decimal(0), Decimal(1))


def near_tie(answer: Decimal, integer: bool, margin: Decimal = Decimal("1e-6")) -> bool:
    """An answer (almost) exactly halfway between two 4-significant-figure values.

    Its correct rounding would hang on float noise in the 16th digit (−0.0057625
    computes as −0.005762500000000004), so generators avoid it.

    >>> near_tie(Decimal("-5.762500000000004"), False), near_tie(Decimal("0.651322"), False)
    (True, False)
    """
    if integer or answer == 0:
        return False
    units = abs(answer).scaleb(SIG_FIGS - 1 - answer.adjusted())  # in units of the 4th figure
    return abs(units - units.to_integral_value(rounding="ROUND_FLOOR") - Decimal("0.5")) < margin


def plain(x: Decimal) -> str:
    """A decimal written out without exponent: ``Decimal('5E-5')`` → ``0.00005``."""
    text = format(x, "f")
    return "0" if text in ("-0", "") else text


def fmt_answer(answer: Decimal, integer: bool) -> str:
    """How the key shows an answer: integers with thousands separators, the rest to 4 significant figures.

    >>> fmt_answer(Decimal("0.0010000000000000009").scaleb(3), False), fmt_answer(Decimal(15650), True)
    ('1.000', '15,650')
    """
    if integer:
        return f"{int(answer):,}"
    return plain(round_sig(answer))


def fmt_param(x: float | int | Decimal, *, thousands: bool = False) -> str:
    """How a given value appears in a question: its shortest decimal, never float noise.

    >>> fmt_param(0.999), fmt_param(1e-7), fmt_param(3200, thousands=True), fmt_param(-3.5)
    ('0.999', '0.0000001', '3,200', '-3.5')
    """
    d = to_decimal(x)
    if thousands and d == d.to_integral_value():
        return f"{int(d):,}"
    return plain(d.normalize()) if d != 0 else "0"
