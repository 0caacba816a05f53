"""The Momentum kind: one update v_t, x_{t+1} from γ, η, v_{t−1} and g (the lecture's P1–P3 table)."""

from __future__ import annotations

import random
from typing import cast

from quiz_bank.kinds.base import NumericKind, Params, Part, pick_decimal, scalar
from solutions.optimizers import momentum_step


class MomentumUpdate(NumericKind):
    id = "momentum_update"
    title = "Momentum update v_t and x_{t+1}"
    parts = (Part("v_t", "v_{t}"), Part("x_next", "x_{t+1}"))

    def draw(self, rng: random.Random) -> Params:
        return {"gamma": rng.choice((0.5, 0.8, 0.9, 0.95)), "lr": rng.choice((0.05, 0.1, 0.2, 0.5)),
                "velocity": pick_decimal(rng, -5, 5), "grad": pick_decimal(rng, -5, 5),
                "param": pick_decimal(rng, -5, 5)}

    def solve(self, params: Params) -> dict[str, float | int]:
        p = cast(dict[str, float], params)
        x, v = momentum_step(scalar(p["param"]), scalar(p["grad"]), scalar(p["velocity"]),
                             lr=p["lr"], gamma=p["gamma"])
        return {"v_t": float(v), "x_next": float(x)}
