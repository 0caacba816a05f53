"""Adaptive learning-rate kinds: Adagrad's effective learning rate and RMSProp's accumulator."""

from __future__ import annotations

import random
from typing import cast

from quiz_bank.kinds.base import Item, NumericKind, Params, Part, pick_decimal, scalar, unchanged
from solutions.optimizers import adagrad_step, rmsprop_step


class AdagradEffectiveLR(NumericKind):
    """r_t and the effective learning rate η/(δ + √r_t) after a short gradient history from r_0 = 0."""

    id = "adagrad_effective_lr"
    title = "Adagrad accumulator and effective learning rate"
    parts = (Part("r_t", "r_{t}"), Part("effective_lr", r"\frac{\eta}{\delta + \sqrt{r_{t}}}"))

    def draw(self, rng: random.Random) -> Params:
        return {"lr": rng.choice((0.01, 0.05, 0.1, 0.5, 1.0)), "delta": 1e-7,
                "grads": [pick_decimal(rng, -4, 4) for _ in range(rng.randint(2, 3))]}

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
        shown["t"] = str(len(cast(list[float], params["grads"])))
        return shown


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

    def problems(self, params: Params, items: tuple[Item, ...]) -> list[str]:
        return super().problems(params, items) + unchanged(items, "x_next", cast(float, params["param"]))

    def display(self, params: Params) -> dict[str, str]:
        shown = super().display(params)
        shown["delta"] = "10^{-6}"
        return shown
