"""Hidden properties of the step counts and of mse_gradients, against the reference."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from hypothesis import strategies as st

from grader.suite.compare import whole_numbers
from grader.suite.model import Call, Case, Example, Failure, Outcome, Property
from grader.suite.public.epochs import count
from grader.suite.public.regression import FORMULA, call, datasets, judge_gradients
from solutions.epochs import batch_bounds
from solutions.regression import mse_gradients

LARGE = st.fixed_dictionaries({"num_examples": st.integers(10**6, 10**9), "batch_size": st.integers(1, 100_000),
                               "drop_last": st.booleans()})


def hidden(prop: Property) -> Property:
    return replace(prop, public=False)


def last_batch() -> Property:
    def case(ex: Example) -> Case:
        n, b = ex["num_examples"], ex["batch_size"]
        last = -(-n // b) - 1
        return Case(ex, (Call("batch_bounds", (last, n, b)),), {"expected": batch_bounds(last, n, b)})

    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        got, expected = outcomes[0].returned, case.data["expected"]
        if outcomes[0].problem is not None:
            return Failure(f"the call {outcomes[0].problem}")
        if whole_numbers(got) == list(expected):
            return None
        return Failure(f"the last batch of n={case.example['num_examples']}, b={case.example['batch_size']} "
                       f"should be {expected}, got {got!r}", expected, got)

    return Property("batch_bounds", "last batch of a large dataset", public=False, examples=LARGE, case=case,
                    judge=judge, formula="start = i·b,  end = min(start + b, n)")


def regression_matches() -> Property:
    def case(ex: Example) -> Case:
        return Case(ex, (call(ex),), {"expected": mse_gradients(ex["w"], ex["b"], ex["x"].double(), ex["y"].double())})

    return Property("mse_gradients", "matches the reference (float64 and float32)", public=False,
                    examples=datasets(), case=case, judge=judge_gradients, formula=FORMULA)


def properties() -> list[Property]:
    with_epochs = st.tuples(LARGE, st.integers(1, 1000)).map(lambda p: {**p[0], "epochs": p[1]})
    return [
        hidden(count("steps_per_epoch", "large datasets (up to 10⁹ examples)", LARGE)),
        hidden(count("total_steps", "large datasets over many epochs", with_epochs, epochs=True)),
        last_batch(),
        regression_matches(),
    ]
