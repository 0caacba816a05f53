"""Feedback that helps: the failing call's own inputs, counter-examples that keep what the title promises,
no noise-sized numbers, and a hint for float32 precision in float64 work."""

from pathlib import Path

import torch

from grader.suite.engine import Suite
from grader.suite.registry import suite_properties
from grader.suite.runners import InProcessRunner
from grader.suite.shrink import simpler_examples
from tests.grading.conftest import submission_with

FLOAT32_BETAS = '''
def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    b1, b2 = torch.tensor(beta1), torch.tensor(beta2)  # float32 by default
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    return param - lr * (m / (1 - b1 ** t)) / ((v / (1 - b2 ** t)).sqrt() + eps), m, v
'''
LATE_BUG = '''
def rmsprop_step(param, grad, r, lr, decay=0.9, delta=1e-6):
    new_r = decay * r + (1 - decay) * grad * grad
    if bool((r > 0).any()):  # right on the first step from r = 0, wrong afterwards
        new_r = new_r + 1.0
    return param - lr / torch.sqrt(delta + new_r) * grad, new_r
'''


def _failed(suite: Suite, tmp_path: Path, function: str, source: str) -> dict[str, object]:
    results = suite.grade(InProcessRunner(), submission_with(tmp_path, function, source))
    return {r.prop.title: r for r in results if r.status == "failed"}


def test_float32_precision_in_float64_work_is_named(suite: Suite, tmp_path: Path) -> None:
    failed = _failed(suite, tmp_path, "adam_step", FLOAT32_BETAS)
    hints = [r.failure.hint for r in failed.values() if r.failure and r.failure.hint]  # type: ignore[attr-defined]
    assert any("float32 precision" in h for h in hints), hints


def test_a_trajectory_failure_shows_the_failing_steps_inputs(suite: Suite, tmp_path: Path) -> None:
    from grader.grade.report import failure_text

    r = _failed(suite, tmp_path, "rmsprop_step", LATE_BUG)["multi-step trajectory on the elongated bowl (6 steps)"]
    text = failure_text(r)  # type: ignore[arg-type]
    step = int(text.split("at step ")[1].split(" ")[0])
    assert step >= 2
    assert "Inputs: " in text
    inputs = text.split("Inputs: ")[1].splitlines()[0]
    assert "r = 0" not in inputs.replace("r = 0.", "")  # the state at that step, not the zero start
    assert not any(item.startswith(("a = ", "c = ")) for item in inputs.split("; "))  # already in grad


def test_a_non_zero_state_counter_example_stays_non_zero(suite: Suite, tmp_path: Path) -> None:
    r = _failed(suite, tmp_path, "rmsprop_step", LATE_BUG)["matches the reference from non-zero state (float64)"]
    assert bool(r.example["r"].any())  # type: ignore[attr-defined]


def test_noise_sized_inputs_shrink_to_zero_but_tiny_gradients_stay() -> None:
    ex = {"dtype": torch.float64, "w": 2.1e-66, "b": 0.5, "x": torch.tensor([1.6e-105, 2.0], dtype=torch.float64),
          "grad": torch.tensor([3e-9, 1.0], dtype=torch.float64), "eps": 1e-8}
    first = simpler_examples(ex)[0]
    assert first["w"] == 0.0
    assert first["x"].tolist() == [0.0, 2.0]
    assert first["grad"].tolist() == [3e-9, 1.0]
    assert first["eps"] == 1e-8


def test_shrinking_keeps_large_t_large() -> None:
    titles = ("large t (bias correction fades)", "large t (up to 10⁶ steps)",
              "large t (up to 10⁶ steps): 1 − β²ᵗ = (1 − βᵗ)(1 + βᵗ)")
    props = [p for p in suite_properties() if p.title in titles]
    assert len(props) == 4  # adam_step and adamw_step; bias_correction, hidden and public
    assert all(p.accepts is not None and not p.accepts({"t": 3}) and p.accepts({"t": 5000}) for p in props)


def test_a_large_t_counter_example_never_shrinks_to_t_0(suite: Suite, tmp_path: Path) -> None:
    """The public large-t property also calls bias_correction(β, t // 2): shrunk to t = 1, that call is t = 0,
    outside the contract (a student who checks t ≥ 1 would be shown their own error for an input never allowed)."""
    source = "def bias_correction(beta, t):\n    return 1 - torch.tensor(beta) ** t  # float32\n"
    results = suite.grade(InProcessRunner(), submission_with(tmp_path, "bias_correction", source))
    failed = {r.prop.title: r for r in results if r.status == "failed" and r.prop.function == "bias_correction"}
    shown = failed["large t (up to 10⁶ steps): 1 − β²ᵗ = (1 − βᵗ)(1 + βᵗ)"].example
    assert shown is not None
    assert shown["t"] >= 1_000, shown


SWAPPED_OUTPUTS = '''
def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return param - lr * m_hat / (v_hat.sqrt() + eps), v, m
'''


def test_outputs_in_another_order_are_named(suite: Suite, tmp_path: Path) -> None:
    """`return param, v, m` gets 'm = …, expected …' alone unless the hint says what is wrong."""
    failed = _failed(suite, tmp_path, "adam_step", SWAPPED_OUTPUTS)
    hints = [r.failure.hint for r in failed.values() if r.failure and r.failure.hint]  # type: ignore[attr-defined]
    assert any("return (param, m, v) in that order" in h for h in hints), hints


LAST_BATCH_FULL = '''
def batch_bounds(step, num_examples, batch_size):
    start = step * batch_size
    return start, start + batch_size  # the last batch overruns the data
'''


def test_a_batch_bounds_failure_shows_the_failing_call_with_its_step(suite: Suite, tmp_path: Path) -> None:
    from grader.grade.report import failure_text

    failed = _failed(suite, tmp_path, "batch_bounds", LAST_BATCH_FULL)
    for title in ("slices exactly DataLoader's batches", "last batch of a large dataset (up to 10¹² examples)"):
        text = failure_text(failed[title])  # type: ignore[arg-type]
        call = text.split("batch_bounds(")[1].split(")")[0]  # step, n, b of the call in the message
        step, n, b = (int(x) for x in call.split(", "))
        inputs = text.split("Inputs: ")[1].splitlines()[0]
        assert inputs == f"step = {step}; num_examples = {n}; batch_size = {b}", inputs


def test_long_whole_numbers_shrink_to_two_significant_figures_and_stay_large() -> None:
    """A count of 1335894002 reads as noise; 1300000000 keeps the size a 'large datasets' property promises."""
    ex = {"num_examples": 1_335_894_002, "batch_size": 3_816_840, "epochs": 37, "drop_last": True}
    assert {"num_examples": 1_300_000_000, "batch_size": 3_800_000, "epochs": 37, "drop_last": True} in (
        simpler_examples(ex))
