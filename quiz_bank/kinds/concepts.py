"""The lecture's concept questions as multiple choice; each student gets the options in their own order.

The correct option is the lecture's own answer (Question #1, Question #2, 訓練初期的問題,
對 Adagrad 的觀察與思考, Summary of Momentum); the wording of every option lives in
``templates/kinds/<id>.j2`` so it can be translated.
"""

from __future__ import annotations

import random
from typing import ClassVar, cast

from quiz_bank.kinds.base import ChoiceItem, Item, Kind, Params


class ConceptKind(Kind):
    """A multiple-choice kind: option keys, the first of which is the lecture's answer."""

    options: ClassVar[tuple[str, ...]]

    def draw(self, rng: random.Random) -> Params:
        order = list(self.options)
        rng.shuffle(order)
        return {"options": order}

    def items(self, params: Params) -> tuple[Item, ...]:
        return (ChoiceItem(tuple(cast(list[str], params["options"])), self.options[0]),)

    def problems(self, params: Params, items: tuple[Item, ...]) -> list[str]:
        order = cast(list[str], params["options"])
        return [] if sorted(order) == sorted(self.options) else [f"options {order} are not a permutation"]


class ConceptMinibatch(ConceptKind):
    id = "concept_minibatch"
    title = "Is mini-batch always better than full batch?"
    options = ("usually_better", "always_better", "always_worse", "same")


class ConceptBatchSize(ConceptKind):
    id = "concept_batch_size"
    title = "Small vs large batches"
    options = ("small_tradeoff", "large_always_better", "small_more_memory", "steps_independent")


class ConceptBiasCorrection(ConceptKind):
    id = "concept_bias_correction"
    title = "What Adam's bias correction fixes"
    options = ("zero_init", "lr_too_large", "late_explosion", "negative_squares")


class ConceptAdagradDecay(ConceptKind):
    id = "concept_adagrad_decay"
    title = "Why Adagrad's learning rate decays"
    options = ("accumulates", "decay_rate", "growing_gradients", "moving_average")


class ConceptMomentumSaddle(ConceptKind):
    id = "concept_momentum_saddle"
    title = "What Momentum buys near a saddle point"
    options = ("keeps_moving", "bigger_gradient", "raises_lr", "guarantees_global")
