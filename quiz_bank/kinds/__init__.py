"""The registry of question kinds, in handout order."""

from __future__ import annotations

import difflib

from quiz_bank.errors import QuizError
from quiz_bank.kinds.adam import AdamFirstStep, BiasCorrection, CorrectedFirstMoment
from quiz_bank.kinds.adaptive import AdagradEffectiveLR, RMSPropAccumulator
from quiz_bank.kinds.base import ChoiceItem, Item, Kind, NumericItem, Variant, student_rng
from quiz_bank.kinds.concepts import (
    ConceptAdagradDecay,
    ConceptBatchSize,
    ConceptBiasCorrection,
    ConceptKind,
    ConceptMinibatch,
    ConceptMomentumSaddle,
)
from quiz_bank.kinds.epochs import StepsPerEpoch, TotalSteps
from quiz_bank.kinds.momentum import MomentumUpdate

KINDS: dict[str, Kind] = {
    kind.id: kind
    for kind in (
        BiasCorrection(), CorrectedFirstMoment(), StepsPerEpoch(), TotalSteps(), MomentumUpdate(),
        AdagradEffectiveLR(), RMSPropAccumulator(), AdamFirstStep(),
        ConceptMinibatch(), ConceptBatchSize(), ConceptBiasCorrection(), ConceptAdagradDecay(),
        ConceptMomentumSaddle(),
    )
}


def select(kind_ids: list[str] | None) -> list[Kind]:
    """The kinds to ask, in the order given (all kinds when ``kind_ids`` is empty)."""
    if not kind_ids:
        return list(KINDS.values())
    unknown = [k for k in kind_ids if k not in KINDS]
    if unknown:
        guesses = {k: close[0] for k in unknown if (close := difflib.get_close_matches(k, KINDS, 1))}
        fix = (f"did you mean --kinds {','.join(guesses.get(k, k) for k in kind_ids)}?"
               if len(guesses) == len(unknown) else "spell them as listed.")
        raise QuizError(f"--kinds: unknown kind(s) {', '.join(unknown)}; expected some of: "
                        f"{', '.join(KINDS)}. Fix: {fix}")
    if len(set(kind_ids)) != len(kind_ids):
        raise QuizError(f"--kinds: {', '.join(kind_ids)} names a kind twice. Fix: list each kind once.")
    return [KINDS[k] for k in kind_ids]


__all__ = ["KINDS", "ChoiceItem", "ConceptKind", "Item", "Kind", "NumericItem", "Variant", "select",
           "student_rng"]
