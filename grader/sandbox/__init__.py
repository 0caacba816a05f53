"""Run untrusted student code in isolated workers; the grading process never imports it.

Quick use::

    with Sandbox(jobs=2, limits=Limits(wall_s=5)) as sandbox:
        result = sandbox.run(Job(box / "optimizers.py", "sgd_step", [Request("call", (x, g, 0.1))]))
        result.status, result.replies[0].value   # "ok", TensorValue(tensor=..., device="cpu", ...)

Modules: ``api`` (data types), ``sandbox`` (trusted runner), ``pool`` (zygote handle), ``wire`` (frame
codec), ``isolation`` (Landlock/seccomp/rlimits/uid), ``policy`` (what a worker may read), ``zygote``,
``worker``, ``drivers``, ``objectives`` (code that runs in the sandbox), ``staging`` (submissions).
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
