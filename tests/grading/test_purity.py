"""Every "does not modify its inputs" property judges alike (grader/suite/public/effects.py): a reply that
does not say what the inputs became cannot pass, an input changed in place fails with the hint."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from grader.suite.model import TensorOut
from grader.suite.registry import suite_properties
from grader.suite.runners import InProcessRunner
from solutions import epochs, optimizers, regression

PURITY = [p for p in suite_properties() if p.title in ("does not modify its inputs", "does not modify x or y")]
REFERENCE = {**vars(optimizers), **vars(epochs), **vars(regression)}


def test_every_tensor_function_has_one() -> None:
    assert {p.function for p in PURITY} >= {"sgd_step", "adam_step", "mse_gradients"}


@pytest.mark.parametrize("prop", PURITY, ids=[p.function for p in PURITY])
def test_inputs_not_reported_or_changed_fail(prop: object) -> None:
    from hypothesis import find

    case = prop.case(find(prop.examples, lambda ex: True))  # type: ignore[attr-defined]
    call = case.calls[0]
    honest = InProcessRunner()._call(REFERENCE[call.function], call)
    assert prop.judge(case, [honest]) is None  # type: ignore[attr-defined]
    forged = dataclasses.replace(honest, inputs_after=())
    failure = prop.judge(case, [forged])  # type: ignore[attr-defined]
    assert failure is not None
    assert "not reported" in failure.message
    first = next(i for i, a in enumerate(call.args) if isinstance(a, torch.Tensor))
    changed = list(honest.inputs_after)
    changed[first] = TensorOut(call.args[first] + 1, "cpu", "torch.Tensor")
    mutated = dataclasses.replace(honest, inputs_after=tuple(changed))
    failure = prop.judge(case, [mutated])  # type: ignore[attr-defined]
    assert failure is not None
    assert "modified in place;" in failure.message
