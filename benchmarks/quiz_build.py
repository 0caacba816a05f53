"""Benchmark: a 500-student quiz (handouts, answer key, Moodle XML, Canvas QTI) must build in under 20 s.

Run: ``python -m benchmarks.quiz_build [--students 500] [--pdf-sample 8]``.  PDF printing is
timed separately on a sample of handouts (one headless browser per worker) and
extrapolated, because it is optional and dominated by PDF font subsetting.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from quiz_bank.browser import find_chromium, print_pdfs
from quiz_bank.build import build_quiz
from quiz_bank.roster import Student

BUDGET_S = 20.0


def roster(n: int) -> list[Student]:
    names = ("王小明", "Alice Chen", "林美辰", "Brian Wu", "陳怡君")
    return [Student(f"B{11200000 + i}", names[i % len(names)]) for i in range(n)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pdf-sample", type=int, default=8, help="handouts to print for the PDF timing (0: skip)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="quiz-bench-") as tmp:
        out = Path(tmp)
        start = time.perf_counter()
        result = build_quiz(roster(args.students), args.seed, out, pdf=False)
        elapsed = time.perf_counter() - start
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        print(f"quiz build: {args.students} students, {len(result.files)} files, {size / 1e6:.1f} MB "
              f"in {elapsed:.2f} s on {os.cpu_count()} CPU(s) (budget {BUDGET_S:.0f} s, PDFs excluded)")
        chromium = find_chromium()
        if args.pdf_sample and chromium:
            sample = result.handouts[: args.pdf_sample]
            start = time.perf_counter()
            print_pdfs(chromium, sample)
            per_page = (time.perf_counter() - start) / len(sample)
            print(f"PDF printing: {per_page:.2f} s per handout with {min(4, os.cpu_count() or 1)} headless browsers, "
                  f"so about {per_page * (args.students + 1) / 60:.1f} min for the class "
                  f"and the key")
        elif args.pdf_sample:
            print("PDF printing: not timed, no Chromium found")
    return 0 if elapsed < BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
