"""What comes back from a worker: exact values, honest metadata, and nothing a student object can fake."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import torch

from grader.sandbox import GradFn, Job, Opaque, Request, Sandbox, TensorValue
from tests.sandbox.conftest import write_student

RETURNS = """
import math, numpy as np, torch

class Liar(torch.Tensor):
    def __eq__(self, other):
        return True
    @property
    def dtype(self):
        return torch.float64
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func is torch.Tensor.__repr__:
            return "tensor([1., 2., 3.])"
        return super().__torch_function__(func, types, args, kwargs or {})

class AlwaysEqual:
    def __eq__(self, other):
        return True
    def __repr__(self):
        return "tensor([1., 2., 3.])"

class BadRepr:
    def __repr__(self):
        raise SystemExit("no repr for you")

class FakeFloat(float):
    pass

def subclass(x):
    return (x * 2).as_subclass(Liar)

def objects():
    return AlwaysEqual(), BadRepr(), FakeFloat(1.5), 2**100, {1: "int key"}, lambda: 0

def plain():
    return (None, True, -7, 2**63 - 1, float("nan"), float("-inf"), -0.0, "ünïcode", [1, (2, 3)], {"k": [None]})

def numbers():
    return np.float64(0.1), np.arange(3, dtype=np.int32), torch.tensor([1.5], dtype=torch.bfloat16), \\
        torch.tensor([True, False]), torch.zeros(2, 0), torch.tensor(3.0, requires_grad=True) * 2

def too_big():
    return torch.zeros(10**7 + 1, dtype=torch.bool), torch.zeros(2, dtype=torch.complex64)

def inplace(p, g, lr):
    p -= lr * g
    return p

def strided(x):
    return x.t()

def nesterov_step(param, velocity, grad_fn, lr, gamma=0.9):
    g = grad_fn(param - gamma * velocity)
    v = gamma * velocity + lr * g
    return param - v, v

def calls_grad_fn_oddly(grad_fn):
    return grad_fn(2.0), [grad_fn(torch.ones(1)) for _ in range(3)][0]
"""


def _run(sandbox: Sandbox, tmp_path: Path, function: str, *args: object, **kwargs: object) -> object:
    path = write_student(tmp_path, RETURNS)
    result = sandbox.run(Job(path, function, [Request("call", args, kwargs)]))
    assert result.status == "ok", result.detail
    assert result.replies[0].raised is None, result.replies[0].raised
    return result.replies[0]


def test_tensor_subclass_cannot_lie(sandbox: Sandbox, tmp_path: Path) -> None:
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float32)
    value = _run(sandbox, tmp_path, "subclass", x).value  # type: ignore[attr-defined]
    assert isinstance(value, TensorValue)
    assert type(value.tensor) is torch.Tensor
    assert value.type_name == "optimizers.Liar"
    assert value.tensor.dtype == torch.float32  # not the float64 its property claims
    assert torch.equal(value.tensor, x * 2)
    assert not torch.equal(value.tensor, x)


def test_non_wire_objects_become_opaque(sandbox: Sandbox, tmp_path: Path) -> None:
    always_equal, bad_repr, fake_float, huge, int_keys, fn = _run(sandbox, tmp_path, "objects").value  # type: ignore[attr-defined]
    assert always_equal == Opaque("optimizers.AlwaysEqual", "tensor([1., 2., 3.])")
    assert always_equal != torch.tensor([1.0, 2.0, 3.0]).tolist()
    assert bad_repr.type_name == "optimizers.BadRepr"
    assert bad_repr.repr == "<repr raised SystemExit>"
    assert fake_float.type_name == "optimizers.FakeFloat"
    assert isinstance(huge, Opaque)
    assert "int64" in huge.repr
    assert isinstance(int_keys, Opaque)
    assert isinstance(fn, Opaque)
    assert fn.type_name == "function"


def test_plain_values_round_trip_exactly(sandbox: Sandbox, tmp_path: Path) -> None:
    value = _run(sandbox, tmp_path, "plain").value  # type: ignore[attr-defined]
    none, true, neg, big, nan, neg_inf, neg_zero, text, nested, mapping = value
    assert (none, true, neg, big, text, nested, mapping) == (
        None, True, -7, 2**63 - 1, "ünïcode", [1, (2, 3)], {"k": [None]}
    )
    assert type(true) is bool
    assert math.isnan(nan)
    assert struct.pack("<d", nan) == struct.pack("<d", float("nan"))
    assert neg_inf == -math.inf
    assert math.copysign(1.0, neg_zero) == -1.0


def test_numbers_keep_dtype_and_metadata(sandbox: Sandbox, tmp_path: Path) -> None:
    scalar, ints, bf16, flags, empty, grad = _run(sandbox, tmp_path, "numbers").value  # type: ignore[attr-defined]
    assert scalar.type_name == "numpy.float64"
    assert scalar.tensor.dtype == torch.float64
    assert scalar.tensor.item() == 0.1
    assert ints.type_name == "numpy.ndarray"
    assert ints.tensor.dtype == torch.int32
    assert ints.tensor.tolist() == [0, 1, 2]
    assert bf16.tensor.dtype == torch.bfloat16
    assert bf16.tensor.item() == 1.5
    assert flags.tensor.tolist() == [True, False]
    assert empty.tensor.shape == (2, 0)
    assert grad.requires_grad is True
    assert grad.device == "cpu"
    assert grad.tensor.requires_grad is False


def test_oversized_and_unsupported_tensors_are_not_sent(sandbox: Sandbox, tmp_path: Path) -> None:
    big, complex_ = _run(sandbox, tmp_path, "too_big").value  # type: ignore[attr-defined]
    assert isinstance(big, Opaque)
    assert "not sent" in big.repr
    assert isinstance(complex_, Opaque)
    assert "complex64" in complex_.repr


def test_in_place_modification_shows_in_inputs_after(sandbox: Sandbox, tmp_path: Path) -> None:
    p = torch.tensor([1.0, 2.0], dtype=torch.float64)
    g = torch.tensor([10.0, 10.0], dtype=torch.float64)
    reply = _run(sandbox, tmp_path, "inplace", p, g, 0.1)
    after_p, after_g, lr = reply.inputs_after  # type: ignore[attr-defined]
    assert torch.equal(after_p.tensor, torch.tensor([0.0, 1.0], dtype=torch.float64))
    assert torch.equal(after_g.tensor, g)
    assert lr == 0.1
    assert reply.value is after_p  # type: ignore[attr-defined]  # it returned its own input
    assert torch.equal(p, torch.tensor([1.0, 2.0], dtype=torch.float64))  # ours is untouched


def test_inputs_are_not_sent_back_unless_asked(sandbox: Sandbox, tmp_path: Path) -> None:
    p, g = torch.tensor([1.0, 2.0], dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    path = write_student(tmp_path, RETURNS)
    quiet, asked = Request("call", (p, g, 0.5), report_inputs=False), Request("call", (p, g, 0.5))
    result = sandbox.run(Job(path, "inplace", [quiet, asked]))
    assert result.status == "ok", result.detail
    assert result.replies[0].inputs_after == ()
    assert torch.equal(result.replies[0].value.tensor, torch.tensor([0.5, 1.5], dtype=torch.float64))  # type: ignore[union-attr]
    assert len(result.replies[1].inputs_after) == 3
    assert b"report_inputs" in quiet.frame
    assert b"report_inputs" not in asked.frame  # the default frame is unchanged


def test_aliasing_survives_the_trip(sandbox: Sandbox, tmp_path: Path) -> None:
    x = torch.tensor([2.0], dtype=torch.float64)
    after = _run(sandbox, tmp_path, "inplace", x, x, 0.5).inputs_after  # type: ignore[attr-defined]
    assert after[0] is after[1]
    assert after[0].tensor.item() == 1.0  # x -= 0.5 * x on one shared tensor


def test_non_contiguous_results(sandbox: Sandbox, tmp_path: Path) -> None:
    x = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    value = _run(sandbox, tmp_path, "strided", x).value  # type: ignore[attr-defined]
    assert torch.equal(value.tensor, x.t())


def test_grad_fn_records_points(sandbox: Sandbox, tmp_path: Path) -> None:
    param = torch.tensor([1.0, -1.0], dtype=torch.float64)
    velocity = torch.tensor([0.5, 0.5], dtype=torch.float64)
    a = torch.tensor([2.0, 3.0], dtype=torch.float64)
    c = torch.tensor([0.0, 1.0], dtype=torch.float64)
    reply = _run(sandbox, tmp_path, "nesterov_step", param, velocity, GradFn("quadratic", {"a": a, "c": c}), 0.1)
    lookahead = param - 0.9 * velocity
    (point,) = reply.grad_fn_points  # type: ignore[attr-defined]
    assert torch.equal(point.tensor, lookahead)
    v = 0.9 * velocity + 0.1 * a * (lookahead - c)
    new_param, new_v = reply.value  # type: ignore[attr-defined]
    assert torch.allclose(new_param.tensor, param - v)
    assert torch.allclose(new_v.tensor, v)
    grad_fn_after = reply.inputs_after[2]  # type: ignore[attr-defined]
    assert isinstance(grad_fn_after, GradFn)
    assert grad_fn_after.objective == "quadratic"


def test_grad_fn_called_with_odd_points(sandbox: Sandbox, tmp_path: Path) -> None:
    fn = GradFn("quadratic", {"a": torch.tensor(1.0), "c": torch.tensor(0.0)})
    reply = _run(sandbox, tmp_path, "calls_grad_fn_oddly", fn)
    points = reply.grad_fn_points  # type: ignore[attr-defined]
    assert points[0] == 2.0
    assert len(points) == 4
    assert all(isinstance(p, TensorValue) for p in points[1:])
