"""Run every benchmark: ``python -m benchmarks`` (``make bench``).  Exit non-zero if one misses its budget."""

from __future__ import annotations

import sys

from benchmarks import grade_class, quiz_build, sandbox_overhead


def main() -> int:
    failed = 0
    for name, run in (("grade_class", grade_class.main), ("quiz_build", quiz_build.main)):
        print(f"== {name}", flush=True)
        failed += run([]) != 0
    print("== sandbox_overhead", flush=True)
    sandbox_overhead.main([])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
