"""A grade is trustworthy: every plausible bug loses marks where it lives; correct variants never do."""

import inspect
from pathlib import Path

import pytest

from grader.suite.engine import Suite
from grader.suite.hidden.mutants import MUTANTS
from grader.suite.runners import InProcessRunner
from tests.grading.conftest import CORRECT, submission_with

ALL = [(f, m) for f, ms in MUTANTS.items() for m in ms]


@pytest.mark.parametrize(("function", "mutant"), ALL, ids=[m.fn.__name__ for _, m in ALL])
def test_every_mutant_loses_marks_on_its_function(suite: Suite, tmp_path: Path, function: str, mutant) -> None:
    source = inspect.getsource(mutant.fn).replace(f"def {mutant.fn.__name__}(", f"def {function}(")
    results = suite.grade(InProcessRunner(), submission_with(tmp_path, function, source))
    failed = [r for r in results if r.status == "failed"]
    assert any(r.prop.function == function for r in failed), f"{mutant.fn.__name__} was not caught"
    # Every other function keeps its marks, even one that calls the broken function in this submission
    # (the demo student's adam_step calls bias_correction, adamw_step calls adam_step, total_steps calls
    # steps_per_epoch): grader/suite/delegation.py and HELPERS in contract.py.
    assert {r.prop.function for r in failed} == {function}, [r.prop.name for r in failed]


@pytest.mark.parametrize("mutant", MUTANTS["bias_correction"], ids=lambda m: m.fn.__name__)
def test_a_wrong_helper_is_charged_once(suite: Suite, tmp_path: Path, mutant) -> None:
    """The demo student's adam_step calls its own bias_correction; a bug there costs bias_correction only."""
    source = inspect.getsource(mutant.fn).replace(f"def {mutant.fn.__name__}(", "def bias_correction(")
    results = suite.grade(InProcessRunner(), submission_with(tmp_path, "bias_correction", source))
    assert {r.prop.function for r in results if r.status == "failed"} == {"bias_correction"}
    adam = [r for r in results if r.prop.function in ("adam_step", "adamw_step") and r.status != "skipped"]
    assert all("standing in" in r.note for r in adam)
    assert not any(r.note for r in results if r.prop.function not in ("adam_step", "adamw_step"))


def test_compensating_helper_bugs_are_not_hidden(suite: Suite, tmp_path: Path) -> None:
    """A wrong bias_correction undone inside adam_step: both deviate from the contract, both are charged."""
    source = """
def bias_correction(beta, t):
    return beta ** t

def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m_hat = m / (1 - bias_correction(beta1, t))
    v_hat = v / (1 - bias_correction(beta2, t))
    return param - lr * m_hat / (v_hat.sqrt() + eps), m, v
"""
    results = suite.grade(InProcessRunner(), submission_with(tmp_path, "bias_correction", source))
    assert {"bias_correction", "adam_step"} <= {r.prop.function for r in results if r.status == "failed"}


def test_mutants_get_recognised_in_feedback(suite: Suite, tmp_path: Path) -> None:
    mutant = next(m for m in MUTANTS["adam_step"] if "eps_inside" in m.fn.__name__)
    source = inspect.getsource(mutant.fn).replace(f"def {mutant.fn.__name__}(", "def adam_step(")
    results = suite.grade(InProcessRunner(), submission_with(tmp_path, "adam_step", source))
    hints = {r.failure.hint for r in results if r.status == "failed" and r.failure}
    assert mutant.hint in hints


ALTERNATIVES = {
    "adam_step": '''
def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = m.clone(); v = v.clone()
    m.mul_(beta1).add_((1 - beta1) * grad)
    v.mul_(beta2).add_((1 - beta2) * grad ** 2)
    m_hat = m / (1 - torch.tensor(beta1, dtype=torch.float64) ** t).item()
    v_hat = v / (1 - beta2 ** t)
    return param - lr * m_hat / (v_hat ** 0.5 + eps), m, v
''',
    "adagrad_step": '''
def adagrad_step(param, grad, r, lr, delta=1e-7):
    new_r = torch.addcmul(r, grad, grad)
    return torch.addcdiv(param, grad, new_r.sqrt().add(delta), value=-lr), new_r
''',
    "steps_per_epoch": '''
def steps_per_epoch(num_examples, batch_size, drop_last=False):
    full, rest = divmod(num_examples, batch_size)
    return int(full + (1 if rest and not drop_last else 0))
''',
    "mse_gradients": '''
def mse_gradients(w, b, x, y):
    residual = y - (w * x + b)
    return torch.mean(-2 * x * residual), torch.mean(-2 * residual)
''',
    "sgd_step": '''
def sgd_step(param, grad, lr):
    return torch.add(param, grad, alpha=-lr)
''',
    "nesterov_step": '''
def nesterov_step(param, velocity, grad_fn, lr, gamma=0.9):
    _ = grad_fn(param)  # a wasted look at x_t: not wrong, the look-ahead gradient is what is used
    ahead = param - gamma * velocity
    velocity = gamma * velocity + lr * grad_fn(ahead)
    return param - velocity, velocity
''',
    "momentum_step": '''
def momentum_step(param, grad, velocity, lr, gamma=0.9):
    v = torch.lerp(lr / (1 - gamma) * grad, velocity, gamma) if gamma != 1 else velocity + lr * grad
    return param.sub(v), v
''',
    "rmsprop_step": '''
def rmsprop_step(param, grad, r, lr, decay=0.9, delta=1e-6):
    r = r * decay + grad.square() * (1 - decay)
    return param - lr * grad * torch.rsqrt(r + delta), r
''',
    "adamw_step": '''
def adamw_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    param = param - lr * weight_decay * param
    m = torch.lerp(grad, m, beta1)
    v = beta2 * v + (1 - beta2) * grad * grad
    denom = (v / (1 - beta2 ** t)).sqrt() + eps
    return torch.addcdiv(param, m / (1 - beta1 ** t), denom, value=-lr), m, v
''',
    "bias_correction": '''
def bias_correction(beta, t):
    import numpy as np
    return 1 - np.power(beta, t)  # a numpy.float64, which is a Python float
''',
    "batch_bounds": '''
def batch_bounds(step, num_examples, batch_size):
    start = step * batch_size
    return [start, min(start + batch_size, num_examples)]
''',
    "total_steps": '''
def total_steps(num_examples, batch_size, epochs, drop_last=False):
    per_epoch = num_examples // batch_size if drop_last else math.ceil(num_examples / batch_size)
    return epochs * per_epoch
''',
}


def test_the_differently_written_correct_student_keeps_every_mark(suite: Suite) -> None:
    files = {p.stem: p for p in CORRECT.glob("*.py")}
    failed = [r.prop.name for r in suite.grade(InProcessRunner(), files) if r.status == "failed"]
    assert failed == []


@pytest.mark.parametrize("function", sorted(ALTERNATIVES))
def test_correct_alternatives_keep_every_mark(suite: Suite, tmp_path: Path, function: str) -> None:
    results = suite.grade(InProcessRunner(), submission_with(tmp_path, function, ALTERNATIVES[function]))
    assert [r.prop.name for r in results if r.status == "failed"] == []
