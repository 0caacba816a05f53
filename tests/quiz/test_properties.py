"""Properties of the number rule and the response reader, over arbitrary answers."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from quiz_bank import numbers
from quiz_bank.responses import parse_number

answers = st.decimals(min_value=Decimal("-1e6"), max_value=Decimal("1e6"), allow_nan=False,
                      allow_infinity=False, places=9).filter(lambda d: abs(d) >= Decimal("1e-6"))


@given(answers)
def test_every_correct_rounding_is_accepted(a: Decimal) -> None:
    tol = numbers.tolerance(a, False)
    assert numbers.accepts(numbers.round_sig(a), a, tol)


@given(answers)
def test_a_rounding_one_unit_off_is_rejected(a: Decimal) -> None:
    tol = numbers.tolerance(a, False)
    unit = 2 * tol
    rounded = numbers.round_sig(a)
    assert not numbers.accepts(rounded + unit * 2, a, tol)
    assert not numbers.accepts(rounded - unit * 2, a, tol)


@given(answers)
def test_rounding_keeps_four_significant_figures(a: Decimal) -> None:
    r = numbers.round_sig(a)
    assert len(r.as_tuple().digits) == numbers.SIG_FIGS
    assert abs(r - a) <= numbers.tolerance(a, False)


@given(answers, st.sampled_from(["{}", "≈ {}", "{} ", "{}e0"]))
def test_what_the_key_shows_reads_back_exactly(a: Decimal, form: str) -> None:
    shown = numbers.fmt_answer(a, False)
    assert parse_number(form.format(shown)) == Decimal(shown)
    assert parse_number(shown.replace("-", "−")) == Decimal(shown)


@given(st.integers(min_value=0, max_value=10**9))
def test_counts_read_back_with_any_grouping(n: int) -> None:
    assert parse_number(f"{n:,}") == n
    assert parse_number(f"{n:,}".replace(",", " ")) == n
    assert parse_number(str(n).translate(str.maketrans("0123456789", "０１２３４５６７８９"))) == n


@given(st.floats(min_value=1e-9, max_value=1e6, allow_nan=False))
def test_scaled_values_fit_four_decimals(x: float) -> None:
    value = numbers.round_sig(numbers.to_decimal(x))
    k = numbers.scale_exponent(value)
    scaled = numbers.round_sig(value.scaleb(k))
    assert -scaled.as_tuple().exponent <= 4  # type: ignore[operator]
