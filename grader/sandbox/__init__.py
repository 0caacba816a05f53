"""Run untrusted student code in isolated workers; the grading process never imports it.

Quick use::

    with Sandbox(jobs=2, limits=Limits(wall_s=5)) as sandbox:
        result = sandbox.run(Job(box / "optimizers.py", "sgd_step", [Request("call", (x, g, 0.1))]))
        result.status, result.replies[0].value   # "ok", TensorValue(tensor=..., device="cpu", ...)

How a job runs: a zygote (a fresh ``python -I -S`` that imported torch once) forks one child per job.
Before importing the student file the child enters new namespaces (as root: mount + network, with a
tmpfs for its tmp dir and the instructor's 0700 home hidden; otherwise a user namespace when the
kernel allows), applies a Landlock ruleset (read: Python's stdlib without any site-/dist-packages, and
from the venv only the distributions torch, numpy, matplotlib and pytest need — never this project,
the grader's own dependencies or .pth files (``policy``); write: its own tmp dir; no TCP; signals and
abstract sockets scoped), rlimits (CPU soft =
hard, address space, threads, file size, open files, no core), drops to a per-slot uid when root,
drops capabilities, sets no_new_privs, and loads a seccomp filter (threads only, no fork/exec, no
sockets, no ptrace, no chmod/chown, signals to itself only).  Answers come back as frames on a private
pipe (``wire``); stdout/stderr are drained and capped; the wall clock is enforced from outside with a
pidfd SIGKILL.  If Landlock or seccomp is missing, ``Sandbox()`` raises ``SandboxUnavailable``.

Modules: ``api`` (data types), ``sandbox`` (trusted runner), ``pool`` (zygote handle), ``wire`` (frame
codec), ``values`` (value types), ``isolation`` (kernel mechanisms), ``policy`` (what a worker may
read), ``zygote``, ``worker``, ``drivers``, ``objectives`` (code that runs in the sandbox), ``trace``
(diagnostics: what the box refuses a library, e.g. CUDA).  Submissions are found and copied into boxes by
``grader.intake``.

Several functions, several batches: ``Job.functions`` lets several functions share one worker, each
function's requests a segment in which the worker is as a fresh one would be (module imported afresh,
torch's settings and generators reset, wall-clock, CPU and reply limits renewed: ``worker.Segments``);
``Sandbox.session`` keeps that worker for later batches (a submission's next level, its shrinking), so
a submission pays a worker's start once.  ``Sandbox.preload`` hands the zygote the requests every
submission will get (a suite's), decoded there once; workers copy them by number (``wire.Templates``).

CUDA: ``Sandbox(device="cuda")`` runs a ``Job(device="cuda")`` in a worker that starts CUDA before the
student's code (a failure is an ``infra_error``) with the GPU's grants (``policy.CUDA_*``); its CPU jobs
see no GPU.  A CUDA job of several functions starts CUDA once per submission.
"""

from grader.sandbox.api import Job, JobResult, Limits, Reply, Request, SandboxUnavailable
from grader.sandbox.sandbox import Sandbox
from grader.sandbox.values import GradFn, Opaque, TensorValue, Value

__all__ = [
    "GradFn",
    "Job",
    "JobResult",
    "Limits",
    "Opaque",
    "Reply",
    "Request",
    "Sandbox",
    "SandboxUnavailable",
    "TensorValue",
    "Value",
]
