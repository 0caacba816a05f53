"""Public properties of every function about what a call does besides answering: it leaves its inputs
alone (``leaves_inputs_alone``) and torch's process-wide state as it found it (``leaves_global_state``).

A function that calls ``torch.set_default_dtype``, ``torch.set_grad_enabled(False)``, or
``torch.manual_seed`` (or draws random numbers) changes every line of the student's training script
that runs after it.  The runners read that state before and after each call and put it back
(grader/sandbox/effects.py), so only this property judges it: the other properties see the answers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from hypothesis import strategies as st

from grader.suite.compare import argument_names, describe_state_change, effects
from grader.suite.model import Call, Case, Example, Failure, Outcome, Property, TensorOut


def leaves_inputs_alone(names: Sequence[str], answer: Callable[[Outcome], Failure | None],
                        hint: str) -> Callable[[Case, Sequence[Outcome]], Failure | None]:
    """The judge of "does not modify its inputs" (``names``: the call's tensor arguments): the worker's word
    (an input's version counter moved) and the inputs as they came back, compared with those sent.  ``hint``
    says how to compute without touching them."""

    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        outcome = outcomes[0]
        if outcome.problem is not None:
            return Failure(f"the call {outcome.problem}")
        if len(outcome.inputs_after) != len(case.calls[0].args):  # only a forged reply lacks them
            return Failure("the inputs after the call were not reported, so purity cannot be checked")
        malformed = answer(outcome)  # computing nothing is not being pure
        if malformed is not None:
            return malformed
        changed = effects(outcome, "inplace")
        if changed:
            return Failure(f"the input {argument_names(changed, names)} was modified in place; {hint}")
        for name, sent, after in zip(names, case.calls[0].args, outcome.inputs_after, strict=False):
            if isinstance(sent, torch.Tensor) and isinstance(after, TensorOut) and not torch.equal(sent, after.tensor):
                return Failure(f"the input {name} was modified in place; {hint}", expected=sent, got=after.tensor)
        return None

    return judge


def leaves_global_state(function: str, examples: st.SearchStrategy[Example],
                        args_of: Callable[[Example], tuple[object, ...]],
                        answer: Callable[[Outcome], Failure | None], formula: str = "") -> Property:
    """``answer`` says what is wrong with the form of a call's answer (None when it has the contract's form):
    a function that answers nothing usable earns nothing here either, however tidy it is."""

    def case(ex: Example) -> Case:
        # report_inputs: the worker compares the random generator's state only on such calls (it costs more)
        return Case(ex, (Call(function, args_of(ex), report_inputs=True),))

    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        outcome = outcomes[0]
        if outcome.problem is not None:  # a stub that raises earns nothing here either
            return Failure(f"the call {outcome.problem}")
        malformed = answer(outcome)
        if malformed is not None:
            return malformed
        changed = effects(outcome, "state")
        if changed:
            return Failure(f"after the call {'; '.join(describe_state_change(c) for c in changed)}. A function "
                           f"must leave torch's global settings as it found them: use a `with` block "
                           f"(torch.no_grad(), a torch.Generator of your own) or do without")
        return None

    return Property(function, "leaves torch's global state as it was", public=True, examples=examples,
                    case=case, judge=judge, formula=formula)
