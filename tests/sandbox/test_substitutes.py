"""Job.substitutes: a helper the student got wrong is replaced while another function is graded."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from grader.sandbox import Job, Request, Sandbox
from tests.sandbox.conftest import write_student

STUDENT = """
def bias_correction(beta, t):
    return beta ** t  # wrong: that is the power, not 1 - beta^t

def corrected(m, beta, t):
    return m / bias_correction(beta, t)
"""


def test_the_named_helper_is_replaced_for_this_job_only(sandbox: Sandbox, tmp_path: Path) -> None:
    path = write_student(tmp_path, STUDENT)
    m = torch.tensor(0.05, dtype=torch.float64)
    request = Request("call", (m, 0.9, 1))
    plain = sandbox.run(Job(path, "corrected", [request]))
    fixed = sandbox.run(Job(path, "corrected", [request], substitutes=("bias_correction",)))
    assert plain.replies[0].value.tensor.item() == pytest.approx(0.05 / 0.9)  # type: ignore[union-attr]
    assert fixed.replies[0].value.tensor.item() == pytest.approx(0.5)  # type: ignore[union-attr]  # 0.05 / 0.1
    own = sandbox.run(Job(path, "bias_correction", [Request("call", (0.9, 1))]))
    assert own.replies[0].value == pytest.approx(0.9)  # the helper itself is still graded as written


def test_a_module_without_the_helper_is_left_alone(sandbox: Sandbox, tmp_path: Path) -> None:
    path = write_student(tmp_path, "def f(x):\n    return 'bias_correction' in globals()\n")
    result = sandbox.run(Job(path, "f", [Request("call", (1,))], substitutes=("bias_correction",)))
    assert result.replies[0].value is False


def test_unknown_substitutes_are_refused_before_anything_runs(sandbox: Sandbox, tmp_path: Path) -> None:
    path = write_student(tmp_path, STUDENT)
    with pytest.raises(ValueError, match="not stand-ins"):
        sandbox.run(Job(path, "corrected", [], substitutes=("rmsprop_step",)))


REACH_FOR_STAND_INS = """
def sgd_step(p, g, lr):
    return p + g  # wrong, so a caller's job may ask for the stand-in

def f():
    import gc
    found = set()
    try:
        import grader.sandbox.substitutes as s
        found |= set(s.SUBSTITUTES)
    except Exception:
        pass
    gc.unfreeze()
    names = {"momentum_step", "adam_step", "steps_per_epoch", "bias_correction"}
    for o in gc.get_objects():
        name = getattr(o, "__name__", None) if callable(o) else None
        if isinstance(name, str) and name in names:
            found.add(name)
    found |= {k for k in getattr(sgd_step, "__globals__", {}) if k in names}
    return sorted(found), sgd_step(1.0, 1.0, 0.5)
"""


@pytest.mark.parametrize("asked", [(), ("sgd_step",)])
def test_a_worker_holds_only_the_stand_ins_its_job_asked_for(sandbox: Sandbox, tmp_path: Path,
                                                              asked: tuple[str, ...]) -> None:
    """A stand-in is the answer to its own exercise: it must not be importable, readable or findable in
    memory in any other job, nor reachable from another stand-in."""
    path = write_student(tmp_path, REACH_FOR_STAND_INS)
    result = sandbox.run(Job(path, "f", [Request()], substitutes=asked))
    assert result.status == "ok", result.detail
    assert result.replies[0].raised is None, result.replies[0].raised
    found, value = result.replies[0].value  # type: ignore[misc]
    assert found == []
    assert value == (0.5 if asked else 2.0)
    assert result.replies[0].stand_ins == asked


def test_every_stand_in_computes_what_the_reference_does() -> None:
    """The stand-ins restate the lecture's formulas without solutions/' validation: they must not drift."""
    import solutions.epochs
    import solutions.optimizers
    from grader.sandbox.substitutes import SUBSTITUTES

    x, g, s1, s2 = (torch.tensor([0.5, -2.0, 3e-8], dtype=torch.float64) * k for k in (1, 0.3, 0.2, 0.05))
    args = {
        "sgd_step": (x, g, 0.1),
        "momentum_step": (x, g, s1, 0.1, 0.8),
        "adam_step": (x, g, s1, s2.abs(), 3, 0.01, 0.9, 0.99, 1e-8),
        "bias_correction": (0.9, 7),
        "steps_per_epoch": (3201, 32, False),
    }
    assert set(args) == set(SUBSTITUTES)
    for name, stand_in in SUBSTITUTES.items():
        reference = getattr(solutions.optimizers, name, None) or getattr(solutions.epochs, name)
        ours, theirs = stand_in(*args[name]), reference(*args[name])
        ours, theirs = (o if isinstance(o, tuple) else (o,) for o in (ours, theirs))
        for a, b in zip(ours, theirs, strict=True):
            assert torch.allclose(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64),
                                  rtol=1e-12, atol=0), name


NAMED_HELPER = """
import collections
import torch

class Other(tuple):
    pass

class MomentumResult(collections.namedtuple("Fields", "param velocity")):
    def __new__(cls, *args):
        raise RuntimeError("the stand-in must not run the student's constructor")

def momentum_step(param, grad, velocity, lr, gamma=0.9):
    v = gamma * velocity + 2 * lr * grad  # wrong
    return tuple.__new__(MomentumResult, (param - v, v))

def two_kinds(param, grad, velocity, lr, gamma=0.9):
    return Other((param, grad)) if lr < 0 else MomentumResult(param, grad)

def nesterov_step(param, velocity, grad_fn, lr, gamma=0.9):
    step = momentum_step(param, grad_fn(param - gamma * velocity), velocity, lr, gamma)
    return step.param, step.velocity, type(step).__name__
"""


def test_a_stand_in_answers_in_the_helpers_own_result_type(sandbox: Sandbox, tmp_path: Path) -> None:
    """A caller that reads its helper's NamedTuple by name runs with the stand-in as with a correct helper:
    the stand-in's values come back in the class the helper's code names (built without its constructor)."""
    from grader.sandbox import GradFn
    from grader.sandbox.stand_ins import _result_type

    path = write_student(tmp_path, NAMED_HELPER)
    x, v = torch.tensor([1.0], dtype=torch.float64), torch.tensor([0.5], dtype=torch.float64)
    grad_fn = GradFn("quadratic", {"a": torch.ones(1, dtype=torch.float64), "c": torch.zeros(1, dtype=torch.float64)})
    result = sandbox.run(Job(path, "nesterov_step", [Request("call", (x, v, grad_fn, 0.1))],
                             substitutes=("momentum_step",)))
    assert result.replies[0].raised is None, result.replies[0].raised
    param, velocity, kind = result.replies[0].value  # type: ignore[misc]
    expected_v = 0.9 * v + 0.1 * (x - 0.9 * v)
    assert torch.allclose(velocity.tensor, expected_v)
    assert torch.allclose(param.tensor, x - expected_v)
    assert kind == "MomentumResult"
    scope: dict[str, object] = {}
    exec(NAMED_HELPER, scope)  # noqa: S102 - our own test source
    assert _result_type(scope["two_kinds"], scope) is None  # two tuple classes named: no guess
