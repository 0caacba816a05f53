"""The student bundle holds the stubs and public checks, and no solution code or hidden test."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.errors import UsageError
from grader.release import release
from grader.suite.engine import Suite
from grader.suite.registry import suite_properties
from grader.suite.runners import InProcessRunner

ROOT = Path(__file__).resolve().parents[2]


def test_bundle_has_no_reference_and_no_hidden_tests(tmp_path: Path) -> None:
    files = release(tmp_path / "bundle")
    solution_bodies = set()
    for path in (ROOT / "solutions").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                solution_bodies |= {ast.dump(stmt) for stmt in node.body[1:]}  # all but the docstring
    for path in files:
        text = path.read_text()
        assert "solutions" not in text.replace("# ", "") or path.suffix == ".md", path
        assert "hidden" not in path.parts, path
        if path.suffix == ".py":
            tree = ast.parse(text)
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef):
                    assert not ({ast.dump(s) for s in node.body} & solution_bodies), f"{path}: {node.name}"


def test_bundle_check_runs_on_its_own(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    release(bundle)
    # -S: no site hooks, so this project's editable install cannot lend the bundle what it lacks;
    # PYTHONPATH gives only the third-party packages a student has (torch, hypothesis, rich).
    packages = [p for p in sys.path if p.endswith("site-packages")]
    done = subprocess.run([sys.executable, "-S", "check.py"], cwd=bundle, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": os.pathsep.join(packages)})
    assert done.returncode == 1, done.stderr  # the stubs pass nothing yet: not a success
    assert "hidden tests" in done.stdout
    assert "0/" in done.stdout
    correct = bundle / "correct"
    correct.mkdir()
    for f in (ROOT / "examples/demo_class/b11002001").glob("*.py"):
        (correct / f.name).write_bytes(f.read_bytes())
    done = subprocess.run([sys.executable, "-S", "check.py", "-v", "correct"], cwd=bundle, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": os.pathsep.join(packages)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "public checks pass" in done.stdout


def test_public_properties_use_no_reference() -> None:
    public = suite_properties(hidden=False)
    assert public
    assert all(p.public for p in public)
    public_names = {p.name for p in public}
    assert all(not p.public for p in suite_properties() if p.name not in public_names)
    suite = Suite(public, examples_per_property=3)
    results = suite.grade(InProcessRunner(), {m: ROOT / "examples/demo_class/b11002001" / f"{m}.py"
                                              for m in ("optimizers", "epochs", "regression")})
    assert all(r.status != "failed" for r in results)


def test_release_refuses_a_file_or_a_full_folder(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match="is a file; expected a new or empty folder"):
        release(tmp_path / "file")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    with pytest.raises(UsageError, match="is not empty"):
        release(tmp_path / "full")


@pytest.mark.parametrize("package", ["numpy", "hypothesis"])
def test_bundle_check_names_a_missing_package_and_how_to_install_it(tmp_path: Path, package: str) -> None:
    """torch does not install numpy: a student who installs what the README lists must have all the checks need,
    and one who lacks a package gets its name and the pip line, not a traceback from the checks' own code."""
    bundle = tmp_path / "bundle"
    release(bundle)
    readme = (bundle / "README.md").read_text()
    needed = readme[readme.index("needs Python"):].split(")", 1)[0]
    assert all(name in needed for name in ("torch", "numpy", "hypothesis", "rich")), needed
    absent = tmp_path / "absent" / package
    absent.mkdir(parents=True)  # shadows the installed package, as on a machine without it
    (absent / "__init__.py").write_text(f"raise ModuleNotFoundError({package!r} + ' missing', name={package!r})\n")
    packages = [str(absent.parent), *(p for p in sys.path if p.endswith("site-packages"))]
    done = subprocess.run([sys.executable, "-S", "check.py"], cwd=bundle, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": os.pathsep.join(packages)})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert f"pip install {package}" in done.stderr, done.stderr
