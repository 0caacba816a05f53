"""Golden values from the lecture, computed through the question kinds (and so through solutions/)."""

from decimal import Decimal

import pytest

from quiz_bank import numbers
from quiz_bank.kinds import KINDS, NumericItem


def _items(kind: str, **params: object) -> dict[str, NumericItem]:
    items = KINDS[kind].items(params)  # type: ignore[arg-type]
    return {i.part: i for i in items if isinstance(i, NumericItem)}


@pytest.mark.parametrize(("t", "shown"), [(1, "0.1"), (2, "0.19"), (3, "0.271"), (10, "0.6513")])
def test_bias_correction_table(t: int, shown: str) -> None:
    """訓練初期的問題 (t 次項): 1 − 0.9ᵗ = 0.1, 0.19, 0.271, 0.6513."""
    item = _items("bias_correction", beta=0.9, t=t)["correction"]
    assert item.scale_exp == 0
    assert numbers.round_sig(item.answer) == numbers.round_sig(Decimal(shown))
    assert numbers.accepts(Decimal(shown), item.answer, item.tolerance)


def test_bias_correction_t100_is_the_lectures_0_999974_and_degenerate() -> None:
    item = _items("bias_correction", beta=0.9, t=100)["correction"]
    # The lecture rounds 0.9¹⁰⁰ to 0.000026 first, so its 0.999974 is 6e-7 above the exact 0.99997344…
    assert abs(item.answer - Decimal("0.999974")) < Decimal("1e-6")
    assert item.display == "1.000"  # at 4 significant figures it is 1: never generated
    assert KINDS["bias_correction"].problems({"beta": 0.9, "t": 100}, (item,))


def test_corrected_first_moment_0_05_to_0_5() -> None:
    """β₁ = 0.9, g = 0.5: m₁ = 0.1 × 0.5 = 0.05, m̂₁ = 0.05 / 0.1 = 0.5."""
    items = _items("corrected_first_moment", beta1=0.9, grads=[0.5])
    assert abs(items["m_t"].value - Decimal("0.05")) < Decimal("1e-15")
    assert items["m_t"].scale_exp == 3
    assert items["m_t"].display == "50.00"
    assert abs(items["m_hat_t"].value - Decimal("0.5")) < Decimal("1e-15")
    assert items["m_hat_t"].display == "0.5000"


def test_steps_per_epoch_3200_over_32_is_100() -> None:
    for drop_last in (False, True):
        assert _items("steps_per_epoch", num_examples=3200, batch_size=32, drop_last=drop_last)[
            "steps"].answer == 100


def test_total_steps_5_000_000_over_1000_is_5000() -> None:
    item = _items("total_steps", num_examples=5_000_000, batch_size=1000, epochs=1, drop_last=False)["total"]
    assert item.answer == 5000
    assert item.tolerance == 0
    assert item.display == "5,000"


def test_momentum_point_p1() -> None:
    """SGD + Momentum (example) P1: gradient −3.5, past v = −4, γ = 0.9, η = 0.1."""
    items = _items("momentum_update", gamma=0.9, lr=0.1, velocity=-4.0, grad=-3.5, param=0.0)
    assert items["v_t"].display == "-3.950"
    assert items["x_next"].display == "3.950"


def test_adam_first_step_moves_by_lr() -> None:
    items = _items("adam_first_step", lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, param=1.5, grad=-2.0)
    assert items["m_1"].display == "-0.2000"
    assert items["v_1"].scale_exp == 3
    assert items["v_1"].display == "4.000"
    assert items["theta_1"].display == "1.510"


def test_a_scaled_difference_is_asked_in_parentheses() -> None:
    """(1 − βᵗ) × 10³, not 1 − βᵗ × 10³, which reads as 1 − (βᵗ·10³)."""
    item = _items("bias_correction", beta=0.95, t=2)["correction"]  # 1 − 0.9025 = 0.0975: asked × 10³
    assert item.asked_tex == r"(1 - \beta^{t}) \times 10^{3}"
    assert item.answer == Decimal("97.5")  # no float noise: 0.09750000000000003 × 10³ computes as 97.50000000000003
    assert item.display == "97.50"
    lr = _items("adagrad_effective_lr", lr=0.01, delta=1e-7, t=2, grads=[2.0, 1.5])["effective_lr"]
    assert lr.asked_tex.startswith(r"\frac{")  # a fraction is one factor already: no parentheses


def test_one_minus_0_999_is_exactly_0_001() -> None:
    """1 − 0.999 computes as 0.0010000000000000009; the key stores and shows 0.001 (asked × 10³: 1)."""
    item = _items("bias_correction", beta=0.999, t=1)["correction"]
    assert item.value == Decimal("0.0010000000000000009")  # what solutions/ computed
    assert item.scale_exp == 3
    assert item.answer == 1
    assert float(item.answer) == 1.0
    assert item.display == "1.000"
    assert KINDS["bias_correction"].problems({"beta": 0.999, "t": 1}, (item,))  # and it rounds to 1: not asked


def test_the_keys_accepted_range_is_the_one_grading_uses() -> None:
    from quiz_bank.render import accepted

    items = _items("rmsprop_accumulator", decay=0.9, lr=0.05, delta=1e-6, r=2.52, grad=1.9, param=0.7)
    x = items["x_next"]  # 0.641409361…: 0.64135 is within 0.00005 of 0.6414, not of the exact answer
    assert x.display == "0.6414"
    assert accepted(x) == "0.6414094 ± 0.00005"
    assert not numbers.accepts(Decimal("0.64135"), x.answer, x.tolerance)
    assert accepted(items["r_t"]) == "2.629 ± 0.0005"  # exactly 2.629: nothing more to say
