"""Safe in Gradescope's container with layers missing (simulated): permissions made and checked, the
sandbox without Landlock only as root, refusal where the rest cannot keep student code out."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from grader.errors import SandboxUnavailableError
from grader.gradescope import CONFIG_NAME, autograde, harden
from grader.sandbox import Job, Limits, Request, Sandbox, SandboxUnavailable

root_only = pytest.mark.skipif(os.getuid() != 0, reason="needs root, as in Gradescope's container")


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A temp dir other uids can enter (pytest's own lies under a 0700 folder)."""
    path = Path(tempfile.mkdtemp(prefix="optigrade-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _fake_root(tmp_path: Path) -> Path:
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "source" / CONFIG_NAME).write_text(json.dumps({"hidden_visibility": "hidden", "rubric": "rubric.toml"}))
    (root / "source" / "rubric.toml").write_text("")
    (root / "source" / "run_autograder").write_text("#!/bin/sh\n")
    (root / "source" / "run_autograder").chmod(0o755)
    (root / "submission").mkdir()
    (root / "submission_metadata.json").write_text("{}")
    return root


def test_tighten_makes_the_secrets_owner_only(tmp_path: Path) -> None:
    root = _fake_root(tmp_path)
    package = tmp_path / "site" / "solutions"
    package.mkdir(parents=True)
    (package / "optimizers.py").write_text("SECRET = 1\n")
    done = harden.tighten(root, [package])
    for path in (root / "source", root / "source" / CONFIG_NAME, package, package / "optimizers.py",
                 root / "submission_metadata.json"):
        assert not path.stat().st_mode & 0o077, path
    assert stat.S_IMODE((root / "source" / "run_autograder").stat().st_mode) == 0o700  # still runnable
    assert stat.S_IMODE((root / "results").stat().st_mode) == 0o755
    assert len(done) == 4


@root_only
def test_exposed_finds_what_an_unprivileged_uid_could_read_or_write(open_tmp: Path) -> None:
    tmp_path = open_tmp
    public, private = tmp_path / "public.py", tmp_path / "private" / "answer.py"
    public.write_text("x")
    public.chmod(0o644)
    private.parent.mkdir(mode=0o700)
    private.write_text("x")
    private.chmod(0o644)  # readable by mode, but the folder cannot be entered
    open_dir, closed_dir = tmp_path / "open", tmp_path / "closed"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    closed_dir.mkdir(mode=0o755)
    found = harden.exposed([public, private], [open_dir, closed_dir])
    assert found == [f"readable: {public}", f"writable: {open_dir}"]


def test_processes_of_sees_live_processes_only() -> None:
    assert os.getpid() in harden.processes_of([os.getuid()])
    assert harden.processes_of([1_599_999_998]) == []


@pytest.mark.skipif(os.getuid() != 0, reason="the autograder tightens permissions as root, as Gradescope runs it")
def test_without_landlock_the_autograder_refuses_where_secrets_stay_exposed(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    root = _fake_root(tmp_path)
    (root / "results").mkdir()
    (root / "results" / "results.json").write_text('{"score": 1000}')  # left by someone: must not survive
    monkeypatch.setattr(harden, "installed_tops", list)  # leave the test's own venv alone
    monkeypatch.setattr(harden, "package_dirs", list)
    monkeypatch.setattr(harden, "exposed", lambda read, write, uid=0: ["readable: /site/solutions/optimizers.py"])
    monkeypatch.setattr(autograde.os, "getuid", lambda: 0)
    with pytest.raises(SandboxUnavailableError, match="could still reach 1 of them"):
        autograde.run(root, simulate_missing={"landlock"}, console=None)  # type: ignore[arg-type]
    assert not (root / "results" / "results.json").exists()
    monkeypatch.setattr(autograde.os, "getuid", lambda: 1000)
    with pytest.raises(SandboxUnavailableError, match="does not run as root"):
        autograde.run(root, simulate_missing={"landlock"}, console=None)  # type: ignore[arg-type]


def test_run_autograder_rejects_unknown_simulated_layers(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        autograde.main(["--simulate-missing", "seccomp"])
    assert exit_info.value.code == 2
    assert "landlock" in capsys.readouterr().err


def test_the_submission_is_copied_without_following_links(tmp_path: Path) -> None:
    src, dest = tmp_path / "submission", tmp_path / "copy"
    (src / "hw").mkdir(parents=True)
    (src / "hw" / "optimizers.py").write_text("a = 1\n")
    (src / "big.bin").write_bytes(b"x" * 2048)
    (src / "link.py").symlink_to("/etc/passwd")
    (src / "linkdir").symlink_to("/etc")
    notes = autograde.copy_submission(src, dest, cap=1024)
    assert (dest / "hw" / "optimizers.py").read_text() == "a = 1\n"
    assert (dest / "link.py").is_symlink()
    assert (dest / "linkdir").is_symlink()
    assert not (dest / "big.bin").exists()
    assert notes == ["big.bin left out: the submission is over 0 MB"]


PROBE = '''
import os
def sgd_step(param, grad, lr):
    seen = []
    for path in {secrets!r}:
        try:
            open(path).read()
            seen.append("read " + path)
        except OSError:
            pass
    for folder in {trusted!r}:
        try:
            open(os.path.join(folder, "forged"), "w").write("x")
            seen.append("wrote " + folder)
        except OSError:
            pass
    try:
        os.fork()
        seen.append("forked")
    except OSError:
        pass
    print(seen, os.getuid())
    return param - lr * grad
'''


@pytest.fixture
def without_landlock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Sandbox, "simulate_missing", frozenset({"landlock"}))


@pytest.mark.usefixtures("without_landlock")
def test_without_landlock_the_sandbox_refuses_unless_asked_and_root(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SandboxUnavailable, match="Landlock"):
        Sandbox()
    with pytest.raises(ValueError, match="allow_missing"):
        Sandbox(allow_missing=["seccomp"])
    monkeypatch.setattr("grader.sandbox.sandbox.os.getuid", lambda: 1000)
    with pytest.raises(SandboxUnavailable, match="needs root"):
        Sandbox(allow_missing=["landlock"])


@root_only
@pytest.mark.usefixtures("without_landlock")
def test_without_landlock_the_uid_and_permissions_keep_a_worker_in(open_tmp: Path) -> None:
    tmp_path = open_tmp
    secret_dir = tmp_path / "site" / "solutions"
    secret_dir.mkdir(parents=True)
    (secret_dir / "optimizers.py").write_text("SECRET = 1\n")
    harden.tighten(_fake_root(tmp_path), [secret_dir])
    trusted = tmp_path / "results"
    trusted.mkdir(mode=0o755)
    student = tmp_path / "student" / "optimizers.py"
    student.parent.mkdir()
    student.write_text(PROBE.format(secrets=[str(secret_dir / "optimizers.py")], trusted=[str(trusted)]))
    with Sandbox(limits=Limits(wall_s=20), allow_missing=["landlock"]) as box:
        assert box.missing[:1] == ["landlock"]
        assert box.backend == "seccomp+uid (no Landlock)"
        result = box.run(Job(student, "sgd_step", [Request("call", (torch.ones(2), torch.ones(2), 0.5))]))
    assert result.status == "ok", result.detail
    seen, uid = result.stdout.strip().rsplit(" ", 1)
    assert seen == "[]"  # no secret read, nothing written where the trusted side works, no fork
    assert int(uid) != 0
    assert not (trusted / "forged").exists()
