"""The two runners deliver the same outcomes, so a property cannot tell `optigrade check` from grading."""

import pytest
import torch

from grader.sandbox import Limits, Sandbox
from grader.suite.model import Call
from grader.suite.runners import InProcessRunner, SandboxRunner

ODD_RETURNS = """
import numpy as np
import torch

class Count(int):
    pass

def f(kind):
    return {
        "np_int": np.int64(4), "np_float": np.float64(0.5), "np_array": np.arange(3.0),
        "np_tuple": (np.int64(0), np.int64(3)), "int_subclass": Count(4), "float": 0.25,
        "tensor": torch.tensor(4), "nested": [1, (2.0, "x")], "none": None, "obj": object,
    }[kind]
"""
KINDS = ["np_int", "np_float", "np_array", "np_tuple", "int_subclass", "float", "tensor", "nested", "none"]


@pytest.fixture(scope="module")
def sandbox_runner():
    with Sandbox(jobs=1, limits=Limits(wall_s=10)) as box:
        yield SandboxRunner(box)


def _shape(value: object) -> object:
    """What a judge sees, minus tensor identity: type names, dtypes, shapes and values."""
    if isinstance(value, tuple | list):
        return type(value).__name__, [_shape(v) for v in value]
    if hasattr(value, "tensor"):
        return value.type_name, str(value.tensor.dtype), value.tensor.tolist()  # type: ignore[attr-defined]
    if hasattr(value, "repr"):
        return "opaque", value.type_name  # type: ignore[attr-defined]
    return type(value).__name__, value


def test_odd_returns_look_the_same_from_both_runners(tmp_path, sandbox_runner) -> None:
    module = tmp_path / "optimizers.py"
    module.write_text(ODD_RETURNS)
    calls = [Call("f", (k,)) for k in KINDS]
    here = InProcessRunner().run({"optimizers": module}, "optimizers", "f", calls)
    there = sandbox_runner.run({"optimizers": module}, "optimizers", "f", calls)
    for kind, a, b in zip(KINDS, here, there, strict=True):
        assert (a.raised, a.failure) == (b.raised, b.failure), kind
        assert _shape(a.returned) == _shape(b.returned), kind


EFFECTS = """
import collections
import typing

import torch

class Pair(typing.NamedTuple):
    first: torch.Tensor
    second: torch.Tensor

class Liar(tuple):  # a tuple subclass that lies about its items: what is sent is what the tuple holds
    def __iter__(self):
        return iter([0, 0, 0])
    def __len__(self):
        return 3

Triple = collections.namedtuple("Triple", "a b c")

def f(kind, x, y):
    if kind == "named":
        return Pair(x + 1, y + 1)
    if kind == "liar":
        return Liar((x + 1, y + 1))
    if kind == "namedtuple":
        return Triple(x + 1, y + 1, 3)
    if kind == "same":
        return x
    if kind == "view":
        return x.view_as(x), y + 0
    if kind == "inplace":
        y.mul_(1.0)  # same values, still an in-place op on the caller's tensor
        return x + 0
    if kind == "dtype":
        torch.set_default_dtype(torch.float64)
        return x + 0
    if kind == "grad":
        torch.set_grad_enabled(False)
        return x + 0
    if kind == "seed":
        torch.manual_seed(0)
        return x + 0
    if kind == "draw":
        return x + 0 * torch.rand(())
    if kind == "layout":
        return x.is_contiguous(), x.stride(), x.requires_grad, x.is_leaf, y.is_contiguous()
    if kind == "view_fails":
        return x.view(-1)
    raise ValueError(kind)
"""
EFFECT_KINDS = ["named", "liar", "namedtuple", "same", "view", "inplace", "dtype", "grad", "seed", "draw", "layout",
                "view_fails"]


def test_effects_tuples_and_layouts_are_the_same_from_both_runners(tmp_path, sandbox_runner) -> None:
    """NamedTuples are tuples, effects (grader/sandbox/effects.py) are reported alike, and inputs arrive with the
    caller's layout and requires_grad in both runners."""
    module = tmp_path / "optimizers.py"
    module.write_text(EFFECTS)
    x = torch.arange(6.0, dtype=torch.float64).reshape(3, 2).t().contiguous().t().requires_grad_()  # transposed leaf
    y = torch.arange(12.0, dtype=torch.float64)[::2]  # a strided slice
    assert not x.is_contiguous()
    assert not y.is_contiguous()
    calls = [Call("f", (k, x, y), report_inputs=k in ("seed", "draw")) for k in EFFECT_KINDS]
    default_dtype, grad_mode = torch.get_default_dtype(), torch.is_grad_enabled()
    here = InProcessRunner().run({"optimizers": module}, "optimizers", "f", calls)
    assert (torch.get_default_dtype(), torch.is_grad_enabled()) == (default_dtype, grad_mode)  # put back
    there = sandbox_runner.run({"optimizers": module}, "optimizers", "f", calls)
    for kind, a, b in zip(EFFECT_KINDS, here, there, strict=True):
        assert (a.raised is None, a.failure) == (b.raised is None, b.failure), kind
        assert _shape(a.returned) == _shape(b.returned), kind
        assert a.effects == b.effects, kind
    got = dict(zip(EFFECT_KINDS, there, strict=True))
    assert _shape(got["named"].returned)[0] == "tuple"
    assert [_shape(v)[2] for v in got["liar"].returned] == [(x + 1).tolist(), (y + 1).tolist()]
    assert len(got["namedtuple"].returned) == 3
    assert got["same"].effects == ("alias:1",)
    assert got["view"].effects == ("alias:1",)
    assert got["inplace"].effects == ("inplace:2",)
    assert got["dtype"].effects == ("default_dtype:torch.float64",)
    assert got["grad"].effects == ("grad_mode:False",)
    assert got["seed"].effects == got["draw"].effects == ("rng",)
    assert got["layout"].returned == (False, (1, 3), True, True, False)
    assert "view" in (got["view_fails"].raised or "")


IMPORT_SETS_DTYPE = """
import torch
torch.set_default_dtype(torch.float64)  # at import: every function of this module runs with it

def f():
    return torch.tensor(1.0)

def g():
    return torch.zeros(2)
"""


def test_settings_a_module_s_import_changes_apply_to_its_calls_alone(tmp_path, sandbox_runner) -> None:
    """In a worker each function's module is imported afresh, so its import-time settings hold for its calls;
    in process they do too, and the grading process (or the student's own check) gets its settings back."""
    module = tmp_path / "optimizers.py"
    module.write_text(IMPORT_SETS_DTYPE)
    files = {"optimizers": module}
    runner = InProcessRunner()
    for function in ("f", "g"):
        here = runner.run(files, "optimizers", function, [Call(function, ())])
        there = sandbox_runner.run(files, "optimizers", function, [Call(function, ())])
        assert _shape(here[0].returned) == _shape(there[0].returned)
        assert str(here[0].returned.tensor.dtype) == "torch.float64"
        assert here[0].effects == there[0].effects == ()
        assert torch.get_default_dtype() == torch.float32


@pytest.mark.parametrize(("source", "function"), [
    ("def sgd_step(param, grad, lr)\n    return param - lr * grad\n", "sgd_step"),  # a syntax error
    ("def sgd_stpe(param, grad, lr):\n    return param - lr * grad\n", "sgd_step"),  # a typo in the name
])
def test_a_module_that_cannot_run_is_described_alike_by_both_runners(tmp_path, sandbox_runner, source,
                                                                    function) -> None:
    """A student's check must show the message grading will show: a syntax error as Python shows it (the
    file's name, not its path), a typo with the closest name the module defines (grader/sandbox/wording.py,
    used by both runners).  They differed: `SyntaxError("expected ':'", ('/abs/path/optimizers.py', ...))`
    against the caret form, `defines no function sgd_step` against `module has no function 'sgd_step'`."""
    module = tmp_path / "optimizers.py"
    module.write_text(source)
    calls = [Call(function, (torch.zeros(()), torch.ones(()), 1.0))]
    here = InProcessRunner().run({"optimizers": module}, "optimizers", function, calls)
    there = sandbox_runner.run({"optimizers": module}, "optimizers", function, calls)
    assert here[0].failure == there[0].failure
    assert str(tmp_path) not in (here[0].failure or "")
    assert ("expected ':'" if "stpe" not in source else "did you mean sgd_stpe?") in (here[0].failure or "")


def test_an_exception_is_worded_alike_by_both_runners(tmp_path, sandbox_runner) -> None:
    """What a call raised, with the student's part of the traceback, reads the same in check and grading."""
    module = tmp_path / "optimizers.py"
    module.write_text("def helper(x):\n    return x / 0 if False else 1 // 0\n\n\ndef sgd_step(param, grad, lr):\n"
                      "    return helper(param)\n")
    calls = [Call("sgd_step", (torch.zeros(()), torch.ones(()), 1.0))]
    here = InProcessRunner().run({"optimizers": module}, "optimizers", "sgd_step", calls)
    there = sandbox_runner.run({"optimizers": module}, "optimizers", "sgd_step", calls)
    assert here[0].raised == there[0].raised
    assert (here[0].raised or "").startswith("ZeroDivisionError: integer division or modulo by zero\nTraceback")
    assert 'File "optimizers.py", line 2, in helper' in (here[0].raised or "")
