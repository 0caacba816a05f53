"""Benchmark: grade a class with the full default suite; target ≤ 0.9 s per submission at ``--jobs 2``.

Run: ``python -m benchmarks.grade_class [--students 40] [--jobs 2] [--hostile 0]``.  The class is
made of copies of the demo class's honest students (a correct one and two with typical mistakes,
so failures are shrunk as in real grading); ``--hostile N`` adds N copies of the hostile one, whose
stalling functions cost their wall-clock limit whatever the machine.  Prints the whole run (start-up
included), the start-up alone, and seconds per submission.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from grader.grade.run import grade_class

BUDGET_S = 0.9
DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo_class"
HONEST = ("b11002001", "b11002002", "b11002003")
HOSTILE = "b11002004"


def machine_cpu_seconds() -> float:
    """CPU time used by the whole machine so far (kernel threads included), from /proc/stat."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait


def make_class(folder: Path, students: int, hostile: int) -> None:
    for i in range(students):
        shutil.copytree(DEMO / HONEST[i % len(HONEST)], folder / f"s{i:04d}")
    for i in range(hostile):
        shutil.copytree(DEMO / HOSTILE, folder / f"h{i:04d}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--hostile", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    quiet = Console(file=open(os.devnull, "w"), stderr=False)  # noqa: SIM115 - lives as long as the run
    with tempfile.TemporaryDirectory(prefix="grade-bench-") as tmp:
        subs, out = Path(tmp) / "subs", Path(tmp) / "out"
        make_class(subs, args.students, args.hostile)
        one = Path(tmp) / "one"
        shutil.copytree(DEMO / HONEST[0], one / "s0")
        start = time.perf_counter()
        grade_class(one, Path(tmp) / "out-one", jobs=args.jobs, console=quiet)
        single = time.perf_counter() - start
        start, cpu = time.perf_counter(), machine_cpu_seconds()
        result = grade_class(subs, out, jobs=args.jobs, console=quiet)
        elapsed, cpu = time.perf_counter() - start, machine_cpu_seconds() - cpu
    n = args.students + args.hostile
    assert result.graded == n, result
    per = (elapsed - single) / max(1, n - 1)  # marginal cost: the start-up is paid once per class
    print(f"grade: {n} submissions ({args.hostile} hostile), --jobs {args.jobs}, {os.cpu_count()} CPU(s): "
          f"{elapsed:.1f} s in all, start-up + 1 student {single:.1f} s, "
          f"{elapsed / n:.2f} s per submission overall, {per:.2f} s marginal (budget {BUDGET_S} s); "
          f"a class of 200 ≈ {(single + 199 * per) / 60:.1f} min; {cpu / elapsed:.2f} cores busy, "
          f"{cpu / n:.2f} CPU-s per submission")
    return 0 if per <= BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
