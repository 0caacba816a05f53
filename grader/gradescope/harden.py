"""File permissions that keep student code out where Landlock is missing, and a check of them.

The sandbox runs each worker as an unprivileged uid of its own (as root), so without Landlock what a
worker may read and write is decided by ownership and mode bits.  Before grading, ``tighten`` makes
root-only what holds answers: ``/autograder/source`` (the wheel, rubric and settings), the installed
optigrade packages (the reference solutions, the hidden suite, the helper stand-ins) and the
submission metadata (earlier results, hidden tests' output included).  ``exposed`` then checks, as an
unprivileged uid in a forked child, that none of it can be read and that nothing the trusted side
reads or writes (its Python path, the results folder) can be written.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from grader.errors import GraderFault

DISTRIBUTION = "optigrade"
CHECK_UID = 1_599_999_999  # below the sandbox's slot uids (grader/sandbox/sandbox.py UID_BASE), owns nothing


def _distribution() -> metadata.Distribution:
    try:
        return metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise GraderFault(f"the {DISTRIBUTION} distribution is not installed in {sys.prefix}; setup.sh installs it "
                          f"from the wheel in the autograder zip (rebuild the zip with optigrade gradescope)") from None


def installed_tops() -> list[Path]:
    """The top-level entries the optigrade distribution installed into its site dir (packages, metadata)."""
    dist = _distribution()
    tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith((".", "/"))}
    site = Path(str(dist.locate_file("")))
    return sorted(site / top for top in tops if (site / top).exists())


def package_dirs() -> list[Path]:
    """Where optigrade's packages are imported from (the site dir for a wheel, the source tree for an
    editable install): what the check must cover, wherever it lies."""
    from importlib.util import find_spec

    found = []
    for name in (_distribution().read_text("top_level.txt") or "").split():
        spec = find_spec(name)
        if spec is not None:
            found += [Path(p) for p in spec.submodule_search_locations or []]
    return found


def tighten(root: Path, installed: Iterable[Path] = ()) -> list[str]:
    """Make the secrets owner-only (the owner is root in the container): ``root``/source, the submission
    metadata and ``installed`` (``installed_tops()``); the results folder is made ours.  What was done."""
    done = []
    source, results = root / "source", root / "results"
    for path in [source, *installed]:
        if path.is_dir() and not path.is_symlink():
            for folder, dirs, files in os.walk(path):
                for name in files:
                    _chmod(Path(folder) / name, ~0o077)
                for name in dirs:
                    _chmod(Path(folder) / name, ~0o077)
            _chmod(path, ~0o077)
            done.append(f"{path}: owner only")
        elif path.is_file():
            _chmod(path, ~0o077)
            done.append(f"{path}: owner only")
    meta = root / "submission_metadata.json"
    if meta.is_file():
        _chmod(meta, ~0o077)
        done.append(f"{meta}: owner only")
    results.mkdir(mode=0o755, exist_ok=True)
    if os.getuid() == 0:
        os.chown(results, 0, 0, follow_symlinks=False)
    os.chmod(results, 0o755, follow_symlinks=False)
    done.append(f"{results}: owner-writable")
    return done


def _chmod(path: Path, keep: int) -> None:
    mode = os.lstat(path).st_mode
    if not stat.S_ISLNK(mode):
        os.chmod(path, stat.S_IMODE(mode) & keep, follow_symlinks=False)


def secrets(root: Path, packages: Iterable[Path] = ()) -> list[Path]:
    """Every file a worker must not read: under ``root``/source and ``packages`` (``installed_tops()`` and
    ``package_dirs()``), and the submission metadata."""
    found = []
    for top in [root / "source", *packages, root / "submission_metadata.json"]:
        if top.is_dir():
            found += [Path(folder) / name for folder, _, files in os.walk(top) for name in files]
        elif top.exists():
            found.append(top)
    return found


def trusted_dirs(root: Path, packages: Iterable[Path] = ()) -> list[Path]:
    """Folders whose contents the trusted side imports, reads or writes: a worker must not write in them."""
    dirs = {root, root / "results", root / "source", Path(sys.prefix), *packages}
    dirs |= {Path(p) for p in sys.path if p and os.path.isdir(p)}
    return sorted(d for d in dirs if d.is_dir())


def exposed(read: Iterable[Path], write: Iterable[Path], uid: int = CHECK_UID) -> list[str]:
    """What ``uid`` (no groups) could read of ``read`` or write in ``write``; needs root.

    A forked child drops to ``uid`` and asks the kernel (access(2): mode bits, ACLs, every folder on the
    way); nothing is read or created.  Call it before threads exist (before torch is imported).
    """
    readable, writable = [str(p) for p in read], [str(p) for p in write]
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, reported through the pipe
        code = 1
        try:
            os.close(rfd)
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            found = [f"readable: {p}" for p in readable if os.access(p, os.R_OK)]
            found += [f"writable: {p}" for p in writable if os.access(p, os.W_OK)]
            os.write(wfd, json.dumps(found).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as pipe:
        answer = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        raise GraderFault(f"could not check file permissions as uid {uid} (the check exited with status {status})")
    return [str(x) for x in json.loads(answer)]


def processes_of(uids: Iterable[int]) -> list[int]:
    """Live (not zombie) processes owned by any of ``uids``."""
    wanted, found = set(uids), []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid not in wanted:
                    continue
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    state = f.read().rsplit(b")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state not in (b"Z", b"X"):
                found.append(int(entry.name))
    return found
