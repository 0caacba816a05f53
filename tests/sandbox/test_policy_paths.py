"""What a real worker can read and import: the stdlib and the packages it needs, and not the other
third-party install locations (the base interpreter's site-packages, Debian's dist-packages), the
grader's own dependencies, or the repository."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from grader.sandbox import Job, Request, Sandbox, Value, policy
from grader.sandbox.policy import REPO_ROOT
from tests.sandbox.conftest import write_student

TRY_READ = """
import os
def f(paths):
    seen = {}
    for path in paths:
        try:
            if os.path.isdir(path):
                os.listdir(path)
            else:
                with open(path, "rb") as fh:
                    fh.read(1)
            seen[path] = "read"
        except OSError as e:
            seen[path] = type(e).__name__
    return seen
"""


def _sample_files(root: Path, limit: int = 12) -> list[str]:
    """Up to ``limit`` regular files beneath ``root``, top-level ones first, then nested ones."""
    if not root.is_dir():
        return []
    top = sorted(str(p) for p in root.iterdir() if p.is_file() and not p.is_symlink())
    nested: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        if dirpath != str(root):
            nested += [os.path.join(dirpath, n) for n in sorted(filenames)[:2]]
        if len(nested) >= limit:
            break
    return (top[: limit // 2] + nested)[:limit]


def _read_in_worker(sandbox: Sandbox, tmp_path: Path, paths: list[str]) -> dict[str, str]:
    values: list[Value] = list(paths)
    result = sandbox.run(Job(write_student(tmp_path, TRY_READ), "f", [Request("call", (values,))]))
    assert result.status == "ok", result.detail
    seen = result.replies[0].value
    assert isinstance(seen, dict)
    return {str(k): str(v) for k, v in seen.items()}


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _base_site_dirs() -> list[Path]:
    """Third-party install locations of the base interpreter (and the system's), none on the worker's path."""
    base = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_prefix})
    dirs = {Path(base["purelib"]).resolve(), Path(base["platlib"]).resolve()}
    dirs |= {Path(p) for p in policy.install_locations()}
    on_path = {Path(p) for p in policy.build().sys_path}
    return sorted(d for d in dirs if d.is_dir() and d not in on_path)


# ------------------------------------------------------------------------------ in a real worker


def test_other_install_locations_are_unreadable(sandbox: Sandbox, tmp_path: Path) -> None:
    dirs = _base_site_dirs()
    files = [f for d in dirs for f in _sample_files(d)]
    if not files:
        pytest.skip(f"no files in another third-party install location ({dirs})")
    seen = _read_in_worker(sandbox, tmp_path, files + [str(d) for d in dirs])
    for path in files:
        parent_visible = seen.get(str(next(d for d in dirs if str(d) in path))) != "FileNotFoundError"
        # The directory exists (and may be listed), but no file in it can be read.
        assert seen[path] == ("PermissionError" if parent_visible else "FileNotFoundError"), (path, seen[path])


IMPORTS = """
import sys
MODULES = ("json", "decimal", "fractions", "statistics", "csv", "email", "email.message", "xml.etree.ElementTree",
           "sqlite3", "ctypes", "asyncio", "zoneinfo", "unittest", "difflib", "heapq", "bisect", "textwrap",
           "torch", "numpy", "torch.distributions", "torch.utils.data", "torch.nn.functional",
           "numpy.polynomial", "numpy.fft", "numpy.linalg", "pytest")
def f():
    fresh, failed = [], {}
    for name in MODULES:
        if name not in sys.modules:
            fresh.append(name)
        try:
            __import__(name)
        except ImportError as e:
            if name != "sqlite3" or "_sqlite3" not in str(e):  # a Python built without sqlite
                failed[name] = repr(e)
        except Exception as e:
            failed[name] = repr(e)
    import csv, ctypes, decimal, email, fractions, io, json, statistics, xml.etree.ElementTree as ET
    import numpy, torch
    out = io.StringIO()
    csv.writer(out).writerow([1, "a"])
    checks = [
        json.loads(json.dumps({"a": [1, 2]})) == {"a": [1, 2]},
        decimal.Decimal("0.1") * 3 == decimal.Decimal("0.3"),
        fractions.Fraction(1, 3) * 3 == 1,
        statistics.mean([1, 2, 3]) == 2,
        out.getvalue() == "1,a\\r\\n",
        email.message_from_string("Subject: hi\\n\\nbody")["Subject"] == "hi",
        ET.fromstring("<a><b/></a>").find("b") is not None,
        ctypes.sizeof(ctypes.c_int32) == 4,
        float(torch.distributions.Normal(0.0, 1.0).log_prob(torch.tensor(0.0))) < 0,
        bool(numpy.polynomial.Polynomial([1, 2])(3) == 7),
        abs(float(numpy.fft.fft(numpy.ones(4))[0].real) - 4) < 1e-12,
    ]
    if "sqlite3" in sys.modules:
        import sqlite3
        checks.append(sqlite3.connect(":memory:").execute("select 1 + 1").fetchone() == (2,))
    return {"failed": failed, "fresh": fresh, "checks": checks}
"""


def test_stdlib_and_needed_packages_import_and_work(sandbox: Sandbox, tmp_path: Path) -> None:
    result = sandbox.run(Job(write_student(tmp_path, IMPORTS), "f", [Request()]))
    assert result.status == "ok", result.detail + result.stderr[-2000:]
    seen = result.replies[0].value
    assert isinstance(seen, dict)
    assert seen["failed"] == {}
    assert seen["checks"] == [True] * len(seen["checks"])  # type: ignore[arg-type]
    fresh = seen["fresh"]
    assert isinstance(fresh, list)
    assert {"xml.etree.ElementTree", "torch.distributions"} & set(fresh), fresh  # read from disk in the worker


def test_repository_is_unreadable(sandbox: Sandbox, tmp_path: Path) -> None:
    files: list[str] = []
    for part in ("solutions", "tests", "grader/suite"):
        files += _sample_files(REPO_ROOT / part, limit=6)
    assert files, "the repository has no solutions/, tests/ or grader/suite/ to check"
    dirs = [str(REPO_ROOT / p) for p in ("solutions", "tests", "grader/suite", "grader")]
    seen = _read_in_worker(sandbox, tmp_path, files + dirs)
    readable = [p for p in files + dirs if seen[p] == "read"]
    assert readable == []
    assert {seen[p] for p in files} <= {"PermissionError", "FileNotFoundError"}


def test_the_instructors_own_path_entries_are_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``python -m grader.cli grade subs -o out`` run from the course folder puts that folder first on
    sys.path (PYTHONPATH entries and the script's dir come the same way): it holds every student's
    submission, the graded output, maybe an answer key.  None of it may reach a worker's path or reads."""
    course = tmp_path / "course"
    (course / "subs" / "b11002002").mkdir(parents=True)
    other = course / "subs" / "b11002002" / "optimizers.py"
    other.write_text("def sgd_step(p, g, lr):\n    return p - lr * g  # another student's answer\n")
    monkeypatch.syspath_prepend(str(course))
    with Sandbox(jobs=1) as fresh:
        assert not any(_inside(p, str(course)) for p in fresh.policy.sys_path + fresh.policy.read), fresh.policy
        seen = _read_in_worker(fresh, tmp_path, [str(other), str(course)])
    assert seen == {str(other): "PermissionError", str(course): "PermissionError"}


UNNEEDED = ("hypothesis", "rich", "typer", "babel")
HIDDEN_IMPORTS = """
import importlib.util
def f(names):
    seen = {}
    for name in names:
        spec = importlib.util.find_spec(name)
        try:
            __import__(name)
            seen[name] = "imported"
        except ImportError as e:
            seen[name] = type(e).__name__ + (" (found)" if spec is not None else "")
    return seen
"""


def test_grader_dependencies_are_unreadable_and_not_importable(sandbox: Sandbox, tmp_path: Path) -> None:
    present = [n for n in UNNEEDED if importlib.util.find_spec(n) is not None]
    if not present:
        pytest.skip(f"none of {UNNEEDED} installed here")
    files: list[str] = []
    for name in present:
        spec = importlib.util.find_spec(name)
        assert spec is not None
        assert spec.origin is not None
        files += [spec.origin] + _sample_files(Path(spec.origin).parent, limit=4)
    seen = _read_in_worker(sandbox, tmp_path, files)
    assert {p: v for p, v in seen.items() if v != "PermissionError"} == {}
    names: list[Value] = list(present)
    result = sandbox.run(Job(write_student(tmp_path, HIDDEN_IMPORTS), "f", [Request("call", (names,))]))
    assert result.status == "ok", result.detail
    assert result.replies[0].value == dict.fromkeys(present, "ModuleNotFoundError")


def test_a_top_level_import_of_a_hidden_package_is_an_import_error(sandbox: Sandbox, tmp_path: Path) -> None:
    if importlib.util.find_spec("hypothesis") is None:
        pytest.skip("hypothesis is not installed here")
    result = sandbox.run(Job(write_student(tmp_path, "import hypothesis\ndef f():\n    return 1\n"), "f", [Request()]))
    assert result.status == "import_error"
    assert "ModuleNotFoundError" in result.detail, result.detail


# ------------------------------------------------------------------------------ the policy itself


def test_stdlib_is_granted_without_its_site_packages() -> None:
    built = policy.build()
    stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
    holes = [str(d) for d in _base_site_dirs()]
    assert stdlib in built.sys_path
    for path in built.read:
        assert not any(_inside(path, h) for h in holes), path
        assert not path.startswith(str(REPO_ROOT) + "/") or "-packages/" in path, path
    covered = set(built.read) | set(built.list_only)
    for name in os.listdir(stdlib):
        child = os.path.realpath(os.path.join(stdlib, name))
        if name in policy.SITE_DIR_NAMES:  # at most listable, when a needed package lives there
            assert not any(_inside(child, p) for p in built.read), child
        elif stdlib in built.list_only:  # granted child by child
            assert child in covered or any(_inside(child, p) for p in built.read), child
    if any(os.path.isdir(os.path.join(stdlib, n)) for n in policy.SITE_DIR_NAMES):
        assert stdlib in built.list_only
        assert not any(_inside(stdlib, p) for p in built.read)


def _dist(site: Path, name: str, files: list[str], requires: tuple[str, ...] = ()) -> None:
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"
                                   + "".join(f"Requires-Dist: {r}\n" for r in requires))
    record = [f"{name}-1.0.dist-info/METADATA,,", f"{name}-1.0.dist-info/RECORD,,"] + [f"{f},," for f in files]
    (info / "RECORD").write_text("\n".join(record) + "\n")
    for f in files:
        if not f.startswith(".."):
            (site / f).parent.mkdir(parents=True, exist_ok=True)
            (site / f).write_text("")


def test_only_needed_distributions_are_granted(tmp_path: Path) -> None:
    stdlib = tmp_path / "lib" / "python3.x"
    site = stdlib / "site-packages"
    site.mkdir(parents=True)
    (stdlib / "json").mkdir()
    (stdlib / "os.py").write_text("")
    _dist(site, "torch", ["torch/__init__.py", "nvidia/cublas/__init__.py", "../../../bin/torchrun"],
          ("dep>=1", 'opt; extra == "opt"', 'nvidia-x; platform_system == "Linux"'))
    _dist(site, "dep", ["dep.py", "__pycache__/dep.cpython-311.pyc"])
    _dist(site, "nvidia_x", ["nvidia/x/__init__.py"])
    _dist(site, "opt", ["opt/__init__.py"])
    _dist(site, "nvidia_other", ["nvidia/other/__init__.py"])
    _dist(site, "hypothesis", ["hypothesis/__init__.py", "__pycache__/h.cpython-311.pyc", "_hyp.py"])
    (site / "__editable__.optigrade-0.1.0.pth").write_text(str(tmp_path))
    (site / "README.txt").write_text("")  # no distribution claims it
    built = policy.build(path=[str(stdlib), str(site)], repo=tmp_path / "repo")
    assert built.sys_path == [str(stdlib), str(site)]
    assert {str(stdlib), str(site), str(site / "__pycache__"), str(site / "nvidia")} <= set(built.list_only)
    mine = sorted(os.path.relpath(p, site) for p in built.read if p.startswith(str(site) + "/"))
    assert mine == [
        "__pycache__/dep.cpython-311.pyc",
        "dep-1.0.dist-info",
        "dep.py",
        "nvidia/cublas",
        "nvidia/x",
        "nvidia_x-1.0.dist-info",
        "torch",
        "torch-1.0.dist-info",
    ]
    assert {str(stdlib / "json"), str(stdlib / "os.py")} <= set(built.read)
    assert str(stdlib) not in built.read
    assert built.hidden == {str(site): ["_hyp", "hypothesis", "opt"]}


def test_everything_the_zygote_imports_is_granted(tmp_path: Path) -> None:
    """A fresh interpreter with the worker's path and finders imports what the zygote and a student may;
    every file it loads must be readable under Landlock (else a lazy import fails in the worker)."""
    built = policy.build()
    script = f"""
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("policy", {policy.__file__!r})  # stdlib only, like the zygote
module = sys.modules["policy"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
sys.path[:] = {built.sys_path!r}
sys.path_importer_cache.update(module.site_finders({built.hidden!r}))
import numpy, torch, torch.distributions, torch.utils.data, pytest, matplotlib.pyplot
try:
    import hypothesis
    hidden = False
except ModuleNotFoundError:
    hidden = True
print(json.dumps({{"files": sorted({{getattr(m, "__file__", None) or "" for m in list(sys.modules.values())}}),
                  "hidden": hidden}}))
"""
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script],
        capture_output=True, text=True, timeout=120, env={"MPLBACKEND": "Agg", "HOME": str(tmp_path)}, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    ungranted = []
    for file in report["files"]:  # ('' for built-ins; torch names some modules "_ops.py", relative)
        real = os.path.realpath(file)
        if not os.path.isabs(file) or real == os.path.realpath(policy.__file__):
            continue
        if not any(_inside(real, p) for p in built.read):
            ungranted.append(real)
    assert ungranted == []
    if importlib.util.find_spec("hypothesis") is not None:
        assert report["hidden"] is True
