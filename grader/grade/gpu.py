"""Before any student is graded on CUDA: a canary job in the real sandbox starts CUDA and runs one operation.

A GPU that will not start inside the box (a driver fault, a sandbox layer that refuses what CUDA needs,
memory taken by another process) is the machine's fault: with ``--device cuda`` nothing is graded and
the error names the cause and the fix; with ``--device auto`` the class is graded on the CPU, loudly, and
every result says why its CUDA properties were skipped.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

CANARY_SOURCE = (
    "import torch\n"
    "\n"
    "\n"
    "def canary():\n"
    "    x = torch.arange(4.0, device='cuda')\n"
    "    return float((x * 2).sum().item())\n"
)
EXPECTED = 12.0
DIAGNOSE = "python -m grader.sandbox.trace --device cuda"  # (as root) what the box refuses CUDA, from evidence


def cuda_problem(sandbox: Any) -> str | None:
    """None when a sandboxed CUDA worker starts CUDA and computes on it; else what went wrong."""
    from grader.sandbox import Job, Request

    with tempfile.TemporaryDirectory(prefix="optigrade-canary-") as tmp:
        path = Path(tmp) / "canary.py"
        path.write_text(CANARY_SOURCE)
        result = sandbox.run(Job(path, "canary", [Request()], device="cuda"))
    if result.status != "ok":
        return f"{result.status}: {result.detail}"
    reply = result.replies[0]
    if reply.raised is not None:
        return f"the canary's CUDA operation raised {reply.raised.splitlines()[0]}"
    if reply.value != EXPECTED:
        return f"the canary's CUDA operation returned {reply.value!r}, expected {EXPECTED}"
    return None


def refusal(problem: str) -> str:
    """The error for ``--device cuda`` when the canary failed."""
    return (f"--device cuda: CUDA does not start in the sandbox, so nothing was graded ({problem}). "
            f"Fix: check the GPU (nvidia-smi; memory taken by another process?), then run `{DIAGNOSE}` "
            f"as root to list what the sandbox refuses CUDA; or grade with --device cpu (CUDA properties "
            f"are then skipped with the reason)")


def fallback_reason(problem: str) -> str:
    """Why the CUDA properties were skipped under ``--device auto`` (shown in every result)."""
    return f"CUDA did not start on the grading machine ({problem[:300]}); graded on the CPU"
