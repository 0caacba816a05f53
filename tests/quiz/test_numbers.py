"""The number rule: 4 significant figures, half away from zero, exact decimals, inclusive tolerance."""

from decimal import Decimal

import pytest

from quiz_bank import numbers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.12345", "0.1235"),  # half away from zero, whatever the binary float would say
        ("-0.12345", "-0.1235"),
        ("2.675", "2.675"),
        ("2.6755", "2.676"),  # float round(2.6755, 3) == 2.675: the binary value is below the half
        ("0.125", "0.1250"),
        ("0.651322", "0.6513"),
        ("9.99996", "10.00"),  # crossing a power of ten keeps 4 figures
        ("0.00099996", "0.001000"),
        ("123456", "123500"),
    ],
)
def test_round_sig_half_away_from_zero(value: str, expected: str) -> None:
    assert numbers.plain(numbers.round_sig(Decimal(value))) == expected


def test_round_sig_differs_from_python_round_on_float_halves() -> None:
    assert round(2.6755, 3) == 2.675  # the trap: binary 2.6755 is 2.67549999…
    assert numbers.round_sig(numbers.to_decimal(2.6755)) == Decimal("2.676")


def test_no_float_noise() -> None:
    noisy = 1 - 0.999
    assert repr(noisy) != "0.001"  # Python shows 0.0010000000000000009
    assert numbers.fmt_answer(numbers.to_decimal(noisy).scaleb(3), False) == "1.000"
    assert numbers.fmt_param(0.1 + 0.2) == "0.30000000000000004"  # params must be drawn noise-free…
    assert numbers.fmt_param(0.3) == "0.3"  # …which pick_decimal guarantees
    assert numbers.fmt_param(1e-7) == "0.0000001"
    assert numbers.fmt_param(5_000_000, thousands=True) == "5,000,000"


@pytest.mark.parametrize(
    ("answer", "integer", "tol"),
    [("0.651322", False, "0.00005"), ("19.85", False, "0.005"), ("-5.7625", False, "0.0005"),
     ("100", True, "0"), ("123.4", False, "0.05"), ("0.1", False, "0.00005")],
)
def test_tolerance_is_half_a_unit_of_the_fourth_figure(answer: str, integer: bool, tol: str) -> None:
    assert numbers.tolerance(Decimal(answer), integer) == Decimal(tol)


def test_accepts_every_correct_rounding_and_bounds_inclusive() -> None:
    a = Decimal("0.651322")
    tol = numbers.tolerance(a, False)
    assert numbers.accepts(numbers.round_sig(a), a, tol)
    assert numbers.accepts(a + tol, a, tol)
    assert numbers.accepts(a - tol, a, tol)
    assert not numbers.accepts(a + tol + Decimal("1e-12"), a, tol)
    assert not numbers.accepts(Decimal("0.6514"), a, tol)
    # a value just below a power of ten: the rounding 1.000 is accepted, truncation 0.9999 is not
    b = Decimal("0.99996")
    assert numbers.accepts(Decimal("1.000"), b, numbers.tolerance(b, False))
    assert not numbers.accepts(Decimal("0.9998"), b, numbers.tolerance(b, False))


@pytest.mark.parametrize(("value", "k"), [("0.65", 0), ("0.1", 0), ("0.0999", 3), ("0.001", 3),
                                          ("0.000999", 6), ("2.6e-5", 6), ("-0.05", 3), ("0", 0)])
def test_scale_exponent_lifts_small_values(value: str, k: int) -> None:
    assert numbers.scale_exponent(Decimal(value)) == k
    if Decimal(value) != 0:
        assert Decimal("0.1") <= abs(Decimal(value).scaleb(k)) < 1000


def test_degenerate_and_ties() -> None:
    assert numbers.is_degenerate(Decimal("0.99997"), False)  # the lecture's 0.999974 shows as 1.000
    assert numbers.is_degenerate(Decimal("-1.00004"), False)
    assert numbers.is_degenerate(Decimal("0.00004"), False) is False  # 0.00004000 is not 0 at 4 s.f.
    assert numbers.is_degenerate(Decimal(1), True)
    assert not numbers.is_degenerate(Decimal(2), True)
    assert numbers.near_tie(Decimal("0.12345"), False)
    assert not numbers.near_tie(Decimal("0.12346"), False)
    assert not numbers.near_tie(Decimal("12345"), True)


def test_denoise_removes_float_noise_only() -> None:
    assert numbers.denoise(numbers.to_decimal((1 - 0.999) * 1000)) == Decimal(1)  # 1.0000000000000009
    assert numbers.denoise(numbers.to_decimal(0.37999999999999995)) == Decimal("0.38")
    assert numbers.denoise(Decimal("-1.5500000007142858")) == Decimal("-1.550000000714")  # ε's real effect stays
    assert numbers.denoise(Decimal(0)) == 0


def test_accepts_compares_exactly_beyond_28_digits() -> None:
    """Decimal's context rounds response − answer to 28 digits; the rule must not."""
    a, tol = Decimal("0.6513"), Decimal("0.00005")
    assert not numbers.accepts(Decimal("0.65135" + "0" * 30 + "1"), a, tol)
    assert not numbers.accepts(Decimal("-0.65135" + "0" * 30 + "1"), -a, tol)
    assert numbers.accepts(Decimal("0.65135" + "0" * 30), a, tol)
    assert not numbers.accepts(Decimal("9" * 28 + "e999972"), -a, tol)  # no Overflow
    big = Decimal("1234567890123")  # a 13-figure count, tolerance 0
    assert numbers.accepts(big, big, Decimal(0))
    assert not numbers.accepts(Decimal("1234567890123." + "0" * 29 + "1"), big, Decimal(0))
