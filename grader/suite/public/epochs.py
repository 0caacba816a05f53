"""Public properties of the step counts: torch's DataLoader is the oracle, no reference needed."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from grader.suite import strategies as s
from grader.suite.compare import describe_value, whole_number, whole_numbers
from grader.suite.model import Call, Case, Example, Failure, Outcome, Property, TensorOut
from grader.suite.public.effects import leaves_global_state

SIZES = st.one_of(
    st.fixed_dictionaries({"num_examples": s.dataset_sizes, "batch_size": s.batch_sizes, "drop_last": st.booleans()}),
    st.tuples(s.huge_batches, st.booleans()).map(lambda p: {**p[0], "drop_last": p[1]}),
)
LARGE = st.fixed_dictionaries({"num_examples": st.integers(10**6, s.MAX_EXAMPLES),
                               "batch_size": st.one_of(st.integers(1, 100_000), st.integers(1, 10**9)),
                               "drop_last": st.booleans()})
"""Up to 10¹² examples, with batches as small as 1: a loop over the batches would never finish."""
SMALLER_THAN_A_BATCH = st.tuples(st.integers(0, 40), st.integers(1, 60), st.booleans()).map(
    lambda p: {"num_examples": p[0], "batch_size": p[0] + p[1], "drop_last": p[2]})
LECTURE = ({"num_examples": 3_200, "batch_size": 32, "drop_last": False},
           {"num_examples": 5_000_000, "batch_size": 1_000, "drop_last": False})


def loader_len(ex: Example) -> int:
    loader: DataLoader[int] = DataLoader(
        range(ex["num_examples"]), batch_size=ex["batch_size"], drop_last=ex["drop_last"]  # type: ignore[arg-type]
    )
    return len(loader)


def exact_int(outcome: Outcome, expected: int, what: str) -> Failure | None:
    if outcome.problem is not None:
        return Failure(f"the call {outcome.problem}")
    value = outcome.returned
    if isinstance(value, TensorOut) and value.tensor.dim() == 0 and value.tensor.dtype != torch.bool:
        value = value.tensor.item()  # the count is judged by value; "returns an int" judges the type
    if isinstance(value, bool) or not isinstance(value, int | float) or value != expected:
        return Failure(f"{what} returned {describe_value(value)}, expected {expected}", expected, value)
    return None


def count(function: str, title: str, examples: st.SearchStrategy[Example], *, epochs: bool = False,
          explicit: tuple[Example, ...] = (), default_drop_last: bool = False) -> Property:
    """``function``'s count equals DataLoader's; with ``default_drop_last`` the call leaves drop_last out
    (the examples then have drop_last False, DataLoader's default)."""
    if default_drop_last:
        examples = examples.map(lambda ex: {**ex, "drop_last": False})

    def args_of(ex: Example) -> tuple[object, ...]:
        args = (ex["num_examples"], ex["batch_size"], *([ex["epochs"]] if epochs else []))
        return args if default_drop_last else (*args, ex["drop_last"])

    def case(ex: Example) -> Case:
        args = args_of(ex)
        # (total_steps often calls steps_per_epoch: a failed one is replaced by its stand-in, HELPERS)
        return Case(ex, (Call(function, args),), {"expected": loader_len(ex) * (ex["epochs"] if epochs else 1)})

    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        shown = {k: v for k, v in case.example.items() if not (default_drop_last and k == "drop_last")}
        call = f"{function}({', '.join(f'{k}={v!r}' for k, v in shown.items())})"
        return exact_int(outcomes[0], case.data["expected"], call)

    return Property(function, title, public=True, examples=examples, case=case, judge=judge,
                    formula="⌈n / b⌉ steps, or ⌊n / b⌋ with drop_last" + (" (× epochs)" if epochs else ""),
                    explicit=explicit)


def returns_int(function: str, examples: st.SearchStrategy[Example]) -> Property:
    def case(ex: Example) -> Case:
        epochs = [ex["epochs"]] if "epochs" in ex else []
        return Case(ex, (Call(function, (ex["num_examples"], ex["batch_size"], *epochs, ex["drop_last"])),))

    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        value = outcomes[0].returned
        if outcomes[0].problem is None and whole_number(value) is None:
            return Failure(f"returned {describe_value(value)}; a number of steps is an int (wrap with int(...), "
                           f"or use // for whole-number division)")
        return None if outcomes[0].problem is None else Failure(f"the call {outcomes[0].problem}")

    return Property(function, "returns an int", public=True, examples=examples, case=case, judge=judge)


def batch_slices() -> Property:
    """Every batch the DataLoader yields is range(start, end) for batch_bounds(step, n, b)."""

    def case(ex: Example) -> Case:
        batches = list(DataLoader(range(ex["num_examples"]), batch_size=ex["batch_size"]))  # type: ignore[arg-type]
        calls = tuple(Call("batch_bounds", (i, ex["num_examples"], ex["batch_size"])) for i in range(len(batches)))
        return Case(ex, calls, {"expected": [(int(b[0]), int(b[-1]) + 1) for b in batches]})

    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        n, b = case.example["num_examples"], case.example["batch_size"]
        for step, (outcome, expected) in enumerate(zip(outcomes, case.data["expected"], strict=True)):
            inputs = {"step": step, "num_examples": n, "batch_size": b}  # the failing call's own, step included
            if outcome.problem is not None:
                return Failure(f"batch_bounds({step}, {n}, {b}) {outcome.problem}", inputs=inputs)
            value = outcome.returned
            if whole_numbers(value) != list(expected):
                return Failure(f"batch_bounds({step}, {n}, {b}) returned {describe_value(value)}, expected "
                               f"{expected} (DataLoader's batch {step} is examples {expected[0]}…{expected[1] - 1})",
                               expected, value, inputs=inputs)
        return None

    examples = st.fixed_dictionaries({"num_examples": st.integers(1, 200), "batch_size": st.integers(1, 64)})
    return Property("batch_bounds", "slices exactly DataLoader's batches", public=True, examples=examples,
                    case=case, judge=judge, formula="start = i·b,  end = min(start + b, n)",
                    explicit=({"num_examples": 10, "batch_size": 3},))


def a_count(outcome: Outcome) -> Failure | None:
    if whole_number(outcome.returned, tensors=True) is None:
        return Failure(f"expected a number of steps, got {describe_value(outcome.returned)}")
    return None


def two_bounds(outcome: Outcome) -> Failure | None:
    bounds = whole_numbers(outcome.returned)
    if bounds is None or len(bounds) != 2:
        return Failure(f"expected (start, end), got {describe_value(outcome.returned)}")
    return None


def last_batch() -> Property:
    """The last batch of a large dataset: Python's own slicing, range(n)[i·b:(i + 1)·b], is the oracle."""

    def case(ex: Example) -> Case:
        n, b = ex["num_examples"], ex["batch_size"]
        last = len(range(0, n, b)) - 1
        batch = range(n)[last * b:(last + 1) * b]
        return Case(ex, (Call("batch_bounds", (last, n, b)),), {"step": last, "expected": (batch.start, batch.stop)})

    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        got, expected = outcomes[0].returned, case.data["expected"]
        n, b = case.example["num_examples"], case.example["batch_size"]
        inputs = {"step": case.data["step"], "num_examples": n, "batch_size": b}
        if outcomes[0].problem is not None:
            return Failure(f"the call {outcomes[0].problem}", inputs=inputs)
        if whole_numbers(got) == list(expected):
            return None
        return Failure(f"batch_bounds({case.data['step']}, {n}, {b}), the last batch, returned {describe_value(got)}, "
                       f"expected {expected} (range(n)[start:end] of that batch)", expected, got, inputs=inputs)

    examples = LARGE.map(lambda ex: {k: v for k, v in ex.items() if k != "drop_last"})
    return Property("batch_bounds", "last batch of a large dataset (up to 10¹² examples)", public=True,
                    examples=examples, case=case, judge=judge, formula="start = i·b,  end = min(start + b, n)")


def properties() -> list[Property]:
    with_epochs = st.tuples(SIZES, s.epoch_counts).map(lambda p: {**p[0], "epochs": p[1]})
    large_with_epochs = st.tuples(LARGE, st.integers(1, 1000)).map(lambda p: {**p[0], "epochs": p[1]})
    small = st.fixed_dictionaries({"num_examples": st.integers(1, 200), "batch_size": st.integers(1, 64)})
    return [
        # (and the lecture's dataset with drop_last: a whole number of batches, where ceil − 1 ≠ floor)
        count("steps_per_epoch", "equals len(DataLoader)", SIZES,
              explicit=(*LECTURE, {**LECTURE[0], "drop_last": True})),
        count("steps_per_epoch", "dataset smaller than one batch", SMALLER_THAN_A_BATCH),
        count("steps_per_epoch", "drop_last defaults to False, as in DataLoader", SIZES, default_drop_last=True,
              explicit=({"num_examples": 3_201, "batch_size": 32, "drop_last": False},)),
        returns_int("steps_per_epoch", SIZES),
        count("total_steps", "equals epochs × len(DataLoader)", with_epochs, epochs=True,
              explicit=({**LECTURE[1], "epochs": 1}, {**LECTURE[0], "epochs": 0})),
        count("total_steps", "drop_last defaults to False, as in DataLoader", with_epochs, epochs=True,
              default_drop_last=True),
        # (epochs ≥ 1: an epoch of 0 steps, n = 0 or n < b with drop_last, must count 0 however many epochs)
        count("total_steps", "dataset smaller than one batch", st.tuples(SMALLER_THAN_A_BATCH, st.integers(1, 50))
              .map(lambda p: {**p[0], "epochs": p[1]}), epochs=True,
              explicit=({"num_examples": 10, "batch_size": 32, "drop_last": True, "epochs": 3},)),
        returns_int("total_steps", with_epochs),
        batch_slices(),
        count("steps_per_epoch", "large datasets (up to 10¹² examples)", LARGE),
        count("total_steps", "large datasets over many epochs", large_with_epochs, epochs=True),
        last_batch(),
        leaves_global_state("steps_per_epoch", SIZES,
                            lambda ex: (ex["num_examples"], ex["batch_size"], ex["drop_last"]), a_count),
        leaves_global_state("total_steps", with_epochs,
                            lambda ex: (ex["num_examples"], ex["batch_size"], ex["epochs"], ex["drop_last"]), a_count),
        leaves_global_state("batch_bounds", small.flatmap(lambda ex: st.integers(0, -(-ex["num_examples"] // ex[
            "batch_size"]) - 1).map(lambda i: {**ex, "step": i})),
            lambda ex: (ex["step"], ex["num_examples"], ex["batch_size"]), two_bounds),
    ]
