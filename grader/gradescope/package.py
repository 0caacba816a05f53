"""Build the autograder zip: two scripts, the optigrade wheel, the rubric and the settings.

The wheel is built from this source tree by its own build backend (``pip wheel``, PEP 517), from a
clean copy of the packages the project ships, so no stale ``build/`` leftovers and nothing of a git
checkout (tests, examples, the venv) get in.  The container installs exactly that wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from grader.errors import UsageError
from grader.gradescope import CONFIG_NAME, HIDDEN_VISIBILITIES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SOURCE_ROOT = Path(__file__).resolve().parents[2]
VENV = "/opt/optigrade"  # where setup.sh installs; outside /autograder/source, which is made root-only
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same inputs give the same zip entries

SETUP_SH = f"""#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (Ubuntu 22.04 or later).
# It installs optigrade from the wheel beside this file into a venv of its own, with a CPU build of torch.
set -euo pipefail
here="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
venv="${{OPTIGRADE_VENV:-{VENV}}}"  # set by optigrade's own tests only

usable() {{ python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; }}
if [ ! -x "$venv/bin/python" ]; then
  if ! usable; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
  fi
  usable || {{ echo "optigrade needs Python >= 3.10 with venv: choose Ubuntu 22.04 or later" >&2; exit 1; }}
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
fi
# The versions of torch, Hypothesis and numpy the zip was built with (constraints.txt): the drawn examples
# and the numerics depend on them, so an image rebuilt later (a re-upload, then "Regrade all") grades as
# the first did.  Where the index no longer has one, the newest is taken and a WARNING says so.
cpu=https://download.pytorch.org/whl/cpu  # PyPI's Linux torch is the CUDA build (gigabytes; no GPU here)
torch_pin="$(grep -E '^torch==' "$here/constraints.txt" || echo torch)"
if ! "$venv/bin/python" -c 'import torch' 2>/dev/null; then
  "$venv/bin/python" -m pip install -q "$torch_pin" --index-url "$cpu" || {{
    echo "WARNING: $torch_pin (the build machine's) is not on $cpu; installing the newest CPU torch instead:" \\
         "grades may differ from those on the machine that built this zip" >&2
    "$venv/bin/python" -m pip install -q torch --index-url "$cpu"; }}
fi
grep -v '^torch==' "$here/constraints.txt" > "$venv/optigrade-constraints.txt" || true  # (torch: above)
"$venv/bin/python" -m pip install -q -c "$venv/optigrade-constraints.txt" "$here"/optigrade-*.whl || {{
  echo "WARNING: the versions in constraints.txt ($(tr '\\n' ' ' < "$venv/optigrade-constraints.txt")) could" \\
       "not be installed; installing the newest instead: grades may differ from the build machine's" >&2
  "$venv/bin/python" -m pip install -q "$here"/optigrade-*.whl; }}
# Fail the image build now, not at the first submission, when the install cannot grade.
"$venv/bin/python" -I -m grader.gradescope.autograde --check-install --root "$(dirname "$here")"
"""

RUN_AUTOGRADER = f"""#!/usr/bin/env bash
# Gradescope runs this as root in /autograder for every submission: it grades /autograder/submission
# and writes /autograder/results/results.json (nothing when it cannot grade safely: see the output).
exec "${{OPTIGRADE_VENV:-{VENV}}}/bin/python" -I -m grader.gradescope.autograde "$@"
"""


PINNED = ("torch", "hypothesis", "numpy")  # what decides the drawn examples and the numbers they give


def constraints() -> str:
    """``name==version`` of PINNED as installed here (torch's local label, e.g. +cpu, left off: the
    container takes the CPU build of that version)."""
    from importlib.metadata import PackageNotFoundError, version

    lines = []
    for name in PINNED:
        try:
            lines.append(f"{name}=={version(name).split('+')[0]}")
        except PackageNotFoundError:  # (not installed as a distribution: the container takes the newest)
            continue
    return "".join(line + "\n" for line in lines)


@dataclass(frozen=True)
class Built:
    zip_path: Path
    wheel: str
    entries: list[str]
    max_points: float  # on Gradescope (no GPU: the CUDA properties count for neither score nor maximum)


def build_wheel(dest: Path, source: Path = SOURCE_ROOT) -> Path:
    """Build optigrade's wheel from ``source`` (a source tree with pyproject.toml) into ``dest``."""
    pyproject = source / "pyproject.toml"
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        project = {}
    if project.get("project", {}).get("name") != "optigrade":
        raise UsageError(f"optigrade runs from {source}, which has no optigrade pyproject.toml to build the wheel "
                         f"from (an installed copy); fix: pass --wheel FILE (an optigrade wheel, e.g. the one you "
                         f"installed), or run optigrade from its source tree")
    includes = project.get("tool", {}).get("setuptools", {}).get("packages", {}).get("find", {}).get("include", [])
    tops = sorted({pattern.split(".")[0].rstrip("*") for pattern in includes})
    with tempfile.TemporaryDirectory(prefix="optigrade-wheel-") as tmp:
        tree, dist = Path(tmp) / "src", Path(tmp) / "dist"
        tree.mkdir()
        for name in ("pyproject.toml", str(project["project"].get("readme", "README.md"))):
            shutil.copy2(source / name, tree / name)
        for top in tops:
            if (source / top).is_dir():
                shutil.copytree(source / top, tree / top,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir",
                               str(dist), str(tree)], capture_output=True, text=True, check=False)
        wheels = sorted(dist.glob("optigrade-*.whl"))
        if done.returncode != 0 or len(wheels) != 1:
            raise UsageError(f"building the optigrade wheel failed (pip wheel exit {done.returncode}): "
                             f"{(done.stderr or done.stdout).strip()[-1500:]}\nfix: make sure pip can fetch "
                             f"the build backend (setuptools) from your package index, or pass --wheel FILE")
        return Path(shutil.copy2(wheels[0], dest / wheels[0].name))


def _check_wheel(wheel: Path) -> None:
    if not (wheel.is_file() and wheel.name.startswith("optigrade-") and wheel.name.endswith(".whl")):
        raise UsageError(f"--wheel {wheel}: expected an existing optigrade wheel file (optigrade-<version>-….whl)")
    try:
        with zipfile.ZipFile(wheel) as whl:
            names = set(whl.namelist())
    except (OSError, zipfile.BadZipFile) as exc:
        raise UsageError(f"--wheel {wheel} is not a readable wheel ({exc}); build one with `pip wheel --no-deps .` "
                         f"in optigrade's source tree") from None
    needed = {"grader/gradescope/autograde.py", "solutions/optimizers.py", "grader/grade/rubric.toml"}
    if not needed <= names:
        raise UsageError(f"--wheel {wheel} lacks {sorted(needed - names)}; expected an optigrade wheel of this "
                         f"version or later (with grader/gradescope)")


def build_autograder(out: Path, *, rubric: Path | None = None, hidden_visibility: str = "after_published",
                     wheel: Path | None = None) -> Built:
    """Write the autograder zip to ``out``; the rubric is checked against the suite first."""
    from grader.grade.rubric import DEFAULT_RUBRIC, load_rubric
    from grader.gradescope.results import max_score
    from grader.suite.registry import suite_properties

    if hidden_visibility not in HIDDEN_VISIBILITIES:
        raise UsageError(f"--hidden-visibility {hidden_visibility!r} is not one of {', '.join(HIDDEN_VISIBILITIES)}; "
                         f"fix: --hidden-visibility after_published (hidden tests shown once you publish grades)")
    if out.suffix.lower() != ".zip":
        raise UsageError(f"-o {out}: Gradescope takes a .zip file; fix: -o {out.with_suffix('.zip').name}")
    if out.is_dir():
        raise UsageError(f"-o {out} is a folder; expected a zip file to write, e.g. -o {out / 'autograder.zip'}")
    if not out.parent.is_dir():
        raise UsageError(f"-o {out}: the folder {out.parent} does not exist; create it or choose another path")
    props = suite_properties()
    points = load_rubric(rubric, props).property_points(props)  # a bad rubric fails here, not in Gradescope
    by_function: dict[str, list[float]] = {}
    for prop in props:
        if not prop.needs_cuda:
            by_function.setdefault(prop.function, []).append(points[prop.name])
    max_points = max_score(by_function)  # what results.json will say, to the last unit (not the rounded sum)
    rubric_text = (rubric or DEFAULT_RUBRIC).read_bytes()
    if wheel is not None:
        _check_wheel(wheel)
    with tempfile.TemporaryDirectory(prefix="optigrade-gradescope-") as tmp:
        whl = Path(shutil.copy2(wheel, Path(tmp) / wheel.name)) if wheel else build_wheel(Path(tmp))
        config = {"hidden_visibility": hidden_visibility, "rubric": "rubric.toml", "wheel": whl.name}
        files: list[tuple[str, bytes, int]] = [
            ("setup.sh", SETUP_SH.encode(), 0o755),
            ("run_autograder", RUN_AUTOGRADER.encode(), 0o755),
            (whl.name, whl.read_bytes(), 0o644),
            ("rubric.toml", rubric_text, 0o644),
            ("constraints.txt", constraints().encode(), 0o644),
            (CONFIG_NAME, (json.dumps(config, indent=2) + "\n").encode(), 0o644),
        ]
        fd, partial = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
        try:
            with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
                for name, data, mode in files:
                    info = zipfile.ZipInfo(name, ZIP_TIME)
                    info.external_attr = (0o100000 | mode) << 16  # a regular file with these permissions
                    info.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(info, data)
            os.replace(partial, out)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
    return Built(out, whl.name, [name for name, _, _ in files], max_points)
