"""Epoch and step kinds: steps per epoch and total steps, with sizes that do not divide evenly."""

from __future__ import annotations

import random
from typing import ClassVar, cast

from quiz_bank.kinds.base import Item, NumericKind, Params, Part
from solutions.epochs import steps_per_epoch, total_steps

BATCH_SIZES = (16, 32, 64, 100, 128, 256, 500, 1000)


def _draw_sizes(rng: random.Random) -> Params:
    batch_size = rng.choice(BATCH_SIZES)
    return {"num_examples": rng.randint(5, 600) * batch_size + rng.randint(1, batch_size - 1),
            "batch_size": batch_size, "drop_last": rng.random() < 0.5}


def _display_sizes(shown: dict[str, str], params: Params) -> dict[str, str]:
    """Sizes are written in running text with thousands separators, as the lecture writes 3,200."""
    for name in ("num_examples", "batch_size"):
        shown[name] = f"{cast(int, params[name]):,}"
    return shown


def _readings_agree(params: Params) -> list[str]:
    """With n divisible by b, drop_last changes nothing and the question tests nothing about it."""
    n, b = cast(int, params["num_examples"]), cast(int, params["batch_size"])
    return [] if n % b else [f"{n} is divisible by {b}: both drop_last readings agree"]


class StepsPerEpoch(NumericKind):
    """Steps in one epoch (the lecture: 3,200 examples, batch_size 32 → 100 steps)."""

    id = "steps_per_epoch"
    title = "Steps per epoch"
    parts: ClassVar[tuple[Part, ...]] = (Part("steps", r"\text{steps}", integer=True),)

    def draw(self, rng: random.Random) -> Params:
        return _draw_sizes(rng)

    def solve(self, params: Params) -> dict[str, float | int]:
        return {"steps": steps_per_epoch(cast(int, params["num_examples"]), cast(int, params["batch_size"]),
                                         cast(bool, params["drop_last"]))}

    def problems(self, params: Params, items: tuple[Item, ...]) -> list[str]:
        return super().problems(params, items) + _readings_agree(params)

    def display(self, params: Params) -> dict[str, str]:
        return _display_sizes(super().display(params), params)


class TotalSteps(NumericKind):
    """Updates over all epochs (the lecture: 5,000,000 examples, batch_size 1,000 → 5,000 per epoch)."""

    id = "total_steps"
    title = "Total steps over all epochs"
    parts: ClassVar[tuple[Part, ...]] = (Part("total", r"\text{total steps}", integer=True),)

    def draw(self, rng: random.Random) -> Params:
        return {**_draw_sizes(rng), "epochs": rng.choice((2, 3, 5, 8, 10, 20, 30, 50, 100))}

    def solve(self, params: Params) -> dict[str, float | int]:
        return {"total": total_steps(cast(int, params["num_examples"]), cast(int, params["batch_size"]),
                                     cast(int, params["epochs"]), cast(bool, params["drop_last"]))}

    def problems(self, params: Params, items: tuple[Item, ...]) -> list[str]:
        return super().problems(params, items) + _readings_agree(params)

    def display(self, params: Params) -> dict[str, str]:
        return _display_sizes(super().display(params), params)
