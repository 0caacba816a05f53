"""Micro-benchmark of the sandbox: zygote start time and milliseconds per trivial ``sgd_step`` job.

Run: ``.venv/bin/python benchmarks/sandbox_overhead.py [--jobs N] [--repeat N]``.  Prints the
zygote start (fresh interpreter + ``import torch``), the per-job cost of fork + isolation + one call
+ teardown, measured sequentially and with N parallel slots, and requests per second within one job.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from grader.sandbox import Job, Limits, Request, Sandbox

SGD = "def sgd_step(param, grad, lr):\n    return param - lr * grad\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="parallel slots for the throughput run")
    parser.add_argument("--repeat", type=int, default=40, help="jobs per measurement")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "optimizers.py"
        path.write_text(SGD)
        x = torch.linspace(-1, 1, 10, dtype=torch.float64)
        one = Job(path, "sgd_step", [Request("call", (x, x, 0.1))])
        many = Job(path, "sgd_step", [Request("call", (x, x, 0.1))] * 1000)
        started = time.perf_counter()
        with Sandbox(jobs=args.jobs, limits=Limits()) as sandbox:
            opened = time.perf_counter() - started
            print(f"backend: {sandbox.backend} ({', '.join(sandbox.features)})")
            print(f"zygote start (as seen by the zygote): {sandbox.zygote_start_seconds * 1000:.0f} ms; "
                  f"Sandbox() total: {opened * 1000:.0f} ms")
            for _ in range(5):
                assert sandbox.run(one).status == "ok"
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                result = sandbox.run(one)
                times.append(time.perf_counter() - t)
                assert result.status == "ok", result.detail
            print(f"one sgd_step job, sequential: median {statistics.median(times) * 1000:.1f} ms, "
                  f"p90 {sorted(times)[int(0.9 * len(times))] * 1000:.1f} ms (n={args.repeat})")
            t = time.perf_counter()
            with ThreadPoolExecutor(args.jobs) as pool:
                results = list(pool.map(lambda _: sandbox.run(one), range(args.repeat)))
            elapsed = time.perf_counter() - t
            assert all(r.status == "ok" for r in results)
            print(f"one sgd_step job, {args.jobs} in parallel: {elapsed / args.repeat * 1000:.1f} ms per job "
                  f"(wall clock / jobs)")
            t = time.perf_counter()
            result = sandbox.run(many)
            elapsed = time.perf_counter() - t
            assert result.status == "ok", result.detail
            print(f"1000 sgd_step requests in one job: {elapsed * 1000:.0f} ms "
                  f"({elapsed / 1000 * 1e6:.0f} µs per request)")


if __name__ == "__main__":
    main()
