"""The ``rollout`` driver: a student's step iterated in the worker, its own outputs fed back in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from grader.sandbox import GradFn, Job, Request, Sandbox
from grader.sandbox.drivers import MAX_ROLLOUT_STEPS, rollout
from solutions import optimizers as ref
from tests.sandbox.conftest import write_student

F64 = torch.float64
A, C = torch.tensor([1.0, 10.0], dtype=F64), torch.zeros(2, dtype=F64)
START = torch.tensor([-4.0, 1.5], dtype=F64)
BOWL = GradFn("quadratic", {"a": A, "c": C})

STUDENT = """
import math, sys, torch

def sgd_step(param, grad, lr):
    return param - lr * grad

def nesterov_step(param, velocity, grad_fn, lr, gamma=0.9):
    v = gamma * velocity + lr * grad_fn(param - gamma * velocity)
    return param - v, v

def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return param - lr * m_hat / (v_hat.sqrt() + eps), m, v

CALLS = 0

def raises_at_3(param, grad, lr):
    global CALLS
    CALLS += 1
    if CALLS == 3:
        raise ZeroDivisionError("third time unlucky")
    return param - lr * grad

def inplace(param, grad, lr):
    param -= lr * grad  # mutates its input and returns it: the path must still hold each point
    return param

def blows_up(param, grad, lr):
    return param * 1e200

class Liar(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        raise SystemExit("no reading me")

class SneakyTuple(tuple):
    def __len__(self):
        raise SystemExit("no len")

class Shape:
    @property
    def __class__(self):
        raise SystemExit("isinstance probe")

def liar(param, grad, lr):
    return (param - lr * grad).as_subclass(Liar)

def sneaky(param, grad, lr):
    return SneakyTuple([param - lr * grad, grad])  # read through tuple's own methods: its __len__ never runs

def not_a_tensor(param, grad, lr):
    return Shape()

def pair(param, grad, lr):
    return param, grad

def wrong_shape(param, grad, lr):
    return torch.zeros(3, dtype=torch.float64)

def exits(param, grad, lr):
    sys.exit(3)

def slow(param, grad, lr):
    import time
    time.sleep(0.3)
    return param - lr * grad
"""


def layout(param: int = 0, grads: tuple[int, ...] = (1,), state: tuple[int, ...] = (), t: int | None = None,
           steps: int = 10) -> dict[str, Any]:
    return {"param": param, "grads": grads, "state": state, "t": t, "steps": steps}


def run(sandbox: Sandbox, path: Path, function: str, *requests: Request) -> list[dict[str, Any]]:
    result = sandbox.run(Job(path, function, list(requests)))
    assert result.status == "ok", result.detail
    values = [r.value for r in result.replies]
    assert all(isinstance(v, dict) and set(v) == {"path", "stopped"} for v in values)
    return values  # type: ignore[return-value]


def points(value: dict[str, Any]) -> torch.Tensor:
    return torch.stack([p.tensor for p in value["path"]]) if value["path"] else torch.zeros(0, 2, dtype=F64)


def reference_path(step: Any, steps: int, **hypers: float) -> torch.Tensor:
    x, state, out = START.clone(), [torch.zeros(2, dtype=F64)] * 2, []
    for t in range(1, steps + 1):
        if step is ref.sgd_step:
            x = step(x, A * (x - C), **hypers)
        elif step is ref.nesterov_step:
            x, state[0] = step(x, state[0], lambda p: A * (p - C), **hypers)
        else:
            x, state[0], state[1] = step(x, A * (x - C), state[0], state[1], t, **hypers)
        out.append(x)
    return torch.stack(out)


@pytest.fixture
def student(tmp_path: Path) -> Path:
    return write_student(tmp_path, STUDENT)


def test_correct_students_follow_the_reference(sandbox: Sandbox, student: Path) -> None:
    zeros = torch.zeros(2, dtype=F64)
    (sgd,) = run(sandbox, student, "sgd_step", Request("rollout", (START, BOWL, 0.18), layout(steps=40)))
    (nesterov,) = run(sandbox, student, "nesterov_step",
                      Request("rollout", (START, zeros, BOWL, 0.03), layout(grads=(), state=(1,))))
    (adam,) = run(sandbox, student, "adam_step",
                  Request("rollout", (START, BOWL, zeros, zeros, 1, 0.3), layout(state=(2, 3), t=4, steps=25)))
    for value, expected in ((sgd, reference_path(ref.sgd_step, 40, lr=0.18)),
                            (nesterov, reference_path(ref.nesterov_step, 10, lr=0.03)),
                            (adam, reference_path(ref.adam_step, 25, lr=0.3))):
        assert value["stopped"] is None
        torch.testing.assert_close(points(value), expected, rtol=1e-12, atol=1e-12)


def test_in_process_the_driver_gives_the_same_path() -> None:
    """The driver is plain code: with the reference (trusted) it yields the reference path."""
    outcome = rollout(ref.sgd_step, (START, BOWL, 0.18), layout(steps=40))
    assert outcome.raised is None
    assert isinstance(outcome.value, dict)
    torch.testing.assert_close(torch.stack(outcome.value["path"]), reference_path(ref.sgd_step, 40, lr=0.18))


def test_a_step_that_raises_stops_the_path_with_the_reason(sandbox: Sandbox, student: Path) -> None:
    (value,) = run(sandbox, student, "raises_at_3", Request("rollout", (START, BOWL, 0.18), layout()))
    assert len(value["path"]) == 2
    assert value["stopped"].startswith("step 3 raised ZeroDivisionError: third time unlucky")
    torch.testing.assert_close(points(value), reference_path(ref.sgd_step, 2, lr=0.18))


def test_in_place_steps_and_divergence(sandbox: Sandbox, student: Path) -> None:
    (inplace,) = run(sandbox, student, "inplace", Request("rollout", (START, BOWL, 0.18), layout()))
    torch.testing.assert_close(points(inplace), reference_path(ref.sgd_step, 10, lr=0.18))
    (big,) = run(sandbox, student, "blows_up", Request("rollout", (START, BOWL, 0.1), layout()))
    assert len(big["path"]) == 2
    assert not torch.isfinite(big["path"][-1].tensor).all()
    assert "not finite after step 2" in big["stopped"]


@pytest.mark.parametrize(("function", "why"), [
    ("sneaky", "step 1 returned optimizers.SneakyTuple of 2; expected 1 tensor"),
    ("not_a_tensor", "step 1: output 1 is optimizers.Shape, not a tensor"),
    ("wrong_shape", "step 1: output 1 is a tensor of shape (3,), expected (2,)"),
    ("pair", "step 1 returned tuple of 2; expected 1 tensor"),
    ("exits", "step 1 raised SystemExit: 3"),
])
def test_hostile_returns_stop_the_path_without_a_crash(sandbox: Sandbox, student: Path, function: str,
                                                        why: str) -> None:
    (value,) = run(sandbox, student, function, Request("rollout", (START, BOWL, 0.1), layout()))
    assert value["path"] == []
    assert value["stopped"].startswith(why), value["stopped"]


def test_a_tensor_subclass_is_read_through_the_base_type(sandbox: Sandbox, student: Path) -> None:
    """Its __torch_function__ (which exits) never runs: the data is read, and fed back as a plain tensor."""
    (value,) = run(sandbox, student, "liar", Request("rollout", (START, BOWL, 0.1), layout()))
    assert value["stopped"] is None
    torch.testing.assert_close(points(value), reference_path(ref.sgd_step, 10, lr=0.1))


def test_slow_steps_give_a_shorter_path_not_a_timeout(sandbox: Sandbox, student: Path) -> None:
    (value,) = run(sandbox, student, "slow", Request("rollout", (START, BOWL, 0.1), layout()))
    assert 1 <= len(value["path"]) < 10
    assert "took longer than" in value["stopped"]


def test_step_cap(sandbox: Sandbox, student: Path) -> None:
    (value,) = run(sandbox, student, "sgd_step",
                   Request("rollout", (START, BOWL, 0.01), layout(steps=MAX_ROLLOUT_STEPS)))
    assert len(value["path"]) == MAX_ROLLOUT_STEPS
    assert value["stopped"] is None
    with pytest.raises(ValueError, match=f"steps must be an int from 1 to {MAX_ROLLOUT_STEPS}"):
        sandbox.run(Job(student, "sgd_step", [Request("rollout", (START, BOWL, 0.01),
                                                      layout(steps=MAX_ROLLOUT_STEPS + 1))]))


@pytest.mark.parametrize(("args", "lay", "message"), [
    ((START, BOWL, 0.1), {"param": 0, "grads": (1,), "state": ()}, "needs exactly the keys"),
    ((START, BOWL, 0.1), layout(steps=0), "steps must be an int"),
    ((START, BOWL, 0.1), layout(param=3), "param must be an index into the 3 positional args"),
    ((START, BOWL, 0.1), layout(grads=[1]), "grads must be a tuple of indexes"),
    ((START, BOWL, 0.1), layout(grads=(0,)), "overlap"),
    ((START, START, 0.1), layout(), "grads \\(arg 1\\) must hold the GradFn"),
    ((1.0, BOWL, 0.1), layout(), "param \\(arg 0\\) must be a floating tensor"),
    ((START, BOWL, torch.zeros(3), 0.1), layout(state=(2,)), "state \\(arg 2\\) must be a tensor shaped like"),
    ((START, BOWL, 0.5, 0.1), layout(t=2), "t \\(arg 2\\) must be an int"),
])
def test_bad_layouts_are_refused_before_the_job_starts(sandbox: Sandbox, student: Path, args: tuple[Any, ...],
                                                       lay: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sandbox.run(Job(student, "sgd_step", [Request("rollout", args, lay)]))
