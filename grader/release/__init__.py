"""``optigrade release``: the student bundle — stubs, public checks and a check command, nothing hidden."""

from __future__ import annotations

import shutil
from pathlib import Path

from grader.errors import UsageError
from grader.stubs import expected_stubs

ROOT = Path(__file__).resolve().parent.parent.parent
# The public side of the suite: what the bundle's check needs and nothing that knows the answers.
PUBLIC_MODULES = (
    "grader/__init__.py", "grader/errors.py", "grader/check/__init__.py", "grader/check/notebook.py",
    "grader/grade/__init__.py", "grader/grade/report.py",  # failure_text: check words failures as feedback does
    "grader/suite/__init__.py", "grader/suite/model.py", "grader/suite/compare.py", "grader/suite/contract.py",
    "grader/suite/strategies.py", "grader/suite/examples.py", "grader/suite/engine.py", "grader/suite/shrink.py",
    "grader/suite/runners.py", "grader/suite/registry.py",
    "grader/sandbox/siblings.py", "grader/sandbox/effects.py", "grader/sandbox/wording.py",
    *(f"grader/suite/public/{p.name}" for p in sorted((ROOT / "grader/suite/public").glob("*.py"))),
)

STUDENT_README = """# 最佳化方法 — optimizer exercises

Fill in every function in `exercises/` that raises `NotImplementedError`. The docstrings give the
lecture's formula, the arguments and a worked example.

Check yourself (needs Python ≥ 3.10 with torch, numpy, hypothesis, rich; torch does not install numpy:
`pip install torch numpy hypothesis rich`):

```sh
python check.py            # runs the public checks on ./exercises
python check.py -v         # ... and shows every failing check with its counter-example
python check.py path/to/my/folder
```

The public checks are a subset of the grading: hidden tests compare your functions with the reference
on many more inputs (float32, long trajectories, large t, CUDA) and also count.
Submit `optimizers.py`, `epochs.py` and `regression.py`. They may import each other
(`from optimizers import sgd_step`), and one function may call another of yours (`adamw_step` calling
your `adam_step`): each function is graded on its own, so a bug in a helper costs marks once, there.
"""

NOTEBOOK_README = """
Prefer Jupyter or Colab? Open `exercises.ipynb` (Colab: File → Upload notebook): the same exercises,
with a check cell under each function. It carries its own checks; submit the notebook itself.
"""

CHECK_SCRIPT = '''"""Run the public checks on your exercise files: python check.py [-v] [FOLDER].

Exit status 0 only when every public check passes, 1 when one fails, 2 on a usage error."""
import argparse
import sys
from pathlib import Path

if sys.version_info < (3, 10):
    print(f"error: the checks need Python 3.10 or newer; this is {sys.version.split()[0]} ({sys.executable})",
          file=sys.stderr)
    sys.exit(2)
sys.path.insert(0, str(Path(__file__).resolve().parent))
try:
    from grader.check import all_passed, check
    from grader.errors import OptigradeError
except ModuleNotFoundError as exc:  # a package the checks need (torch, numpy, hypothesis, rich) is not installed
    package = (exc.name or "").split(".")[0]
    if package not in ("torch", "numpy", "hypothesis", "rich"):
        raise
    print(f"error: the checks need the Python package {package}, which {sys.executable} does not have; "
          f"fix: {sys.executable} -m pip install {package}", file=sys.stderr)
    sys.exit(2)

parser = argparse.ArgumentParser(description="Run the public checks on your exercise files.")
parser.add_argument("folder", nargs="?", default="exercises", help="the folder with your files (default: exercises)")
parser.add_argument("-v", "--verbose", action="store_true", help="every failing check with its counter-example")
args = parser.parse_args()
try:
    results = check(Path(args.folder), verbose=args.verbose)
except OptigradeError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(2)
sys.exit(0 if all_passed(results) else 1)
'''


def release(out: Path, *, notebook: bool = False) -> list[Path]:
    """Write the student bundle into ``out`` (which must be empty or absent); with ``notebook``, also its
    notebook edition ``exercises.ipynb`` (``grader/release/notebook.py``)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is a file; expected a new or empty folder for the bundle. Fix: -o {out}-bundle")
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} is not empty; give a new folder for the bundle (it is written from scratch)")
    if notebook:
        from grader.release.notebook import require_nbformat

        require_nbformat()
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
    (out / "README.md").write_text(STUDENT_README + (NOTEBOOK_README if notebook else ""), encoding="utf-8")
    (out / "check.py").write_text(CHECK_SCRIPT, encoding="utf-8")
    written += [out / "README.md", out / "check.py"]
    if notebook:
        from grader.release.notebook import write_notebook

        stubs = {path.stem: text for path, text in expected_stubs().items() if path.stem != "__init__"}
        written.append(write_notebook(out, stubs, {rel: (ROOT / rel).read_bytes() for rel in PUBLIC_MODULES}))
    return written
