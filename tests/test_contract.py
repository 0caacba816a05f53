"""The contract every reference function keeps: pure, and same shape, dtype and device out as in."""

from collections.abc import Callable

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from grader.suite import strategies as s
from solutions import optimizers as ref
from solutions.regression import mse_gradients


def objective_gradient(x: torch.Tensor) -> torch.Tensor:
    return 3.0 * x - 1.0


# name -> (call taking (param, grad, state) and returning outputs, number of state tensors)
STEPPERS: dict[str, tuple[Callable[..., object], int]] = {
    "sgd_step": (lambda x, g, st_: ref.sgd_step(x, g, 0.1), 0),
    "momentum_step": (lambda x, g, st_: ref.momentum_step(x, g, st_[0], 0.1), 1),
    "nesterov_step": (lambda x, g, st_: ref.nesterov_step(x, st_[0], objective_gradient, 0.1), 1),
    "adagrad_step": (lambda x, g, st_: ref.adagrad_step(x, g, st_[0], 0.1), 1),
    "rmsprop_step": (lambda x, g, st_: ref.rmsprop_step(x, g, st_[0], 0.1), 1),
    "adam_step": (lambda x, g, st_: ref.adam_step(x, g, st_[0], st_[1], 3), 2),
    "adamw_step": (lambda x, g, st_: ref.adamw_step(x, g, st_[0], st_[1], 3), 2),
}


def as_tuple(out: object) -> tuple[torch.Tensor, ...]:
    return out if isinstance(out, tuple) else (out,)  # type: ignore[return-value]


@pytest.mark.parametrize("name", STEPPERS)
@given(data=st.data(), shape=s.shapes, dtype=st.sampled_from(s.DTYPES))
def test_pure_and_preserves_shape_and_dtype(name: str, data: st.DataObject, shape, dtype) -> None:
    call, n_state = STEPPERS[name]
    x = data.draw(s.tensors(s.parameter_values, shape, dtype))
    g = data.draw(s.tensors(s.gradient_values, shape, dtype))
    state = [data.draw(s.tensors(s.positive_values, shape, dtype)) for _ in range(n_state)]
    copies = [t.clone() for t in (x, g, *state)]
    outputs = as_tuple(call(x, g, state))
    for before, after in zip(copies, (x, g, *state), strict=True):
        assert torch.equal(before, after), f"{name} modified an input"
    assert len(outputs) == 1 + n_state
    for out in outputs:
        assert type(out) is torch.Tensor
        assert (out.shape, out.dtype, out.device) == (x.shape, dtype, x.device)
        assert all(out.data_ptr() != t.data_ptr() for t in (x, g, *state) if out.numel())


def test_float32_in_float32_out_for_scalars_and_regression() -> None:
    x = torch.tensor([1.0, 2.0, 3.0])
    dw, db = mse_gradients(0.5, -1.0, x, 2 * x)
    assert dw.dtype == db.dtype == torch.float32
    assert dw.dim() == db.dim() == 0
    assert type(ref.bias_correction(0.9, 3)) is float


@pytest.mark.cuda
@pytest.mark.parametrize("name", STEPPERS)
def test_cuda_in_cuda_out(name: str) -> None:
    call, n_state = STEPPERS[name]
    x, g = torch.randn(5, device="cuda"), torch.randn(5, device="cuda")
    state = [torch.rand(5, device="cuda") for _ in range(n_state)]
    for out in as_tuple(call(x, g, state)):
        assert out.device.type == "cuda"
        assert out.dtype == torch.float32


def test_mse_gradients_equal_autograd() -> None:
    x = torch.linspace(-2, 3, 7, dtype=torch.float64)
    y = torch.sin(x)
    w = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(-0.2, dtype=torch.float64, requires_grad=True)
    ((y - (w * x + b)) ** 2).mean().backward()
    dw, db = mse_gradients(0.7, -0.2, x, y)
    torch.testing.assert_close(dw, w.grad)
    torch.testing.assert_close(db, b.grad)


F64 = torch.float64


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: ref.adam_step(*[torch.zeros(2, dtype=F64)] * 4, t=0), ["t=0", "≥ 1"]),
        (lambda: ref.bias_correction(0.9, 0), ["t=0"]),
        (lambda: ref.bias_correction(1.0, 3), ["beta=1.0", "[0, 1)"]),
        (lambda: ref.sgd_step(torch.zeros(2), torch.zeros(3), 0.1), ["grad", "(3,)", "param", "(2,)"]),
        (lambda: ref.sgd_step(torch.zeros(2), torch.zeros(2, dtype=F64), 0.1), ["grad", "float64"]),
        (lambda: ref.momentum_step(torch.zeros(2), torch.zeros(2), [0.0, 0.0], 0.1), ["velocity", "list"]),
        (lambda: ref.adagrad_step(torch.zeros(2), torch.zeros(2), torch.zeros(2), lr=-1.0), ["lr=-1.0"]),
        (lambda: ref.sgd_step(torch.zeros(2, dtype=torch.int64), torch.zeros(2), 0.1), ["param", "int64"]),
        (lambda: mse_gradients(1.0, 0.0, torch.zeros(2, 2), torch.zeros(2, 2)), ["x", "1-D"]),
    ],
)
def test_invalid_arguments_name_the_argument_and_value(call, words: list[str]) -> None:
    with pytest.raises(ValueError, match=r"expected|Fix") as info:
        call()
    for word in words:
        assert word in str(info.value)
