"""Student stubs are generated from the reference and cannot drift from it."""

import importlib
import inspect

import pytest

from grader.stubs import MODULES, expected_stubs

NAMES = [m.removesuffix(".py") for m in MODULES]


def test_committed_stubs_are_what_the_generator_makes() -> None:
    for path, text in expected_stubs().items():
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run `make stubs`"


def public_functions(module: object) -> dict[str, object]:
    return {
        name: fn for name, fn in inspect.getmembers(module, inspect.isfunction)
        if not name.startswith("_") and fn.__module__ == module.__name__  # type: ignore[attr-defined]
    }


@pytest.mark.parametrize("name", NAMES)
def test_same_functions_signatures_and_docstrings(name: str) -> None:
    stub = public_functions(importlib.import_module(f"exercises.{name}"))
    solution = public_functions(importlib.import_module(f"solutions.{name}"))
    assert stub.keys() == solution.keys()
    assert stub
    for fn in stub:
        assert inspect.signature(stub[fn]) == inspect.signature(solution[fn]), fn
        assert inspect.getdoc(stub[fn]) == inspect.getdoc(solution[fn]), fn


@pytest.mark.parametrize("name", NAMES)
def test_every_stub_raises_not_implemented_with_a_todo(name: str) -> None:
    for fn_name, fn in public_functions(importlib.import_module(f"exercises.{name}")).items():
        params = inspect.signature(fn).parameters
        args = [None] * sum(p.default is inspect.Parameter.empty for p in params.values())
        with pytest.raises(NotImplementedError, match=f"TODO: implement {fn_name}"):
            fn(*args)
        assert "# TODO" in inspect.getsource(fn)


def test_stubs_hold_no_solution_code() -> None:
    for path, text in expected_stubs().items():
        assert "_validate" not in text, path
        assert "solutions" not in text, path
