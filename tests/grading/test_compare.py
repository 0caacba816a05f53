"""compare.first_mismatch: tolerances, non-finite values, and answers that are not comparable at all."""

import math

import pytest
import torch

from grader.suite.compare import TOLERANCES, describe_value, first_mismatch
from grader.suite.model import TensorOut

EXPECTED = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)


def test_within_tolerance_is_close_and_just_outside_is_not() -> None:
    rtol, atol = TOLERANCES[torch.float64]
    inside = EXPECTED + 0.5 * (atol + rtol * EXPECTED.abs())
    outside = EXPECTED.clone()
    outside[2] += 2 * (atol + rtol * 3.0)
    assert first_mismatch(inside, EXPECTED, torch.float64) is None
    mismatch = first_mismatch(outside, EXPECTED, torch.float64)
    assert mismatch is not None
    assert mismatch.index == (2,)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_where_finite_is_expected_is_never_close(bad: float) -> None:
    got = EXPECTED.clone()
    got[1] = bad
    mismatch = first_mismatch(got, EXPECTED, torch.float64)
    assert mismatch is not None
    assert mismatch.index == (1,)


@pytest.mark.parametrize(("got", "says"), [
    (torch.ones(2, dtype=torch.float64), "has shape (2,), expected (3,)"),
    (torch.ones(3, 1, dtype=torch.float64), "has shape (3, 1), expected (3,)"),  # would broadcast
    (torch.ones(3, dtype=torch.complex128), "is a complex tensor"),
])
def test_answers_that_cannot_be_compared_are_mismatches_not_errors(got: torch.Tensor, says: str) -> None:
    mismatch = first_mismatch(got, EXPECTED, torch.float64)
    assert mismatch is not None
    assert says in mismatch.describe("param")


def test_other_real_dtypes_compare_by_value() -> None:
    """bfloat16 (which numpy cannot hold), ints and bools are compared by value; their dtype is the contract
    property's business."""
    assert first_mismatch(EXPECTED.to(torch.bfloat16), EXPECTED, torch.float32) is None
    assert first_mismatch(torch.tensor([1, -2, 3]), EXPECTED, torch.float64) is None
    assert first_mismatch(torch.tensor([True, True, True]), EXPECTED, torch.float64) is not None


@pytest.mark.parametrize(("value", "says"), [
    (TensorOut(torch.zeros(2, dtype=torch.float64), "cpu", "numpy.ndarray"),
     "numpy array of shape (2,), dtype float64"),
    (TensorOut(torch.tensor(3.0, dtype=torch.float64), "cpu", "numpy.float64"), "numpy.float64 3.0 (a numpy scalar)"),
    (TensorOut(torch.zeros(2), "cpu", "torch.Tensor"), "tensor of shape (2,), dtype torch.float32, on cpu"),
    (TensorOut(torch.zeros(2), "cpu", "optimizers.Liar"), "optimizers.Liar (a tensor subclass) of shape (2,)"),
])
def test_returned_values_are_described_as_what_they_were(value: TensorOut, says: str) -> None:
    """A numpy answer is named as one, not as a tensor subclass (the wire carries it as a tensor)."""
    assert describe_value(value).startswith(says)
