"""Adam kinds: the bias-correction term, the corrected first moment, a first Adam step."""

from __future__ import annotations

import random
from typing import cast

from quiz_bank.kinds.base import NumericKind, Params, Part, pick_decimal, scalar, steps_shown
from solutions.optimizers import adam_step, bias_correction

# The lecture's β₁ = 0.9 and β₂ = 0.999 plus neighbours a course would use.
BETAS = (0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)
STEPS = (1, 2, 3, 4, 5, 10, 20, 50, 100, 200, 500, 1000)


class BiasCorrection(NumericKind):
    """1 − βᵗ (the lecture's table: β₁ = 0.9, t = 1, 2, 3, 10, 100)."""

    id = "bias_correction"
    title = "Adam bias-correction term 1 - beta^t"
    parts = (Part("correction", r"1 - \beta^{t}"),)

    def draw(self, rng: random.Random) -> Params:
        return {"beta": rng.choice(BETAS), "t": rng.choice(STEPS)}

    def solve(self, params: Params) -> dict[str, float | int]:
        return {"correction": bias_correction(cast(float, params["beta"]), cast(int, params["t"]))}


def _moments(beta1: float, beta2: float, grads: list[float], lr: float = 1e-3, theta: float = 0.0,
             eps: float = 1e-8) -> tuple[float, float, float]:
    """Run ``adam_step`` over a gradient history from m = v = 0: (θ_t, m_t, v_t)."""
    th, m, v = scalar(theta), scalar(0.0), scalar(0.0)
    for t, g in enumerate(grads, start=1):
        th, m, v = adam_step(th, scalar(g), m, v, t, lr=lr, beta1=beta1, beta2=beta2, eps=eps)
    return float(th), float(m), float(v)


class CorrectedFirstMoment(NumericKind):
    """m_t and m̂_t from β₁ and a short gradient history (the lecture: β₁ = 0.9, g = 0.5 → 0.05 → 0.5)."""

    id = "corrected_first_moment"
    title = "Adam first moment m_t and its bias correction"
    parts = (Part("m_t", "m_{t}"), Part("m_hat_t", r"\hat{m}_{t}"))

    def draw(self, rng: random.Random) -> Params:
        # Not t = 1: there m̂₁ = g₁ (the lecture's 0.5 → 0.5), an answer printed in the question.
        t = rng.randint(2, 3)
        return {"beta1": rng.choice((0.8, 0.85, 0.9, 0.95)), "t": t,
                "grads": [pick_decimal(rng, -3, 3) for _ in range(t)]}

    def solve(self, params: Params) -> dict[str, float | int]:
        beta1, grads = cast(float, params["beta1"]), cast(list[float], params["grads"])
        _, m, _ = _moments(beta1, 0.999, grads)
        return {"m_t": m, "m_hat_t": m / bias_correction(beta1, len(grads))}

    def display(self, params: Params) -> dict[str, str]:
        return steps_shown(super().display(params), params)


class AdamFirstStep(NumericKind):
    """The first Adam step from m₀ = v₀ = 0: m₁, v₁ and θ₁ (moves about α against the gradient's sign)."""

    id = "adam_first_step"
    title = "First Adam step from zero moments"
    parts = (Part("m_1", "m_{1}"), Part("v_1", "v_{1}"), Part("theta_1", r"\theta_{1}"))

    def draw(self, rng: random.Random) -> Params:
        return {"lr": rng.choice((0.001, 0.01, 0.05, 0.1)), "beta1": rng.choice((0.8, 0.9, 0.95)),
                "beta2": rng.choice((0.99, 0.999)), "eps": 1e-8,
                "param": pick_decimal(rng, -3, 3), "grad": pick_decimal(rng, -4, 4)}

    def solve(self, params: Params) -> dict[str, float | int]:
        p = cast(dict[str, float], params)
        theta, m, v = _moments(p["beta1"], p["beta2"], [p["grad"]], lr=p["lr"], theta=p["param"],
                               eps=p["eps"])
        return {"m_1": m, "v_1": v, "theta_1": theta}

    def display(self, params: Params) -> dict[str, str]:
        shown = super().display(params)
        shown["eps"] = "10^{-8}"
        return shown
