"""The lecture's own worked examples, reproduced by the reference solutions."""

import pytest
import torch

from solutions.epochs import batch_bounds, steps_per_epoch, total_steps
from solutions.optimizers import adam_step, bias_correction, momentum_step, sgd_step

F64 = torch.float64


@pytest.mark.parametrize(
    ("t", "expected"), [(1, 0.1), (2, 0.19), (3, 0.271), (10, 0.6513), (100, 0.999974)]
)
def test_bias_correction_table(t: int, expected: float) -> None:
    # The slide rounds 0.9^10 = 0.3487 and 0.9^100 = 0.000026; compare to the slide's digits.
    assert bias_correction(0.9, t) == pytest.approx(expected, abs=5e-5 if t >= 10 else 1e-12)


def test_beta_power_is_a_power_not_the_slides_product() -> None:
    """The slide writes β₁ᵗ = β₁¹ × β₁² × … × β₁ᵗ; that product is not βᵗ, and the table uses βᵗ."""
    beta, t = 0.9, 3
    slide_product = 1.0
    for k in range(1, t + 1):
        slide_product *= beta**k
    assert slide_product == pytest.approx(0.9**6)  # 0.531441: the exponents add up to 1 + 2 + 3
    assert 1 - slide_product != pytest.approx(0.271)  # the slide's own table says 0.271 for t = 3
    assert bias_correction(beta, t) == pytest.approx(0.271)


def test_adam_first_moment_and_its_correction() -> None:
    """β₁ = 0.9, g = 0.5 at t = 1: m₁ = 0.1 × 0.5 = 0.05 and m̂₁ = 0.05 / 0.1 = 0.5."""
    zero = torch.zeros((), dtype=F64)
    _, m, _ = adam_step(zero, torch.tensor(0.5, dtype=F64), zero, zero, t=1, beta1=0.9)
    assert m.item() == pytest.approx(0.05, rel=1e-15)
    assert (m / bias_correction(0.9, 1)).item() == pytest.approx(0.5, rel=1e-15)


def test_steps_per_epoch_examples() -> None:
    assert steps_per_epoch(3_200, 32) == 100
    assert steps_per_epoch(5_000_000, 1_000) == 5_000
    assert total_steps(5_000_000, 1_000, epochs=1) == 5_000


def test_pseudo_code_batches_cover_the_data_once() -> None:
    """The lecture's loop `start = i * 1000; end = start + 1000` over 5,000 steps."""
    bounds = [batch_bounds(i, 5_000_000, 1_000) for i in range(5_000)]
    assert bounds[0] == (0, 1_000)
    assert bounds[-1] == (4_999_000, 5_000_000)
    assert all(prev[1] == nxt[0] for prev, nxt in zip(bounds, bounds[1:], strict=False))


def test_gradient_descent_on_half_x_squared() -> None:
    """f(x) = ½x² has ∇f(x) = x, so every step multiplies x by (1 − η)."""
    x = torch.tensor(4.0, dtype=F64)
    for _ in range(10):
        x = sgd_step(x, x, lr=0.1)
    assert x.item() == pytest.approx(4.0 * 0.9**10, rel=1e-14)


def test_momentum_keeps_moving_where_the_gradient_is_zero() -> None:
    """Point P2 of the slides: the gradient is 0, yet the past velocity v = −2 still moves x."""
    x, v = torch.tensor(0.0, dtype=F64), torch.tensor(-2.0, dtype=F64)
    new_x, new_v = momentum_step(x, torch.zeros((), dtype=F64), v, lr=0.1, gamma=0.9)
    assert new_v.item() == pytest.approx(-1.8)
    assert new_x.item() == pytest.approx(1.8)
