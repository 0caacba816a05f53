"""Steps and batches agree with a real torch DataLoader for hypothesis-drawn sizes, n < b included."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from grader.suite.strategies import batch_sizes, dataset_sizes, epoch_counts
from solutions.epochs import batch_bounds, steps_per_epoch, total_steps


@given(n=dataset_sizes, b=batch_sizes, drop_last=st.booleans())
def test_steps_per_epoch_is_len_of_dataloader(n: int, b: int, drop_last: bool) -> None:
    assert steps_per_epoch(n, b, drop_last) == len(DataLoader(range(n), batch_size=b, drop_last=drop_last))


@given(n=st.integers(0, 40), extra=st.integers(1, 100), drop_last=st.booleans())
def test_dataset_smaller_than_one_batch(n: int, extra: int, drop_last: bool) -> None:
    b = n + extra
    assert steps_per_epoch(n, b, drop_last) == len(DataLoader(range(n), batch_size=b, drop_last=drop_last))


@given(n=dataset_sizes, b=batch_sizes, epochs=epoch_counts, drop_last=st.booleans())
def test_total_steps_counts_every_epoch(n: int, b: int, epochs: int, drop_last: bool) -> None:
    loader = DataLoader(range(n), batch_size=b, drop_last=drop_last)
    assert total_steps(n, b, epochs, drop_last) == epochs * len(loader)


@given(n=st.integers(1, 300), b=st.integers(1, 64))
def test_batch_bounds_slice_the_dataloaders_batches(n: int, b: int) -> None:
    for step, batch in enumerate(DataLoader(range(n), batch_size=b)):
        assert batch_bounds(step, n, b) == (int(batch[0]), int(batch[-1]) + 1)


@pytest.mark.parametrize(
    ("call", "names"),
    [
        (lambda: steps_per_epoch(100, 0), ["batch_size", "0"]),
        (lambda: steps_per_epoch(-1, 10), ["num_examples", "-1"]),
        (lambda: steps_per_epoch(10.0, 3), ["num_examples", "int"]),
        (lambda: total_steps(10, 3, -2), ["epochs", "-2"]),
        (lambda: batch_bounds(4, 10, 3), ["step", "4", "0 to 3"]),
        (lambda: batch_bounds(-1, 10, 3), ["step", "-1"]),
    ],
)
def test_invalid_arguments_name_the_argument_and_value(call, names: list[str]) -> None:
    with pytest.raises(ValueError, match="expected|steps 0 to") as info:
        call()
    for name in names:
        assert name in str(info.value)
