"""optigrade gradescope: the zip's layout, and clear errors before anything is built."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path

import hypothesis
import numpy
import pytest
import torch

from grader.errors import UsageError
from grader.gradescope import CONFIG_NAME
from grader.gradescope.package import build_autograder


def _fake_wheel(tmp_path: Path) -> Path:
    wheel = tmp_path / "optigrade-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for name in ("grader/gradescope/autograde.py", "solutions/optimizers.py", "grader/grade/rubric.toml"):
            z.writestr(name, "")
    return wheel


def test_the_zip_holds_the_scripts_at_its_root_executable(tmp_path: Path) -> None:
    built = build_autograder(tmp_path / "autograder.zip", hidden_visibility="hidden", wheel=_fake_wheel(tmp_path))
    with zipfile.ZipFile(built.zip_path) as z:
        infos = {i.filename: i for i in z.infolist()}
        config = json.loads(z.read(CONFIG_NAME))
        setup = z.read("setup.sh").decode()
        pins = z.read("constraints.txt").decode().splitlines()
    assert set(infos) == {"setup.sh", "run_autograder", built.wheel, "rubric.toml", CONFIG_NAME, "constraints.txt"}
    assert all((infos[n].external_attr >> 16) & 0o777 == 0o755 for n in ("setup.sh", "run_autograder"))
    assert config == {"hidden_visibility": "hidden", "rubric": "rubric.toml", "wheel": built.wheel}
    assert "download.pytorch.org/whl/cpu" in setup  # a CPU torch, not PyPI's CUDA build
    assert "optigrade-*.whl" in setup
    assert "git" not in setup
    assert 0 < built.max_points < 100  # the CUDA properties do not count without a GPU
    # A rebuilt image draws the same examples with the same numerics: the versions of this machine, pinned.
    assert pins == [f"torch=={torch.__version__.split('+')[0]}", f"hypothesis=={hypothesis.__version__}",
                    f"numpy=={numpy.__version__}"]
    assert '-c "$venv/optigrade-constraints.txt"' in setup
    assert '"$torch_pin" --index-url "$cpu"' in setup


@pytest.mark.parametrize(("kwargs", "complaint"), [
    ({"hidden_visibility": "visible"}, "not one of after_published, after_due_date, hidden"),
    ({"out": "autograder.tar"}, "takes a .zip file"),
    ({"out": "missing/autograder.zip"}, "does not exist"),
    ({"rubric": "rubric.toml", "rubric_text": "[points]\nsgd = 3\n"}, "unknown functions"),
    ({"wheel": "other.whl"}, "expected an existing optigrade wheel"),
])
def test_bad_input_is_refused_before_anything_is_written(tmp_path: Path, kwargs: dict[str, str],
                                                          complaint: str) -> None:
    out = tmp_path / kwargs.pop("out", "autograder.zip")
    if "rubric_text" in kwargs:
        (tmp_path / "rubric.toml").write_text(kwargs.pop("rubric_text"))
    args = {k: tmp_path / v if k in ("rubric", "wheel") else v for k, v in kwargs.items()}
    with pytest.raises(UsageError, match=complaint):
        build_autograder(out, **args)  # type: ignore[arg-type]
    assert not out.exists()


def test_the_maximum_printed_is_the_one_results_json_reports(tmp_path: Path) -> None:
    """The instructor sets the assignment's points to ``max_points``: a full-marks run must reach exactly
    it (the default rubric's 8/11-point shares round to 95.2906 in all but to 95.2905 function by function)."""
    from grader.grade.rubric import load_rubric
    from grader.gradescope.results import to_gradescope
    from grader.suite.registry import suite_properties

    built = build_autograder(tmp_path / "autograder.zip", wheel=_fake_wheel(tmp_path))
    props = suite_properties()
    points = load_rubric(None, props).property_points(props)
    tests = [{"name": p.name, "tags": [p.function], "visibility": "visible" if p.public else "after_published",
              "output": "", "score": 0.0, "max_score": 0.0, **({} if p.needs_cuda else {"status": "passed"})}
             for p in props]
    data = to_gradescope({"tests": tests, "output": ""}, points, hidden_visibility="after_published",
                         execution_time=1.0, isolation={})
    assert data["score"] == data["extra_data"]["max_score"] == built.max_points, (
        f"a full-marks run scores {data['score']} of {data['extra_data']['max_score']}, "
        f"but optigrade gradescope tells the instructor to set {built.max_points} points")


FAKE_PYTHON = """#!/usr/bin/env bash
echo "$*" >> "$LOG"
case "$*" in
  "-c import torch") exit 1 ;;                     # no torch yet
  *"torch==9.9.9"*) exit 1 ;;                      # the pinned torch is not on the index any more
  *"pip install -q -c "*) exit 1 ;;                # nor are the pinned hypothesis/numpy
esac
"""


def test_setup_falls_back_loudly_when_the_pinned_versions_cannot_be_had(tmp_path: Path) -> None:
    """setup.sh's logic, run with a stand-in Python that records each command: the pins are tried first,
    then the newest is installed with a WARNING (the image still builds)."""
    built = build_autograder(tmp_path / "autograder.zip", wheel=_fake_wheel(tmp_path))
    source = tmp_path / "source"
    with zipfile.ZipFile(built.zip_path) as z:
        z.extractall(source)
    (source / "constraints.txt").write_text("torch==9.9.9\nhypothesis==0.0.1\nnumpy==0.0.1\n")
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin/python").write_text(FAKE_PYTHON)
    (venv / "bin/python").chmod(0o755)
    log = tmp_path / "log"
    done = subprocess.run(["bash", str(source / "setup.sh")], capture_output=True, text=True, check=False,
                          env={**os.environ, "OPTIGRADE_VENV": str(venv), "LOG": str(log)})
    assert done.returncode == 0, done.stderr
    commands = log.read_text().splitlines()
    assert [c for c in commands if "pip install" in c] == [
        "-m pip install -q torch==9.9.9 --index-url https://download.pytorch.org/whl/cpu",
        "-m pip install -q torch --index-url https://download.pytorch.org/whl/cpu",
        f"-m pip install -q -c {venv}/optigrade-constraints.txt {source}/{built.wheel}",
        f"-m pip install -q {source}/{built.wheel}",
    ]
    assert (venv / "optigrade-constraints.txt").read_text() == "hypothesis==0.0.1\nnumpy==0.0.1\n"
    assert "WARNING: torch==9.9.9 (the build machine's) is not on" in done.stderr
    assert "WARNING: the versions in constraints.txt (hypothesis==0.0.1 numpy==0.0.1 ) could not be installed" in (
        done.stderr.replace("\n", " "))
