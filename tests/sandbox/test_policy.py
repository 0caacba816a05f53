"""What a worker may read, and the shape of the seccomp filter (unit level, no sandbox needed)."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import pytest

from grader.sandbox import isolation, policy
from grader.sandbox.policy import OWN_PACKAGES, REPO_ROOT


def _inside_repo_but_not_site(path: str) -> bool:
    p = Path(path)
    return (p == REPO_ROOT or REPO_ROOT in p.parents) and not any(
        part in policy.SITE_DIR_NAMES for part in p.parts
    )


def test_the_repository_is_never_readable() -> None:
    built = policy.build(path=[*sys.path, str(REPO_ROOT), str(REPO_ROOT / "solutions"), ""])
    for path in built.read + built.sys_path + built.bind_roots:
        assert not _inside_repo_but_not_site(path), path
        assert Path(path).name not in OWN_PACKAGES, path
        assert not Path(path).name.startswith("__editable__"), path
        assert not path.endswith(".pth"), path
    assert str(REPO_ROOT) not in built.sys_path
    assert "" not in built.sys_path


def test_site_packages_inside_the_repo_is_filtered_entry_by_entry(tmp_path: Path) -> None:
    site = tmp_path / "repo" / ".venv" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    for name in ("torch", "numpy", "solutions", "grader", "optigrade-0.1.0.dist-info", "tests"):
        (site / name).mkdir()
    for name in ("__editable___optigrade_0_1_0_finder.py", "__editable__.optigrade-0.1.0.pth", "six.py"):
        (site / name).write_text("")
    built = policy.build(path=[str(site), str(tmp_path / "repo")], repo=tmp_path / "repo")
    assert built.sys_path == [str(site)]
    assert built.list_only[0] == str(site)
    assert not any(p.startswith(str(tmp_path / "repo")) for p in built.list_only[1:])
    assert sorted(Path(p).name for p in built.read if p.startswith(str(site))) == ["numpy", "six.py", "torch"]


@pytest.mark.skipif(platform.machine() not in ("x86_64", "aarch64"), reason="no seccomp table for this CPU")
def test_seccomp_program_shape() -> None:
    prog = isolation.seccomp_program(platform.machine(), 4242)
    assert prog[0] == (0x20, 0, 0, 4)  # load the audit arch first ...
    assert prog[2][0] == 0x06  # ... and kill on a mismatch
    assert prog[2][3] == isolation.RET_KILL_PROCESS
    assert len(prog) < 256
    for i, (code, jt, jf, _) in enumerate(prog):
        if code in (0x15, 0x35, 0x45):
            assert isinstance(jt, int)
            assert isinstance(jf, int)
            assert i + 1 + max(jt, jf) < len(prog)  # forward, in range
    assert any(k == 4242 for _, _, _, k in prog)  # kill/tgkill are allowed on itself only


def test_probe_reports_this_machine() -> None:
    features, problems = isolation.probe()
    if isolation.landlock_abi() >= 1:
        assert problems == [] or all("Landlock" not in p for p in problems)
    else:
        assert any("Landlock" in p and "fix:" in p for p in problems)
    assert any(f.startswith("landlock-abi") for f in features) == (isolation.landlock_abi() >= 1)
