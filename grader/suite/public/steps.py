"""Public properties of every optimizer step: the contract, purity, and zero-gradient behaviour."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from hypothesis import strategies as st

from grader.suite import strategies as s
from grader.suite.compare import TENSOR_TYPES, argument_names, describe_value, effects, first_mismatch, unpack
from grader.suite.contract import STEP_FUNCTIONS, StepFunction, step_examples
from grader.suite.model import Call, Case, Example, Failure, GradientFunction, Outcome, Property
from grader.suite.public.effects import leaves_global_state, leaves_inputs_alone


def simple_case(f: StepFunction) -> Callable[[Example], Case]:
    return lambda ex: Case(ex, (Call(f.name, f.args(ex)),))


def zeroed(f: StepFunction) -> Callable[[Example], Example]:
    """The example with a zero gradient and zero state (nesterov: a zero gradient function)."""

    def zero(ex: Example) -> Example:
        ex = {**ex, **{k: torch.zeros_like(ex[k]) for k in ("grad", *f.state) if k in ex}}
        if "a" in ex:
            ex["a"] = torch.zeros_like(ex["a"])
        return ex

    return zero


def answer(f: StepFunction) -> Callable[[Outcome], Failure | None]:
    """Why an outcome is not an answer of ``f``'s form (its tensors), or None."""

    def malformed(outcome: Outcome) -> Failure | None:
        got = unpack(outcome, f.outputs)
        return got if isinstance(got, Failure) else None

    return malformed


def every_path(f: StepFunction) -> st.SearchStrategy[Example]:
    """Inputs that reach every branch a step might take: any dtype, zero and non-zero state, a zero
    gradient from zero state (where a shortcut may return an input as it is), a zero learning rate."""
    drawn = st.sampled_from(s.DTYPES).flatmap(lambda d: step_examples(f, dtype=d))
    return st.one_of(drawn, drawn.map(zeroed(f)), drawn.map(lambda ex: {**ex, "lr": 0.0}))


def contract(f: StepFunction) -> Property:
    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        got = unpack(outcomes[0], f.outputs)
        if isinstance(got, Failure):
            return got
        ex = case.example
        shape, dtype = tuple(ex["param"].shape), ex["dtype"]
        shared = effects(outcomes[0], "alias")
        if shared:
            return Failure(f"returned {argument_names(shared, f.tensors)} itself (or a view sharing its memory); "
                           f"return new tensors, e.g. param.clone() where nothing changes, so that changing the "
                           f"result in place cannot change the input")
        for name, g in zip(f.outputs, got, strict=True):
            if g.type_name not in TENSOR_TYPES:
                return Failure(f"{name} is a {g.type_name}; expected a plain torch.Tensor")
            if tuple(g.tensor.shape) != shape or g.tensor.dtype != dtype or g.device != "cpu":
                return Failure(f"{name} is a {describe_value(g)}; expected shape {shape}, dtype {dtype}, on cpu "
                               f"(the inputs' shape, dtype and device)")
            if not bool(torch.isfinite(g.tensor).all()):
                return Failure(f"{name} holds NaN or inf although every input is finite and moderate",
                               got=g.tensor)
        return None

    return Property(f.name, "returns new tensors of the inputs' shape, dtype and device", public=True,
                    examples=every_path(f), case=simple_case(f), judge=judge, formula=f.formula)


def pure(f: StepFunction) -> Property:
    judge = leaves_inputs_alone(f.tensors, answer(f), "return new tensors instead (e.g. x - lr * g, not "
                                                      "x -= lr * g; clone before an in-place op)")
    return Property(f.name, "does not modify its inputs", public=True, examples=every_path(f),
                    case=lambda ex: Case(ex, (Call(f.name, f.args(ex), report_inputs=True),)), judge=judge,
                    formula=f.formula)


def zero_gradient(f: StepFunction) -> Property:
    """From zero state a zero gradient moves nothing (AdamW: only the decay θ(1 − αλ) acts)."""

    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        got = unpack(outcomes[0], f.outputs)
        if isinstance(got, Failure):
            return got
        ex = case.example
        x = ex["param"]
        expected = x * (1 - ex["lr"] * ex["weight_decay"]) if f.name == "adamw_step" else x
        mismatch = first_mismatch(got[0].tensor, expected, ex["dtype"])
        if mismatch is not None:
            return Failure(f"with a zero gradient and zero state, {mismatch.describe('param')}",
                           expected=expected, got=got[0].tensor)
        for name, g in zip(f.state, got[1:], strict=True):
            if bool(g.tensor.any()):
                return Failure(f"with a zero gradient and zero state, {name} should stay 0", got=g.tensor)
        return None

    return Property(f.name, "zero gradient from zero state leaves the parameter unchanged"
                    if f.name != "adamw_step" else "zero gradient from zero state: only the decay acts",
                    public=True, examples=step_examples(f, zero_state=True).map(zeroed(f)),
                    case=simple_case(f), judge=judge, formula=f.formula)


def properties() -> list[Property]:
    props: list[Property] = []
    for f in STEP_FUNCTIONS.values():
        props += [contract(f), pure(f), zero_gradient(f),
                  leaves_global_state(f.name, every_path(f), f.args, answer(f), f.formula)]
    return props


def gradient_function(ex: Example) -> GradientFunction:
    return GradientFunction(ex["a"], ex["c"])
