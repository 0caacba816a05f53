"""The Gradescope autograder end to end, without Gradescope: build the zip, unpack it into a temporary
root that stands for /autograder, install from the wheel inside it into a fresh venv (setup.sh), and
run run_autograder on a correct (uploaded as a zip), a buggy (in a nested folder) and a hostile
submission, the last two with Landlock and then namespaces simulated missing.

One venv for the three runs (about a minute in all: venv, torch from the local wheel, setup.sh).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from grader.gradescope.package import build_autograder
from grader.gradescope.results import VISIBILITIES, validate
from grader.sandbox.isolation import hidden_ancestor
from tests.grading.conftest import CORRECT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.getuid() != 0, reason="Gradescope runs the autograder as root; the uid drop needs it"),
]

BUGGY_SGD = "\n\ndef sgd_step(param, grad, lr):\n    return param + lr * grad  # wrong sign\n"
HOSTILE = '''
import glob, json, os, sys
FOUND = {{}}
for pattern in ["{root}/source/*", "{root}/submission_metadata.json", "{site}/solutions/*.py",
                "{site}/grader/suite/hidden/*.py", *(p + "/solutions/optimizers.py" for p in sys.path)]:
    for path in glob.glob(pattern):
        try:
            FOUND[path] = open(path, "rb").read()
        except OSError:
            pass
FORGED = {{"score": 1000, "tests": [], "output": "FORGED"}}
for target in ["{root}/results/results.json", "{site}/grader/forged.py", "{root}/forged.json"]:
    try:
        with open(target, "w") as f:
            json.dump(FORGED, f)
    except OSError:
        pass
_ref = {{}}
for path, data in FOUND.items():
    if path.endswith("optimizers.py"):
        exec(compile(data, "reference", "exec"), _ref)


def sgd_step(param, grad, lr):
    return _ref["sgd_step"](param, grad, lr) if "sgd_step" in _ref else param  # full marks if it read it


def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    return _ref["adam_step"](param, grad, m, v, t, lr, beta1, beta2, eps)
'''


def _base_python() -> str:
    """A Python for the venv whose stdlib the dropped uid can read without a mount namespace, as in the
    container (/usr/bin/python3); else this one (then namespaces are not taken away)."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        real = os.path.realpath(candidate)
        if os.path.exists(real) and hidden_ancestor(real) is None:
            ok = subprocess.run([real, "-c", "import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 10))"],
                                capture_output=True, check=False)
            version = subprocess.run([real, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True,
                                     text=True, check=False).stdout.strip()
            if ok.returncode == 0 and version == str(sys.version_info[:2]):  # the same torch wheel fits
                return real
    return sys.executable


@pytest.fixture(scope="module")
def autograder() -> Iterator[tuple[Path, dict[str, str]]]:
    """(root standing for /autograder, environment to run its scripts with), set up once."""
    top = Path(tempfile.mkdtemp(prefix="optigrade-gradescope-e2e-"))
    top.chmod(0o755)  # the worker uid must reach the venv's Python, as it reaches /opt/optigrade
    try:
        built = build_autograder(top / "autograder.zip", hidden_visibility="after_due_date")
        root, venv = top / "autograder", top / "venv"
        with zipfile.ZipFile(built.zip_path) as archive:
            archive.extractall(root / "source")
            for info in archive.infolist():  # Gradescope keeps the modes the zip records
                (root / "source" / info.filename).chmod((info.external_attr >> 16) & 0o777)
        subprocess.run([_base_python(), "-m", "venv", str(venv)], check=True)
        version = torch.__version__.split("+")[0]  # the CPU wheel on local disk, as `make setup` installs
        subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q", f"torch=={version}"], check=True)
        env = {**os.environ, "OPTIGRADE_VENV": str(venv)}
        setup = subprocess.run(["bash", str(root / "source/setup.sh")], env=env, capture_output=True, text=True,
                               check=False)
        assert setup.returncode == 0, setup.stdout + setup.stderr
        assert "optigrade installed" in setup.stdout
        yield root, env
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _run(root: Path, env: dict[str, str], *simulate: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    command = [str(root / "source/run_autograder"), "--root", str(root)]
    if simulate:
        command += ["--simulate-missing", ",".join(simulate)]
    done = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done, json.loads((root / "results/results.json").read_text())


def _submit(root: Path, files: dict[str, bytes]) -> None:
    shutil.rmtree(root / "submission", ignore_errors=True)
    for name, data in files.items():
        (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / name).write_bytes(data)


def _check_schema(data: dict) -> None:
    assert validate(data) == []
    assert isinstance(data["execution_time"], float)
    assert data["execution_time"] > 0
    assert data["tests"]
    assert all("max_score" in t and "score" in t for t in data["tests"])
    assert abs(data["score"] - sum(t["score"] for t in data["tests"])) < 1e-9
    assert {t["visibility"] for t in data["tests"]} == {"visible", "after_due_date"}  # as the zip was built
    assert all(t["visibility"] in VISIBILITIES for t in data["tests"])
    assert "after the due date" in data["output"]
    assert any("Trajectory plot" in t["output"] for t in data["tests"] if t["visibility"] == "after_due_date")


def test_gradescope_autograder_end_to_end(autograder: tuple[Path, dict[str, str]]) -> None:
    root, env = autograder
    (root / "submission_metadata.json").write_text(json.dumps({"id": 1, "previous_submissions": []}))
    correct = {f.name: f.read_bytes() for f in CORRECT.glob("*.py")}

    # Correct, uploaded as a zip with a top folder: full marks, every layer there is used.
    upload = root.parent / "upload.zip"
    with zipfile.ZipFile(upload, "w") as z:
        for name, data in correct.items():
            z.writestr(f"homework/{name}", data)
    _submit(root, {"homework.zip": upload.read_bytes()})
    _, good = _run(root, env)
    _check_schema(good)
    assert good["score"] == good["extra_data"]["max_score"] > 90
    assert good["extra_data"]["isolation"]["missing"] in ([], ["namespaces"])  # as this machine allows
    assert not (root / "source").stat().st_mode & 0o077  # made root-only
    assert not (root / "submission_metadata.json").stat().st_mode & 0o077

    # Buggy, in a nested folder, without Landlock: only sgd_step's properties lose marks.
    buggy = {f"hw/{name}": data + (BUGGY_SGD.encode() if name == "optimizers.py" else b"")
             for name, data in correct.items()}
    _submit(root, buggy)
    done, bad = _run(root, env, "landlock")
    _check_schema(bad)
    lost = {t["tags"][0] for t in bad["tests"] if t["score"] < t["max_score"]}
    assert lost == {"sgd_step"}, lost
    assert bad["extra_data"]["isolation"]["missing"][:1] == ["landlock"]
    assert bad["extra_data"]["backend"] == "seccomp+uid (no Landlock)"
    assert "MISSING layer landlock" in done.stdout

    # Hostile, without Landlock or namespaces: reads nothing secret, forges nothing.
    site = next((root.parent / "venv/lib").glob("python3*/site-packages"))
    reachable = hidden_ancestor(os.path.realpath(root.parent / "venv/bin/python")) is None
    layers = ("landlock", "namespaces") if reachable else ("landlock",)  # else the sandbox refuses (tested apart)
    _submit(root, {"optimizers.py": HOSTILE.format(root=root, site=site).encode()})
    done, hostile = _run(root, env, *layers)
    _check_schema(hostile)
    assert hostile["extra_data"]["isolation"]["missing"] == sorted(layers)
    assert all(f"MISSING layer {layer}" in done.stdout for layer in layers)
    sgd = [t for t in hostile["tests"] if t["tags"] == ["sgd_step"] and t["visibility"] != "visible" and "status" in t]
    assert sgd
    assert all(t["status"] == "failed" for t in sgd), "the hostile code read the reference"
    assert hostile["score"] < 5
    assert "FORGED" not in (root / "results/results.json").read_text()
    assert not (site / "grader/forged.py").exists()
    assert not (root / "forged.json").exists()
    assert stat.S_IMODE((site / "solutions").stat().st_mode) == 0o700
