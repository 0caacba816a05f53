"""The sandbox's public data types (trusted side)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from grader.sandbox.values import Value
from grader.sandbox.wire import encode_frame

# restart: a worker of several functions stopped at a function's start, because what earlier functions
# left in it could not be put back (grader/sandbox/residue.py); the rest goes on in a fresh worker.
STATUSES = ("ok", "import_error", "not_found", "timeout", "crashed", "protocol_error", "infra_error", "restart")
STUDENT_FAULTS = frozenset({"import_error", "not_found", "timeout", "crashed", "protocol_error"})


class SandboxUnavailable(RuntimeError):
    """No isolation is possible here; the message names what is missing and how to fix it."""


@dataclass(frozen=True)
class Limits:
    """Per-job limits; defaults suit the optimizer suite (seconds per function, not minutes)."""

    wall_s: float = 10.0  # per job (per function of a several-function job), killed from outside (pidfd SIGKILL)
    cpu_s: int = 10  # RLIMIT_CPU, soft = hard (a several-function job: each function's share, moved on per function)
    address_space_mb: int = 4096  # RLIMIT_AS (lifted for device="cuda")
    threads: int = 16  # RLIMIT_NPROC: threads of the job (processes are refused by seccomp anyway)
    file_size_mb: int = 16  # RLIMIT_FSIZE
    open_files: int = 64  # RLIMIT_NOFILE
    output_kb: int = 32  # stdout/stderr kept, each
    reply_mb: int = 64  # max bytes of replies per job (per function of a several-function job)
    tmp_mb: int = 64  # size of the private tmpfs (a plain dir when no namespace can be made)


@dataclass(frozen=True)
class Request:
    """One call for a worker to make.  Immutable: the tensors in it must not change after it is built,
    because its wire frame is encoded once and reused (a suite sends the same requests to every
    student, so encoding is paid once per class, not once per submission)."""

    driver: str = "call"
    args: tuple[Value, ...] = ()
    kwargs: Mapping[str, Value] = field(default_factory=dict)
    # False: the reply's inputs_after is () (sending every input back costs as much as the answer).
    report_inputs: bool = True
    # The function to call, in a job of several functions (Job.functions); None: the job's function.
    function: str | None = None

    @cached_property
    def frame(self) -> bytes:
        """The request frame (raises TypeError/ValueError for a value that cannot be sent)."""
        body: dict[str, object] = {"driver": self.driver, "args": tuple(self.args), "kwargs": dict(self.kwargs)}
        if not self.report_inputs:
            body["report_inputs"] = False
        if self.function is not None:
            body["function"] = self.function
        return encode_frame("request", body)


@dataclass(frozen=True)
class Job:
    module_path: Path
    function: str
    requests: Sequence[Request]
    # Globals of the student's module replaced by trusted stand-ins while this job runs
    # (names from grader/sandbox/substitutes.py), e.g. ("bias_correction",) while grading adam_step.
    substitutes: tuple[str, ...] = ()
    # The submission's other files (module name -> path), importable from the module by that name or as
    # exercises.<name> (grader/sandbox/siblings.py); copied into the job's box next to the module.
    siblings: Mapping[str, Path] = field(default_factory=dict)
    # "cuda": the worker starts CUDA before the student's code runs (a failure is an infra_error, never
    # the student's) and gets the GPU's grants; "cpu" (also in a CUDA sandbox): no GPU visible at all.
    device: str = "cpu"
    # Several functions of the module in one worker (each request names its own; the module is imported
    # afresh for each): function -> the stand-ins it runs with.  Empty: ``function`` alone, ``substitutes``.
    # A CUDA job pays CUDA's start once for all of a submission's functions this way.
    functions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Where each of ``functions`` lives: function -> module name (``module_path``'s stem or a sibling's);
    # a function not named here is ``module_path``'s.  Each function's requests form a segment of their
    # own, with the wall-clock, CPU and reply limits renewed (``Limits`` holds per segment).
    modules: Mapping[str, str] = field(default_factory=dict)
    # A time.monotonic() instant the job may not run past, however many functions it holds (each gets the
    # wall-clock limit anew): a submission's time budget (runners.BudgetedRunner).  The job then ends as a
    # timeout whose detail says the budget stopped it.
    until: float = math.inf


@dataclass
class Reply:
    """One answered request.

    Every tensor (in ``value``, ``inputs_after`` and ``grad_fn_points``) arrives as a ``TensorValue``:
    a plain CPU tensor with the original dtype plus the device, exact type and ``requires_grad`` the
    student left it with.  Values that are the same object in the worker decode as the same object
    (``reply.value is reply.inputs_after[0]`` when the student returned its input).  GradFn arguments
    come back in ``inputs_after`` as ``GradFn``.  ``grad_fn_points`` holds what the student passed to
    the GradFn callables, in call order, at most 1024 (usually TensorValues; anything else as sent).
    """

    raised: str | None
    value: Value
    inputs_after: tuple[Value, ...]
    grad_fn_points: tuple[Value, ...] = ()
    seconds: float = 0.0
    stand_ins: tuple[str, ...] = ()  # the Job.substitutes this call ran (as the worker reports it)
    # What else the call did, as the worker saw it (grader/sandbox/drivers.py effects_of and
    # restore_global_state): "inplace:1", "alias:0", "default_dtype:torch.float64", "grad_mode:False", "rng"
    effects: tuple[str, ...] = ()
    # In a job of several functions: (status, detail) when the request's function could not run at all
    # ("import_error": its module would not import; "not_found": the module lacks it); None otherwise.
    unrunnable: tuple[str, str] | None = None


@dataclass
class JobResult:
    """``status`` is one of STATUSES; ``infra_error`` means the grader failed (never score it as 0).
    ``replies`` holds the replies received before any failure, in request order."""

    status: str
    replies: list[Reply]
    detail: str
    stdout: str
    stderr: str
    backend: str
    seconds: float = 0.0  # wall time of the whole job, measured on the trusted side

    @property
    def student_fault(self) -> bool:
        return self.status in STUDENT_FAULTS
