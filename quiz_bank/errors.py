"""The one exception type of the quiz bank."""

from __future__ import annotations

from grader.errors import OptigradeError


class QuizError(OptigradeError):
    """Bad input to the quiz bank (roster, responses, key, options).

    The message names the thing, the value, what was expected and how to fix it,
    so the CLI can print it as is, without a traceback.
    """
