"""The check cells of the notebook edition (``optigrade release --notebook``).

``check("sgd_step", globals())`` runs that function's public properties on the notebook's own
definition and prints a verdict: all pass; not written yet (it still raises the stub's
NotImplementedError, or calls a function that does); not defined (its cell was not run); or each
failing property with its shrunk counter-example, in the words of the graded feedback.
``check_all(globals())`` does every function and prints one line each.  Plain ``print``: it reads the
same in Jupyter, Colab and a headless run.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from grader.check import helper_notes
from grader.grade.report import failure_text
from grader.suite.contract import FUNCTIONS, HELPERS
from grader.suite.engine import PropertyResult, Suite
from grader.suite.examples import DEFAULT_EXAMPLES
from grader.suite.model import Call, Outcome
from grader.suite.registry import suite_properties
from grader.suite.runners import InProcessRunner

EXAMPLES = DEFAULT_EXAMPLES  # those grading judges the public properties on
HIDDEN_TOO = "Hidden tests (many more inputs, float32, long runs, CUDA) also count towards the grade."
_STUB = re.compile(r"NotImplementedError: TODO: implement (\w+)")


class NamespaceRunner(InProcessRunner):
    """Calls the functions the notebook defined (its ``globals()``), looked up when the check runs."""

    def __init__(self, namespace: Mapping[str, Any]) -> None:
        super().__init__()
        self.namespace = namespace

    def run(self, files: Mapping[str, Path], module: str, function: str, calls: Sequence[Call], *,
            substitutes: Sequence[str] = ()) -> list[Outcome]:
        fn = self.namespace.get(function)
        if not callable(fn):
            what = "is not defined" if fn is None else f"is a {type(fn).__name__}, not a function"
            return [Outcome(failure=f"was not run: {function} {what} in this notebook")] * len(calls)
        return [self._call(fn, call) for call in calls]


def results(function: str, namespace: Mapping[str, Any], examples: int = EXAMPLES) -> list[PropertyResult]:
    """The public properties of ``function`` judged on the notebook's definitions."""
    if function not in FUNCTIONS:
        raise ValueError(f"{function!r} is not an exercise function; expected one of {', '.join(FUNCTIONS)}")
    props = [p for p in suite_properties(hidden=False) if p.function == function]
    suite = Suite(props, examples_per_property=examples, stand_ins=False)
    # Every module "exists": the functions are looked up in the namespace, whichever file they belong to.
    return suite.grade(NamespaceRunner(namespace), {m: Path("notebook") for m in ("optimizers", "epochs",
                                                                                      "regression")})


def _state(function: str, failed: Sequence[PropertyResult]) -> tuple[str, str]:
    """("undefined" | "stub" | "failing", the helper still a stub) for a function with failures."""
    messages = [r.failure.message if r.failure else "" for r in failed]
    if all(f"{function} is not defined" in m for m in messages):
        return "undefined", ""
    stubs = {match[1] for m in messages for match in [_STUB.search(m)] if match}
    if len(stubs) == 1 and all(_STUB.search(m) for m in messages):
        return "stub", stubs.pop()
    return "failing", ""


def names_used(namespace: Mapping[str, Any], function: str) -> set[str]:
    """The global names and attributes the notebook's ``function`` (its code and nested code) mentions."""
    code = getattr(namespace.get(function), "__code__", None)
    stack, names = ([code] if isinstance(code, types.CodeType) else []), set()
    while stack:
        code = stack.pop()
        names |= set(code.co_names)
        stack += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    return names


def helper_note(function: str, graded: Sequence[PropertyResult], namespace: Mapping[str, Any],
                examples: int = EXAMPLES) -> str:
    """Why ``function``'s failures may be a helper's (grader.check.helper_notes), or ""."""
    used = names_used(namespace, function)
    helpers = [h for h in HELPERS.get(function, ()) if h in used]
    if not helpers or all(r.status != "failed" for r in graded):
        return ""
    theirs = [r for h in helpers for r in results(h, namespace, examples)]
    return helper_notes([*graded, *theirs], lambda f: used if f == function else set()).get(function, "")


def verdict(function: str, graded: Sequence[PropertyResult], note: str = "") -> str:
    """A readable verdict for one function's public properties (``note``: its helper_note)."""
    ran = [r for r in graded if r.status != "skipped"]
    failed = [r for r in ran if r.status == "failed"]
    if not failed:
        return f"✓ {function}: all {len(ran)} public checks pass. {HIDDEN_TOO}"
    state, stub = _state(function, failed)
    if state == "undefined":
        return (f"✗ {function} is not defined yet: run the code cell above that defines it (Shift+Enter), "
                f"then this check again.")
    if state == "stub":
        where = ("still raises NotImplementedError" if stub == function
                 else f"calls {stub}, which still raises NotImplementedError")
        return (f"✗ {function} is not written yet: it {where}. Replace the `raise NotImplementedError(...)` "
                f"line{'' if stub == function else f' of {stub}'} with your code, run that cell, then this "
                f"check again.")
    lines = [f"✗ {function}: {len(ran) - len(failed)} of {len(ran)} public checks pass; "
             f"{len(failed)} fail{'s' if len(failed) == 1 else ''}:"]
    if note:
        lines.append(f"Note: {note}")
    for r in failed:
        lines.append(f"\n✗ {r.prop.title}")
        lines += [f"    {line}" for line in failure_text(r).splitlines()]
    return "\n".join(lines)


def check(function: str | Callable[..., Any], namespace: Mapping[str, Any], examples: int = EXAMPLES) -> None:
    """Print the verdict of ``function``'s public checks (nothing returned: a cell shows no stray value)."""
    name = function if isinstance(function, str) else getattr(function, "__name__", "")
    graded = results(name, namespace, examples)
    print(verdict(name, graded, helper_note(name, graded, namespace, examples)))


def check_all(namespace: Mapping[str, Any], examples: int = EXAMPLES) -> None:
    """Print one line per function, then whether every public check passes."""
    every = True
    for function in FUNCTIONS:
        graded = results(function, namespace, examples)
        ran = [r for r in graded if r.status != "skipped"]
        failed = [r for r in ran if r.status == "failed"]
        every = every and not failed
        state, _ = _state(function, failed) if failed else ("", "")
        first = ("" if not failed else " (not written yet)" if state == "stub" else " (not defined yet)"
                 if state == "undefined" else f" (first: {failed[0].prop.title})")
        print(f"{'✓' if not failed else '✗'} {function:<16} {len(ran) - len(failed)}/{len(ran)} public checks pass"
              f"{first}")
    print("All public checks pass. " + HIDDEN_TOO if every else
          "Run a function's own check cell to see its failing checks with their counter-examples.")
