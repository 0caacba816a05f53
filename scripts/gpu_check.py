"""`make gpu-check`: on a machine with an NVIDIA GPU, prove CUDA grading works in the full sandbox.

Runs with an existing Python that holds a CUDA build of torch (no network needed): install the project
into it first with ``python3 -m pip install --no-deps --no-build-isolation -e .``.  Steps: a canary job
in the sandbox (on failure, as root, the syscall/path trace of grader/sandbox/trace.py), the tests marked
``cuda``, the demo class graded sandboxed with ``--device cuda`` (the correct student must get every
mark, the CUDA properties included), then seconds per submission on the GPU and on the CPU.  Prints
PASS or FAIL; exit status 0 only on PASS.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "examples" / "demo_class"
CORRECT = "b11002001"
TARGET_RATIO = 1.5  # issue 9: marginal seconds per submission on CUDA at most 1.5 × the CPU figure


def say(text: str) -> None:
    print(text, flush=True)


def fail(text: str) -> int:
    say(f"gpu-check: FAIL — {text}")
    return 1


def canary() -> str | None:
    from grader.grade.gpu import cuda_problem
    from grader.sandbox import Sandbox

    with Sandbox(device="cuda") as box:
        started = time.monotonic()
        problem = cuda_problem(box)
        say(f"canary: {'ok' if problem is None else problem} ({time.monotonic() - started:.2f} s, "
            f"backend {box.backend}, {', '.join(box.features)})")
    return problem


ENDINGS: Counter[str] = Counter()  # how this process's sandboxed jobs ended (restarts cost CUDA starts)


def count_endings() -> None:
    from grader.sandbox import sandbox

    classify = sandbox.classify

    def counted(*args: Any, **kwargs: Any) -> tuple[str, str]:
        status, detail = classify(*args, **kwargs)
        ENDINGS[status if status != "restart" else f"restart ({detail[-80:]})"] += 1
        return status, detail

    sandbox.classify = counted


def grade(subs: Path, out: Path, device: str, jobs: int) -> float:
    from rich.console import Console

    from grader.grade.run import grade_class

    quiet = Console(file=open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the run
    started = time.perf_counter()
    result = grade_class(subs, out, device=device, jobs=jobs, console=quiet)
    if result.grader_errors:
        raise RuntimeError(f"{result.grader_errors} grader error(s) with --device {device}: "
                           + "; ".join(p.read_text()[:500] for p in out.glob("*/grader_error.txt")))
    return time.perf_counter() - started


def check_demo(out: Path) -> list[str]:
    """What is wrong with the demo class's CUDA grades (empty: nothing)."""
    problems = []
    data = json.loads((out / CORRECT / "results.json").read_text())
    cuda = [t for t in data["tests"] if "CUDA" in t["name"]]
    if not cuda:
        problems.append("no CUDA property was graded")
    problems += [f"{CORRECT}: {t['name']} is {t.get('status', 'skipped')}: {t['output'][:300]}"
                 for t in data["tests"] if t.get("status") != "passed"]
    if data["score"] != data["extra_data"]["max_score"]:
        problems.append(f"{CORRECT} scored {data['score']} of {data['extra_data']['max_score']}")
    for sid in ("b11002002", "b11002003", "b11002004"):
        other = json.loads((out / sid / "results.json").read_text())
        if other["score"] >= other["extra_data"]["max_score"]:
            problems.append(f"{sid} (typical mistakes / hostile) got full marks")
    return problems


def main() -> int:
    import torch

    if not torch.cuda.is_available():
        return fail(f"torch {torch.__version__} in {sys.executable} sees no CUDA device")
    try:
        import grader  # noqa: F401
    except ImportError:
        return fail(f"optigrade is not installed in {sys.executable}; run "
                    f"`{sys.executable} -m pip install --no-deps --no-build-isolation -e .` in {REPO}")
    started = time.monotonic()
    say(f"gpu-check: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, uid {os.getuid()}")
    problem = canary()
    if problem is not None:
        if os.getuid() == 0:
            say("tracing what the sandbox refuses CUDA (grader/sandbox/trace.py):")
            subprocess.run([sys.executable, "-m", "grader.sandbox.trace", "--device", "cuda"], cwd=REPO, check=False)
        return fail(f"CUDA does not start in the sandbox: {problem}")
    tests = subprocess.run([sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-p", "no:cacheprovider",
                            "-n", "4", "tests/sandbox", "tests/grading"], cwd=REPO, check=False)
    if tests.returncode != 0:
        return fail(f"the tests marked cuda failed (exit {tests.returncode})")
    jobs = max(2, min(8, (os.cpu_count() or 2) // 2))
    with tempfile.TemporaryDirectory(prefix="optigrade-gpu-check-") as tmp:
        root = Path(tmp)
        seconds = grade(DEMO, root / "demo", "cuda", jobs)
        problems = check_demo(root / "demo")
        say(f"demo class graded sandboxed with --device cuda --jobs {jobs} in {seconds:.1f} s")
        if problems:
            return fail("; ".join(problems))
        n = 4 * jobs
        one, many = root / "one", root / "many"
        shutil.copytree(DEMO / CORRECT, one / "s000")
        for i in range(n):
            shutil.copytree(DEMO / CORRECT, many / f"s{i:03d}")
        marginal = {}
        count_endings()
        for device in ("cpu", "cuda"):
            ENDINGS.clear()
            single = grade(one, root / f"one-{device}", device, jobs)
            whole = grade(many, root / f"many-{device}", device, jobs)
            say(f"{device:4}: endings of single jobs, failures and restarts in this process (not --jobs' others): "
                f"{dict(ENDINGS)}")
            marginal[device] = (whole - single) / (n - 1)
            say(f"{device:4}: class of 1 in {single:.1f} s, class of {n} in {whole:.1f} s → "
                f"{marginal[device]:.3f} s per submission (marginal, --jobs {jobs})")
    ratio = marginal["cuda"] / marginal["cpu"]
    say(f"CUDA / CPU marginal seconds per submission: {ratio:.2f} (target ≤ {TARGET_RATIO})")
    say(f"gpu-check: PASS in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
