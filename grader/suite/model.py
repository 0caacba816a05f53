"""The suite's vocabulary: calls sent to student code, what came back, and properties that judge it.

A :class:`Property` draws *examples* (dicts of named inputs) from a hypothesis
strategy, turns each into a :class:`Case` (the calls to make, plus trusted data
such as expected values that never leave the grading process) and judges the
:class:`Outcome` of each call.  Student code never runs here: outcomes are data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

Example = dict[str, Any]


@dataclass(frozen=True)
class GradientFunction:
    """A gradient function ∇f materialised on each side: ∇f(x) = a ⊙ (x − c) (an elongated bowl)."""

    a: Any
    c: Any

    def __call__(self, x: Any) -> Any:
        return self.a * (x - self.c)


@dataclass(frozen=True)
class Call:
    """One call of a student function: positional arguments in the contract's order.

    ``driver`` says how the sandbox exercises the function (``grader/sandbox/drivers.py``): ``"call"``
    calls it once with ``args``/``kwargs``; ``"rollout"`` iterates an optimizer step from ``args``,
    and ``kwargs`` is then the rollout's layout, not arguments of the function.
    """

    function: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    report_inputs: bool = False  # send the inputs back after the call (only purity checks read them)
    driver: str = "call"


@dataclass(frozen=True)
class Case:
    """The calls one example makes, and trusted data (expected values) to judge them."""

    example: Example
    calls: tuple[Call, ...]
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TensorOut:
    """A tensor the student returned, as the grader sees it (always a CPU copy)."""

    tensor: Any  # torch.Tensor on the CPU
    device: str  # where the student's tensor lived, e.g. "cpu" or "cuda:0"
    type_name: str  # "torch.Tensor", or the qualified name of what the student returned instead


@dataclass(frozen=True)
class Outcome:
    """What one call did: returned a value, raised, or never finished (``failure``)."""

    returned: Any = None  # None | bool | int | float | str | tuple | list | dict | TensorOut | OpaqueOut
    raised: str | None = None
    inputs_after: tuple[Any, ...] = ()
    grad_fn_points: tuple[Any, ...] = ()
    failure: str | None = None  # the call never finished: timeout, crash, missing function, import error
    stdout: str = ""
    stand_ins: tuple[str, ...] = ()  # helpers whose stand-in (grader/sandbox/substitutes.py) this call ran
    # What else the call did (grader/sandbox/effects.py): "inplace:1", "alias:0", "grad_mode:False", "rng", …
    # Judged only by the properties about them (purity, new tensors, global state), never by the rest.
    effects: tuple[str, ...] = ()

    @property
    def problem(self) -> str | None:
        """Why there is no return value to judge, if there is none."""
        if self.failure is not None:
            return self.failure
        if self.raised is not None:
            return f"raised {self.raised}"
        return None


@dataclass(frozen=True)
class OpaqueOut:
    """A returned object that is not a number, string, container or tensor."""

    type_name: str
    repr: str


@dataclass(frozen=True)
class Failure:
    """Why a case failed, in terms a student can act on."""

    message: str
    expected: Any = None
    got: Any = None
    hint: str | None = None
    inputs: Example | None = None  # the failing call's own inputs, where they are not the example's


Judge = Callable[[Case, Sequence[Outcome]], Failure | None]


@dataclass(frozen=True)
class Property:
    """A named, scored check of one contract function."""

    function: str
    title: str
    public: bool
    examples: st.SearchStrategy[Example]
    case: Callable[[Example], Case]
    judge: Judge
    formula: str = ""
    needs_cuda: bool = False
    # Extra fixed examples tried first, e.g. the lecture's own numbers.
    explicit: tuple[Example, ...] = ()
    # At most this many drawn examples, for properties that make several calls per example.
    max_examples: int | None = None
    # What a simpler counter-example must still be (e.g. non-zero state, as the title says).
    accepts: Callable[[Example], bool] | None = None

    @property
    def name(self) -> str:
        return f"{self.function}: {self.title}"
