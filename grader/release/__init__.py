"""``optigrade release``: the student bundle — stubs, public checks and a check command, nothing hidden."""

from __future__ import annotations

import shutil
from pathlib import Path

from grader.errors import UsageError
from grader.stubs import expected_stubs

ROOT = Path(__file__).resolve().parent.parent.parent
# The public side of the suite: what the bundle's check needs and nothing that knows the answers.
PUBLIC_MODULES = (
    "grader/__init__.py", "grader/errors.py", "grader/check/__init__.py",
    "grader/suite/__init__.py", "grader/suite/model.py", "grader/suite/compare.py", "grader/suite/contract.py",
    "grader/suite/strategies.py", "grader/suite/examples.py", "grader/suite/engine.py", "grader/suite/shrink.py",
    "grader/suite/runners.py", "grader/suite/registry.py",
    "grader/sandbox/siblings.py", "grader/sandbox/effects.py",
    *(f"grader/suite/public/{p.name}" for p in sorted((ROOT / "grader/suite/public").glob("*.py"))),
)

STUDENT_README = """# 最佳化方法 — optimizer exercises

Fill in every function in `exercises/` that raises `NotImplementedError`. The docstrings give the
lecture's formula, the arguments and a worked example.

Check yourself (needs Python ≥ 3.10 with torch, hypothesis, rich):

```sh
python check.py            # runs the public checks on ./exercises
python check.py path/to/my/folder
```

The public checks are a subset of the grading: hidden tests compare your functions with the reference
on many more inputs (float32, long trajectories, large t, CUDA) and also count.
Submit `optimizers.py`, `epochs.py` and `regression.py`. They may import each other
(`from optimizers import sgd_step`), and one function may call another of yours (`adamw_step` calling
your `adam_step`): each function is graded on its own, so a bug in a helper costs marks once, there.
"""

CHECK_SCRIPT = '''"""Run the public checks on your exercise files: python check.py [FOLDER]."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from grader.check import check  # noqa: E402

check(Path(sys.argv[1] if len(sys.argv) > 1 else "exercises"))
'''


def release(out: Path) -> list[Path]:
    """Write the student bundle into ``out`` (which must be empty or absent)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is a file; expected a new or empty folder for the bundle. Fix: -o {out}-bundle")
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} is not empty; give a new folder for the bundle (it is written from scratch)")
    written = []
    for path, text in expected_stubs().items():
        target = out / "exercises" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    for rel in PUBLIC_MODULES:
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / rel, target)
        written.append(target)
    (out / "README.md").write_text(STUDENT_README, encoding="utf-8")
    (out / "check.py").write_text(CHECK_SCRIPT, encoding="utf-8")
    return [*written, out / "README.md", out / "check.py"]
