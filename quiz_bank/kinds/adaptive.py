"""Adaptive learning-rate kinds: Adagrad's effective learning rate and RMSProp's accumulator."""

from __future__ import annotations

import random
from typing import cast

from quiz_bank.kinds.base import NumericKind, Params, Part, pick_decimal, scalar, steps_shown
from solutions.optimizers import adagrad_step, rmsprop_step


class AdagradEffectiveLR(NumericKind):
    """r_t and the effective learning rate η/(δ + √r_t) after a short gradient history from r_0 = 0."""

    id = "adagrad_effective_lr"
    title = "Adagrad accumulator and effective learning rate"
    parts = (Part("r_t", "r_{t}"), Part("effective_lr", r"\frac{\eta}{\delta + \sqrt{r_{t}}}"))

    def draw(self, rng: random.Random) -> Params:
        lr, t = rng.choice((0.01, 0.05, 0.1, 0.5, 1.0)), rng.randint(2, 3)
        return {"lr": lr, "delta": 1e-7, "t": t, "grads": [pick_decimal(rng, -4, 4) for _ in range(t)]}

    def solve(self, params: Params) -> dict[str, float | int]:
        lr, delta = cast(float, params["lr"]), cast(float, params["delta"])
        x, r = scalar(0.0), scalar(0.0)
        for g in cast(list[float], params["grads"]):
            before = x
            x, r = adagrad_step(x, scalar(g), r, lr=lr, delta=delta)
        # The step taken is η/(δ+√r_t)·g_t, so the effective learning rate is that step over g_t.
        last = cast(list[float], params["grads"])[-1]
        return {"r_t": float(r), "effective_lr": float((before - x) / last)}

    def display(self, params: Params) -> dict[str, str]:
        shown = super().display(params)
        shown["delta"] = "10^{-7}"
        return steps_shown(shown, params)


class RMSPropAccumulator(NumericKind):
    """RMSProp's running average r_t = p·r_{t−1} + (1 − p)·g⊙g and the update x_{t+1}."""

    id = "rmsprop_accumulator"
    title = "RMSProp accumulator r_t and update x_{t+1}"
    parts = (Part("r_t", "r_{t}"), Part("x_next", "x_{t+1}"))

    def draw(self, rng: random.Random) -> Params:
        return {"decay": rng.choice((0.8, 0.9, 0.95, 0.99)), "lr": rng.choice((0.01, 0.05, 0.1)),
                "delta": 1e-6, "r": pick_decimal(rng, 0, 5, places=2), "grad": pick_decimal(rng, -4, 4),
                "param": pick_decimal(rng, -3, 3)}

    def solve(self, params: Params) -> dict[str, float | int]:
        p = cast(dict[str, float], params)
        x, r = rmsprop_step(scalar(p["param"]), scalar(p["grad"]), scalar(p["r"]),
                            lr=p["lr"], decay=p["decay"], delta=p["delta"])
        return {"r_t": float(r), "x_next": float(x)}

    def display(self, params: Params) -> dict[str, str]:
        shown = super().display(params)
        shown["delta"] = "10^{-6}"
        return shown
