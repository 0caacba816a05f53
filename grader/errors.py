"""One exception hierarchy for everything optigrade reports to a user.

The CLI prints an :class:`OptigradeError` as a message without a traceback and
exits non-zero; anything else is a bug in optigrade and keeps its traceback.
"""

from __future__ import annotations


class OptigradeError(Exception):
    """A problem the user can fix: the message names the thing, the value, what was expected and a fix."""


class UsageError(OptigradeError):
    """Bad command-line input or configuration (a rubric, a folder, a roster)."""


class SandboxUnavailableError(OptigradeError):
    """No isolation mechanism is available to run untrusted code."""


class GraderFault(OptigradeError):
    """The grader itself failed (not the student); never reported as a silent zero."""
