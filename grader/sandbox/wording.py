"""How a student's exception, an import that failed and a missing function are worded: alike in a sandbox
worker and in ``optigrade check`` (grader/suite/runners.py InProcessRunner), so a student reads locally what
grading will say.  Standard library only: the student bundle ships this module."""

from __future__ import annotations

import difflib
import os
import traceback
from collections.abc import Iterable, Sequence

MAX_RAISED = 4000  # characters of an exception's text


def exception_text(exc: BaseException, *, skip: tuple[str, ...], hide: Sequence[str]) -> str:
    """``"ZeroDivisionError: msg"`` plus the student's part of the traceback: frames in files under ``skip``
    (the grader's own, importlib's frozen ones) dropped, each of ``hide`` (the folder the submission sits in)
    cut from what is left; a SyntaxError as Python shows it (file, line, caret).  ``str(exc)`` is student
    code: the caller guards against it raising."""
    head = "".join(traceback.format_exception_only(type(exc), exc))
    if isinstance(exc, SyntaxError):
        text = head.strip()
    else:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(skip)][-6:]
        text = head + "Traceback (most recent call last, shortened):\n" + "".join(traceback.format_list(frames))
    for prefix in hide:
        text = text.replace(prefix, "")
    return text if len(text) <= MAX_RAISED else text[:MAX_RAISED] + "…"


def folder_of(path: str) -> str:
    """What ``hide`` takes for a file: its folder, with the separator after it."""
    return os.path.dirname(os.path.abspath(path)) + os.sep


def no_function(module: str, function: str, defined: Iterable[str], what: str | None = None) -> str:
    """Why ``function`` cannot be called: ``module``.py does not define it (with the closest name it does
    define, a likely typo), or defines it as ``what`` (a type's name), not a function."""
    if what is not None:
        return f"{module}.py defines {function} as a {what}, not a function"
    names = [n for n in defined if isinstance(n, str) and not n.startswith("_")]
    close = difflib.get_close_matches(function, names, n=1, cutoff=0.75)
    return f"{module}.py defines no function {function}" + (f" (did you mean {close[0]}?)" if close else "")
