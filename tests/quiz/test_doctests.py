"""Run quiz_bank's doctests (pytest's --doctest-modules covers only tests/ and solutions/)."""

import doctest
import importlib

import pytest

MODULES = ["quiz_bank.numbers", "quiz_bank.mathml", "quiz_bank.responses"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
