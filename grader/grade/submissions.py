"""Find the submissions in a folder and stage each one's expected files into a private box.

One entry per student: a folder or a ``.zip`` named by the student.  LMS bulk
downloads name them ``Name_ID_assignsubmission_file_`` (Moodle) or
``submission_ID`` (Gradescope); the id keeps what identifies the student.
Only the allow-listed files are staged, never through a symlink, never a
``..`` or absolute zip entry, each under a size cap.  Student source is never
parsed or imported here.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

EXPECTED = ("optimizers.py", "epochs.py", "regression.py")
MAX_FILE_BYTES = 1 << 20


@dataclass
class Submission:
    student: str
    source: Path
    files: dict[str, Path] = field(default_factory=dict)  # module name -> staged path
    problems: list[str] = field(default_factory=list)

    def fingerprint(self) -> str:
        """A hash of what was staged, so a resumed run knows whether a result is still current."""
        h = hashlib.sha256()
        for module in sorted(self.files):
            h.update(module.encode() + b"\0" + self.files[module].read_bytes() + b"\0")
        h.update("\n".join(self.problems).encode())
        return h.hexdigest()[:16]


def student_id(name: str) -> str:
    """A clean id from a folder or file name: lower-case ``[a-z0-9._-]``, never empty, ``.`` or ``..``."""
    stem = name[:-4] if name.lower().endswith(".zip") else name
    if m := re.fullmatch(r"(.+?)_(\d+)_assignsubmission_\w*", stem):  # Moodle bulk download
        stem = f"{m.group(1)}_{m.group(2)}"
    if m := re.fullmatch(r"submission_(\d+)", stem):  # Gradescope export
        stem = m.group(1)
    ascii_ = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    clean = re.sub(r"[^a-z0-9._-]+", "-", ascii_.lower()).strip("-.")[:64]
    if not clean:
        clean = "student-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return clean


def discover(folder: Path) -> list[tuple[str, Path]]:
    """(student id, entry) for every submission in ``folder``, ids made unique deterministically."""
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith(".")
                     and (p.is_dir() or p.suffix.lower() == ".zip" or p.is_symlink()))
    seen: dict[str, int] = {}
    found = []
    for entry in entries:
        sid = student_id(entry.name)
        if sid in seen:
            seen[sid] += 1
            sid = f"{sid}-{seen[sid]}"
        else:
            seen[sid] = 1
        found.append((sid, entry))
    return found


def _read_regular(path: Path) -> bytes:
    """The bytes of a regular file opened without following symlinks, under the size cap."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError("not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise OSError(f"larger than {MAX_FILE_BYTES // 1024} KiB")
        with os.fdopen(os.dup(fd), "rb") as f:
            return f.read(MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)


def stage(student: str, entry: Path, box: Path) -> Submission:
    """Copy the expected files of one submission into ``box`` (read-only) and record any problem."""
    sub = Submission(student, entry)
    box.mkdir(parents=True, exist_ok=True)
    contents: dict[str, bytes] = {}
    if entry.is_symlink():
        sub.problems.append(f"{entry.name} is a symbolic link; refused")
    elif entry.is_dir():
        for name in EXPECTED:
            path = entry / name
            if path.is_symlink():
                sub.problems.append(f"{name} is a symbolic link; refused")
            elif path.exists():
                try:
                    contents[name] = _read_regular(path)
                except OSError as exc:
                    sub.problems.append(f"{name} could not be read safely: {exc}")
    else:
        contents = _from_zip(entry, sub.problems)
    for name, data in contents.items():
        target = box / name
        target.write_bytes(data)
        target.chmod(0o444)
        sub.files[name.removesuffix(".py")] = target
    for name in EXPECTED:
        if name.removesuffix(".py") not in sub.files and not any(name in p for p in sub.problems):
            sub.problems.append(f"{name} is missing: its functions score zero")
    return sub


def _from_zip(path: Path, problems: list[str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = info.filename
                parts = Path(name).parts
                if name.startswith("/") or ".." in parts or "\\" in name:
                    problems.append(f"zip entry {name!r} points outside the submission; ignored")
                    continue
                if stat.S_ISLNK(info.external_attr >> 16):
                    problems.append(f"zip entry {name!r} is a symbolic link; ignored")
                    continue
                base = parts[-1] if parts else ""
                if base in EXPECTED and len(parts) <= 2 and base not in found:
                    if info.file_size > MAX_FILE_BYTES:
                        problems.append(f"{base} in the zip is larger than {MAX_FILE_BYTES // 1024} KiB; ignored")
                        continue
                    with archive.open(info) as f:
                        found[base] = f.read(MAX_FILE_BYTES + 1)[:MAX_FILE_BYTES]
    except (zipfile.BadZipFile, OSError) as exc:
        problems.append(f"{path.name} is not a readable zip file ({exc})")
    return found


def clear_box(box: Path) -> None:
    if box.exists():
        for p in box.iterdir():
            p.chmod(0o644)
        shutil.rmtree(box)
