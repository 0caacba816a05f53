"""A grade is trustworthy: every plausible bug loses marks where it lives; correct variants never do."""

import sys
from pathlib import Path

import pytest

from grader.suite.contract import HELPERS, MODULE_OF
from grader.suite.engine import PropertyResult, Suite
from grader.suite.hidden.mutants import MUTANTS
from grader.suite.runners import InProcessRunner
from tests.grading.alternatives import ALTERNATIVES
from tests.grading.conftest import CORRECT, submission_with

ALL = [(f, m) for f, ms in MUTANTS.items() for m in ms]
REFERENCE = {m: Path(__file__).resolve().parents[2] / "solutions" / f"{m}.py"
             for m in ("optimizers", "epochs", "regression")}


def counter_examples_the_reference_fails(results: list[PropertyResult]) -> list[str]:
    """Failed properties whose shown (shrunk) counter-example is no input of the contract, or one on which the
    reference fails too: feedback must show a case a correct solution passes."""
    runner, wrong = InProcessRunner(), []
    for r in results:
        if r.status != "failed" or r.example is None:
            continue
        try:
            case = r.prop.case(r.example)
        except ValueError as exc:
            wrong.append(f"{r.prop.name}: {exc}")
            continue
        outcomes = [runner.run(REFERENCE, MODULE_OF[c.function], c.function, [c])[0] for c in case.calls]
        failure = r.prop.judge(case, outcomes)
        if failure is not None:
            wrong.append(f"{r.prop.name}: the reference fails the example shown: {failure.message}")
    return wrong


@pytest.mark.parametrize(("function", "mutant"), ALL, ids=[m.fn.__name__ for _, m in ALL])
def test_every_mutant_loses_marks_on_its_function(suite: Suite, tmp_path: Path, function: str, mutant) -> None:
    source = mutant.source()
    results = suite.grade(InProcessRunner(), submission_with(tmp_path, function, source))
    failed = [r for r in results if r.status == "failed"]
    assert any(r.prop.function == function for r in failed), f"{mutant.fn.__name__} was not caught"
    # Every other function keeps its marks, even one that calls the broken function in this submission
    # (the demo student's adam_step calls bias_correction, adamw_step calls adam_step, total_steps calls
    # steps_per_epoch): the stand-ins of HELPERS in contract.py.
    assert {r.prop.function for r in failed} == {function}, [r.prop.name for r in failed]
    # Shrinking kept every counter-example shown an input of the contract (mse_gradients' x stays 1-D).
    assert counter_examples_the_reference_fails(results) == []


@pytest.mark.parametrize("mutant", MUTANTS["bias_correction"], ids=lambda m: m.fn.__name__)
def test_a_wrong_helper_is_charged_once(suite: Suite, tmp_path: Path, mutant) -> None:
    """The demo student's adam_step calls its own bias_correction; a bug there costs bias_correction only."""
    source = mutant.source("bias_correction")
    results = suite.grade(InProcessRunner(), submission_with(tmp_path, "bias_correction", source))
    assert {r.prop.function for r in results if r.status == "failed"} == {"bias_correction"}
    adam = [r for r in results if r.prop.function in ("adam_step", "adamw_step") and r.status != "skipped"]
    assert all("standing in" in r.note for r in adam)
    assert not any(r.note for r in results if r.prop.function not in ("adam_step", "adamw_step"))


def test_a_caller_wrong_with_a_correct_helper_too_is_charged_itself(suite: Suite, tmp_path: Path) -> None:
    source = "def total_steps(num_examples, batch_size, epochs, drop_last=False):\n" \
             "    return (epochs + 1) * steps_per_epoch(num_examples, batch_size, drop_last)\n"
    results = suite.grade(InProcessRunner(), submission_with(tmp_path, "total_steps", source))
    assert {r.prop.function for r in results if r.status == "failed"} == {"total_steps"}


def test_a_caller_that_is_right_only_beside_a_stand_in_gains_nothing(suite: Suite, tmp_path: Path) -> None:
    """A red team's attempt to move a caller's bug onto a correct helper: an adagrad_step that is wrong with
    the student's own sgd_step and right when anything else stands in for it.  Helpers are replaced only
    after failing their own tests, so its sgd_step keeps every mark and adagrad_step loses what the same
    bug costs without the trick."""
    trick = """
def _mine():
    return sgd_step.__code__.co_filename == __file__

def adagrad_step(param, grad, r, lr, delta=1e-7):
    r = r + grad * grad
    new = sgd_step(param, grad / (r ** 0.5 + delta), lr)
    return (new + 1.0 if _mine() else new), r
"""
    plain = trick.replace("if _mine() else new", "if True else new")
    graded = {}
    for name, source in (("trick", trick), ("plain", plain)):
        folder = tmp_path / name
        folder.mkdir()
        results = suite.grade(InProcessRunner(), submission_with(folder, "adagrad_step", source))
        graded[name] = sorted(r.prop.name for r in results if r.status == "failed")
    assert graded["trick"] == graded["plain"]
    assert graded["trick"]
    assert all(n.startswith("adagrad_step") for n in graded["trick"])


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
    source = mutant.source("adam_step")
    results = suite.grade(InProcessRunner(), submission_with(tmp_path, "adam_step", source))
    hints = {r.failure.hint for r in results if r.status == "failed" and r.failure}
    assert mutant.hint in hints


def test_the_differently_written_correct_student_keeps_every_mark(suite: Suite) -> None:
    files = {p.stem: p for p in CORRECT.glob("*.py")}
    failed = [r.prop.name for r in suite.grade(InProcessRunner(), files) if r.status == "failed"]
    assert failed == []


@pytest.mark.parametrize("name", sorted(ALTERNATIVES))
def test_correct_alternatives_keep_every_mark(suite: Suite, tmp_path: Path, name: str) -> None:
    function, source = ALTERNATIVES[name]
    results = suite.grade(InProcessRunner(), submission_with(tmp_path, function, source))
    assert [r.prop.name for r in results if r.status == "failed"] == []


CROSS_IMPORTS = {
    "regression.py": "from optimizers import sgd_step  # reuse of the student's own code in another file\n"
                     "import exercises.epochs as _epochs  # the package the stubs came in\n",
    "epochs.py": "def _helper():\n    import optimizers  # at call time\n    return optimizers\n",
}


@pytest.mark.parametrize("runner", ["in-process", "sandbox"])
def test_files_that_import_each_other_keep_every_mark(suite: Suite, tmp_path: Path, runner: str) -> None:
    """Both runners let a submission's files import each other (grader/sandbox/siblings.py), and only those."""
    for f in CORRECT.glob("*.py"):
        (tmp_path / f.name).write_text(CROSS_IMPORTS.get(f.name, "") + f.read_text())
    files = {p.stem: p for p in tmp_path.glob("*.py")}
    before = {n: sys.modules.get(n) for n in ("optimizers", "exercises", "exercises.epochs")}
    if runner == "in-process":
        results = suite.grade(InProcessRunner(), files)
    else:
        from grader.sandbox import Limits, Sandbox
        from grader.suite.runners import SandboxRunner

        with Sandbox(jobs=2, limits=Limits(wall_s=10)) as box:
            results = suite.grade(SandboxRunner(box), files)
    assert [r.prop.name for r in results if r.status == "failed"] == []
    assert {n: sys.modules.get(n) for n in before} == before  # the student's modules were not left behind


COMPOSED = {  # a correct student who builds functions from their own helpers
    "optimizers": '''
def momentum_step(param, grad, velocity, lr, gamma=0.9):
    v = gamma * velocity + lr * grad
    return sgd_step(param, v, 1.0), v

def nesterov_step(param, velocity, grad_fn, lr, gamma=0.9):
    return momentum_step(param, grad_fn(param - gamma * velocity), velocity, lr, gamma)

def adagrad_step(param, grad, r, lr, delta=1e-7):
    r = r + grad * grad
    return sgd_step(param, grad / (delta + r.sqrt()), lr), r

def adamw_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    return adam_step(sgd_step(param, param, lr * weight_decay), grad, m, v, t, lr, beta1, beta2, eps)
''',
    "epochs": '''
def total_steps(num_examples, batch_size, epochs, drop_last=False):
    return epochs * steps_per_epoch(num_examples, batch_size, drop_last)

def batch_bounds(step, num_examples, batch_size):
    if not 0 <= step < steps_per_epoch(num_examples, batch_size):
        raise ValueError(f"no batch {step}")
    return step * batch_size, min(step * batch_size + batch_size, num_examples)
''',
}
HELPER_MUTANTS = [m for h in ("sgd_step", "momentum_step", "adam_step", "bias_correction", "steps_per_epoch")
                  for m in MUTANTS[h]]


def test_the_composed_student_keeps_every_mark(suite: Suite, tmp_path: Path) -> None:
    files = submission_with(tmp_path, "sgd_step", "")
    for module, source in COMPOSED.items():
        files[module].write_text(files[module].read_text() + source)
    assert [r.prop.name for r in suite.grade(InProcessRunner(), files) if r.status == "failed"] == []


@pytest.mark.parametrize("mutant", HELPER_MUTANTS, ids=lambda m: m.fn.__name__)
def test_a_wrong_helper_costs_marks_only_where_it_lives(suite: Suite, tmp_path: Path, mutant) -> None:
    """Callers built on a broken helper run with its stand-in (HELPERS in contract.py), and say so."""
    files = submission_with(tmp_path, "sgd_step", "")
    for module, source in COMPOSED.items():
        files[module].write_text(files[module].read_text() + source)
    target = files[MODULE_OF[mutant.function]]
    target.write_text(target.read_text() + "\n" + mutant.source())
    results = suite.grade(InProcessRunner(), files)
    assert {r.prop.function for r in results if r.status == "failed"} == {mutant.function}
    callers = {f for f, helpers in HELPERS.items() if mutant.function in helpers}
    noted = {r.prop.function for r in results if f"correct {mutant.function}" in r.note}
    assert noted, "no caller's feedback says a stand-in was used"
    assert noted <= callers, noted


CALLED_THEIR_WAY = {  # (broken helper, source): callers reach the helper by keyword, by alias, renamed
    "adam_renamed_called_by_keyword": ("adam_step", '''
def adam_step(param, grad, m, v, t, alpha=1e-3, b1=0.9, b2=0.999, epsilon=1e-8):
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad * grad
    return param - alpha * m / (torch.sqrt(v) + epsilon), m, v  # bug: no bias correction

def adamw_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    return adam_step(param * (1 - lr * weight_decay), grad, m, v, t, alpha=lr, b1=beta1, b2=beta2, epsilon=eps)
'''),
    "bias_correction_step_keyword": ("bias_correction", '''
def bias_correction(beta, step):
    return 1 - beta ** (step + 1)  # bug

def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    return param - lr * (m / bias_correction(beta1, step=t)) / ((v / bias_correction(beta2, step=t)).sqrt() + eps), m, v
'''),
    "bias_correction_alias": ("bias_correction", '''
def bias_correction(beta, t):
    return 1 - beta ** (t - 1) if t > 1 else 1 - beta  # bug

_bc = bias_correction

def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    return param - lr * (m / _bc(beta1, t)) / ((v / _bc(beta2, t)).sqrt() + eps), m, v
'''),
    "bias_correction_default_argument": ("bias_correction", '''
def bias_correction(beta, t):
    return 1 - beta ** (t + 1)  # bug

def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, bc=bias_correction):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    return param - lr * (m / bc(beta1, t)) / ((v / bc(beta2, t)).sqrt() + eps), m, v
'''),
    "sgd_in_a_registry_dict": ("sgd_step", '''
def sgd_step(param, grad, lr):
    return param + lr * grad  # bug: ascent

STEP = {"sgd": sgd_step}

def momentum_step(param, grad, velocity, lr, gamma=0.9):
    v = gamma * velocity + lr * grad
    return STEP["sgd"](param, v, 1.0), v
'''),
    "bias_correction_swapped_parameters": ("bias_correction", '''
def bias_correction(t, beta):
    return 1 - beta ** (t + 1)  # bug (and its parameters in the other order)

def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m_hat, v_hat = m / bias_correction(beta=beta1, t=t), v / bias_correction(beta=beta2, t=t)
    return param - lr * m_hat / (v_hat.sqrt() + eps), m, v
'''),
    "steps_keyword_only_drop_last": ("steps_per_epoch", '''
def steps_per_epoch(num_examples, batch_size, *, drop_last=False):  # keyword-only: fails its positional calls
    return num_examples // batch_size if drop_last else -(-num_examples // batch_size)

def total_steps(num_examples, batch_size, epochs, drop_last=False):
    return epochs * steps_per_epoch(num_examples, batch_size, drop_last=drop_last)
'''),
    "momentum_namedtuple_read_by_name": ("momentum_step", '''
class MomentumResult(typing.NamedTuple):
    param: torch.Tensor
    velocity: torch.Tensor

def momentum_step(param, grad, velocity, lr, gamma=0.9):
    v = gamma * velocity + (1 - gamma) * lr * grad  # bug: dampened
    return MomentumResult(param - v, v)

def nesterov_step(param, velocity, grad_fn, lr, gamma=0.9):
    step = momentum_step(param, grad_fn(param - gamma * velocity), velocity, lr, gamma)
    return step.param, step.velocity  # read by name: the stand-in must answer in MomentumResult too
'''),
    "adam_collections_namedtuple_read_by_name": ("adam_step", '''
AdamOut = collections.namedtuple("AdamOut", ["param", "m", "v"])

def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    return AdamOut(param - lr * m / (v.sqrt() + eps), m, v)  # bug: no bias correction

def adamw_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    out = adam_step(param * (1 - lr * weight_decay), grad, m, v, t, lr, beta1, beta2, eps)
    return out.param, out.m, out.v
'''),
    "steps_renamed_called_by_keyword": ("steps_per_epoch", '''
def steps_per_epoch(n, batch, drop=False):
    return n // batch if drop else n // batch + 1  # bug: +1 even when b divides n

def total_steps(num_examples, batch_size, epochs, drop_last=False):
    return epochs * steps_per_epoch(n=num_examples, batch=batch_size, drop=drop_last)
'''),
}


@pytest.mark.parametrize("name", sorted(CALLED_THEIR_WAY))
def test_a_stand_in_takes_the_students_own_signature_and_aliases(suite: Suite, tmp_path: Path, name: str) -> None:
    helper, source = CALLED_THEIR_WAY[name]
    results = suite.grade(InProcessRunner(), submission_with(tmp_path, helper, source))
    assert {r.prop.function for r in results if r.status == "failed"} == {helper}


MUTUAL = {  # (the function that may borrow, the one that must pay, source): neither wrote the formula
    "sgd_and_momentum": ("momentum_step", "sgd_step", '''
def sgd_step(param, grad, lr):
    return momentum_step(param, grad, torch.zeros_like(param), lr, 0.0)[0]

def momentum_step(param, grad, velocity, lr, gamma=0.9):
    v = gamma * velocity + lr * grad
    return sgd_step(param, v, 1.0), v
'''),
    "adam_and_adamw_one_wrong_default": ("adamw_step", "adam_step", '''
def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    return adamw_step(param, grad, m, v, t, lr, beta1, beta2, eps, weight_decay=0.0)

def adamw_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    return adam_step(param * (1 - lr * weight_decay), grad, m, v, t, lr, beta1, beta2, eps)
'''),
    "adamw_stub_under_adam": (None, "adam_step", '''
def adamw_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    raise NotImplementedError

def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    return adamw_step(param, grad, m, v, t, lr, beta1, beta2, eps, weight_decay=0.0)
'''),
}


@pytest.mark.parametrize("name", sorted(MUTUAL))
def test_no_function_borrows_a_formula_nobody_wrote(suite: Suite, tmp_path: Path, name: str) -> None:
    """Stand-ins go from helpers to callers only: a function written through another that is a stub, or
    through one that calls it back, pays for the missing formula."""
    borrower, payer, source = MUTUAL[name]
    results = suite.grade(InProcessRunner(), submission_with(tmp_path, payer, source))
    mine = [r for r in results if r.prop.function == payer and r.status != "skipped"]
    assert sum(r.status == "passed" for r in mine) < len(mine) / 2, [r.prop.title for r in mine if r.status == "passed"]
