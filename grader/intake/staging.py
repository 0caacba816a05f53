"""Find every student's submission in a folder and copy the expected files into private boxes.

Nothing here runs or imports student source.  ``.py`` files are only copied, byte for byte, with
``O_NOFOLLOW``, regular files only, and size caps; one saved as Big5 (cp950) or UTF-16 without a coding
declaration, which Python would refuse to import, is re-encoded to UTF-8 with a note (and refused, with a
note, when the result is over the size cap: Big5 grows by half as UTF-8).  A notebook
(``.ipynb``, any name) provides each expected file its code cells define functions of and that was not
submitted as a ``.py`` file: its code cells are parsed, in a child process, into that module
(``grader/intake/notebook.py``).  Every entry that looks like a submission gets a :class:`Submission`,
even when nothing could be staged (then ``missing``/``problems`` say why).

Recognised layouts (one entry per student) and the student id each gets:

=====================================================  ==============================
entry in the folder                                    student id
=====================================================  ==============================
``b11002002/`` (a folder named by the id)              ``b11002002``
``alice.zip``, ``alice.ipynb``                        ``alice``
Moodle ``Chen Mei_123456_assignsubmission_file_/``     ``chen-mei_123456`` (name slug + Moodle id;
                                                       ``…_onlinetext_`` folders of the same student merge)
Canvas ``chenmei_12345_67890_optimizers.py`` (flat,    ``chenmei_12345`` (files grouped per student;
also ``_LATE_``, ``optimizers-1.py``, ``.zip``,        ``-N`` suffixes dropped, newest upload wins)
``.ipynb``)
Gradescope ``submission_12345/``                       ``12345``
=====================================================  ==============================

Ids are sanitised to ``[a-z0-9._-]`` (accents folded to ASCII, other runs become ``-``), at most 64
characters (longer ones keep a prefix plus a hash), never empty (``student-<hash>``), never ``.`` or
``..``, and unique: a collision gets ``-2``, ``-3``, … in sorted order of the original names.
Inside a folder or zip the files may sit at the top or inside one top folder; in a folder, also inside
the one folder among several that holds any of them (a repository uploaded from GitHub: the student
bundle's ``exercises/`` beside its README, ``check.py`` and ``grader/``); in a zip whose files all lie a
level too deep under one top folder, as if that folder were its top (the same repository downloaded as a
zip: ``hw3-main/exercises/optimizers.py``), with a note.  The notebook edition's repository holds
``exercises.ipynb`` beside ``exercises/``: both are read, and a ``.py`` file left exactly as released (a
stub) gives way to the notebook, with a note.  A file named as a browser
names a second download (``optimizers (1).py``, ``optimizers-2.py``, ``optimizers - Copy.py``) stands in
for a missing ``optimizers.py``, with a note; the real name always wins.  So does ``optimizers.py.txt``
(any case; Windows hides the ``.txt`` an editor added), in folders, zips and every LMS layout, but only
where neither the name nor a copy-named ``.py`` file nor a notebook provides the file; where one does, it
is passed over without a note (a Canvas upload keeps its old "is not one of" note).  Where several
notebooks define functions of one file, the one that defines most of them is used, with a note.
"""

from __future__ import annotations

import codecs
import errno
import functools
import hashlib
import os
import re
import stat
import unicodedata
import zipfile
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grader.intake.notebook import MAX_NOTEBOOK_BYTES, NotebookError, extract_isolated

EXPECTED = ("optimizers.py", "epochs.py", "regression.py")
MAX_FILE_BYTES = 1 << 20
MAX_ZIP_BYTES = 32 << 20
MAX_ZIP_ENTRIES = 1000
MAX_ID = 64
MAX_LISTED = 8  # entries named in the note on a submission with nothing usable

_MOODLE = re.compile(r"^(?P<name>.+?)_(?P<num>\d+)_assignsubmission_[a-z]+_?$")
_CANVAS = re.compile(r"^(?P<name>[^_]+)(?:_late)?_(?P<uid>\d+)_(?P<att>\d+)_(?P<file>.+)$", re.IGNORECASE)
_GRADESCOPE = re.compile(r"^submission_(?P<num>\d+)$")
_COPY_SUFFIX = re.compile(r"^(?P<stem>.+?)-\d+(?P<ext>\.[A-Za-z0-9]+)$")
# What browsers and file managers make of a second download or a copy: "optimizers (1).py",
# "optimizers-2.py", "optimizers copy.py", "optimizers - Copy.py".  Used only where the real name is absent.
_COPY_NAME = re.compile(r"^(?P<stem>.+?)(?: ?\(\d+\)|-\d+| - copy| copy)(?P<ext>\.py)$", re.IGNORECASE)
# What Windows makes of "optimizers.py" saved by Notepad or renamed with extensions hidden: "optimizers.py.txt"
# (also "optimizers (1).py.txt").  Used only where no .py file or notebook provides the name.
_HIDDEN_TXT = re.compile(r"^(?P<py>.+\.py)\.txt$", re.IGNORECASE)
_HIDDEN_TXT_FIX = ("Windows hides the .txt ending: in File Explorer, View → Show → File name extensions, then "
                   "rename it")
_JUNK = ("__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini", ".ipynb_checkpoints", "__pycache__")
NOTEBOOK = ".ipynb"


@dataclass
class Submission:
    student_id: str
    origin: list[str]  # the entry names it came from
    staged: dict[str, Path] = field(default_factory=dict)  # module name ("optimizers") -> box file
    problems: list[str] = field(default_factory=list)  # human-readable, for the student and instructor
    missing: list[str] = field(default_factory=list)  # expected file names not staged


@dataclass
class StagingReport:
    submissions: list[Submission]
    ignored: list[str]  # entries that are not submissions (hidden files, unknown loose files)


def sanitize_id(raw: str) -> str:
    """A safe, readable id for ``raw`` (see the module docstring); deterministic."""
    folded = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9._-]+", "-", folded).strip("-._")
    slug = re.sub(r"-{2,}", "-", slug)
    digest = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    if not slug:
        return f"student-{digest}"
    if len(slug) > MAX_ID:
        slug = f"{slug[: MAX_ID - 9].rstrip('-._')}-{digest}"
    return slug


@dataclass
class _HiddenTxt:
    """A ``X.py.txt`` file found for expected name ``X.py``, kept aside until it is known whether it is needed."""

    what: str  # how notes name it
    order: int  # Canvas attachment id: the newest upload wins
    plain: bool  # "X.py.txt" itself rather than a copy name ("X (1).py.txt")
    data: bytes | None  # None: it could not be read (``notes`` say why)
    notes: list[str]  # said only if it is needed
    slot: int | None = None  # a Canvas upload: the index of its old "is not one of" note, replaced if it is used


@dataclass
class _Source:
    path: Path
    kind: str  # "dir" | "zip" | "file" | "notebook"
    module: str = ""  # for a Canvas flat file: the expected name it provides
    order: int = 0  # Canvas attachment id: the newest upload wins


def _classify(entry: os.DirEntry[str]) -> tuple[tuple[str, ...], str, _Source] | None:
    """(group key, raw id, source) for one folder entry, or None when it is not a submission."""
    name = entry.name
    try:
        is_dir = entry.is_dir(follow_symlinks=False)
        is_file = entry.is_file(follow_symlinks=False)
    except OSError:
        return None
    is_link = entry.is_symlink()
    if (match := _CANVAS.match(name)) and (is_file or is_link):
        module = _canonical_name(match["file"])
        kind = "zip" if module.lower().endswith(".zip") else "notebook" if _is_notebook(module) else "file"
        raw = f"{match['name']}_{match['uid']}"
        return (
            ("canvas", match["name"].lower(), match["uid"]),
            raw,
            _Source(Path(entry.path), kind, module, int(match["att"])),
        )
    if is_dir or (is_link and not name.lower().endswith(".zip")):
        if match := _MOODLE.match(name):
            slug = sanitize_id(match["name"])
            raw = match["num"] if slug.startswith("student-") else f"{match['name']}_{match['num']}"
            return ("moodle", match["name"], match["num"]), raw, _Source(Path(entry.path), "dir")
        if match := _GRADESCOPE.match(name):
            return ("gradescope", match["num"]), match["num"], _Source(Path(entry.path), "dir")
        return ("plain", name), name, _Source(Path(entry.path), "dir")
    if name.lower().endswith(".zip") and (is_file or is_link):
        return ("plain", name[:-4]), name[:-4], _Source(Path(entry.path), "zip")
    if _is_notebook(name) and (is_file or is_link):
        return ("plain", name[: -len(NOTEBOOK)]), name[: -len(NOTEBOOK)], _Source(Path(entry.path), "notebook")
    return None


def _is_notebook(name: str) -> bool:
    return name.lower().endswith(NOTEBOOK) and len(name) > len(NOTEBOOK)


def _canonical_name(file_name: str) -> str:
    """``optimizers-1.py`` → ``optimizers.py`` (Canvas renames repeated uploads this way)."""
    match = _COPY_SUFFIX.match(file_name)
    return f"{match['stem']}{match['ext']}" if match else file_name


def _read_capped(fd: int, cap: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while size <= cap:
        chunk = os.read(fd, min(1 << 16, cap + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    return None


def _open_regular(path: Path, what: str, problems: list[str], cap: int, dir_fd: int | None = None) -> bytes | None:
    """The bytes of a regular file that is not a symlink and not larger than ``cap``; else a problem."""
    try:
        fd = os.open(
            path if dir_fd is None else path.name,
            os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
            dir_fd=dir_fd,
        )
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            problems.append(f"{what} is a symlink; refused (submit the file itself)")
        else:
            problems.append(f"{what} could not be opened ({exc.strerror}); refused")
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            problems.append(f"{what} is not a regular file; refused")
            return None
        if info.st_size > cap:
            problems.append(f"{what} is {info.st_size} bytes; the limit is {cap} bytes; refused")
            return None
        data = _read_capped(fd, cap)
        if data is None:
            problems.append(f"{what} grew past {cap} bytes while being read; refused")
        return data
    finally:
        os.close(fd)


class _Collector:
    """The files found for one student, before they are written to the box."""

    def __init__(self, expected: tuple[str, ...], problems: list[str]) -> None:
        self.expected = expected
        self.problems = problems
        self.files: dict[str, tuple[int, bytes]] = {}  # expected name -> (order, data)
        self.copies: dict[str, tuple[str, bytes]] = {}  # expected name -> (copy-named file, data)
        self.notebooks: dict[str, tuple[int, bytes]] = {}  # notebook file name -> (order, data)
        self.hidden_txt: dict[str, list[_HiddenTxt]] = defaultdict(list)  # expected name -> its .py.txt files
        self.seen: list[str] = []  # what the sources held, for the note when nothing in them could be used

    def match(self, name: str, where: str) -> str | None:
        if name in self.expected:
            return name
        for wanted in self.expected:
            if name.lower() == wanted.lower():
                self.problems.append(f"{where}{name} was used as {wanted} (file names are case-sensitive)")
                return wanted
        copy = _COPY_NAME.match(name)
        if copy is not None:
            for wanted in self.expected:
                if (copy["stem"] + copy["ext"]).lower() == wanted.lower():
                    return wanted
        return None

    def match_txt(self, name: str) -> tuple[str, bool] | None:
        """(the expected name, whether it is plainly "X.py.txt") for a ``X.py.txt`` file, else None."""
        hidden = _HIDDEN_TXT.match(name)
        if hidden is None:
            return None
        for wanted in self.expected:
            if hidden["py"].lower() == wanted.lower():
                return wanted, True
        copy = _COPY_NAME.match(hidden["py"])
        if copy is not None:
            for wanted in self.expected:
                if (copy["stem"] + copy["ext"]).lower() == wanted.lower():
                    return wanted, False
        return None

    def add_txt(self, found: tuple[str, bool], what: str, order: int, data: bytes | None, notes: list[str],
                slot: int | None = None) -> None:
        wanted, plain = found
        self.hidden_txt[wanted].append(_HiddenTxt(what, order, plain, data, notes, slot))

    def add(self, wanted: str, data: bytes, order: int, what: str, *, copy: bool = False) -> None:
        """Keep one file per expected name: the newest upload (highest Canvas attachment id).  A
        ``copy``-named file ("optimizers (1).py") is kept aside: it stands in only where the name is absent."""
        if copy:
            if wanted in self.copies:  # the later copy: "(10)" after "(2)"
                kept, dropped = sorted([self.copies[wanted], (what, data)], key=lambda c: (len(c[0]), c[0]))[::-1]
                self.problems.append(f"ignored {dropped[0]}: {kept[0]} is a later copy of {wanted}")
                self.copies[wanted] = kept
            else:
                self.copies[wanted] = (what, data)
            return
        self._keep_newest(self.files, wanted, order, data, what)

    def add_notebook(self, name: str, data: bytes, order: int, what: str) -> None:
        """Keep each notebook name once: the newest upload."""
        self._keep_newest(self.notebooks, name, order, data, what)

    def _keep_newest(self, table: dict[str, tuple[int, bytes]], name: str, order: int, data: bytes,
                     what: str) -> None:
        if name in table:
            if order < table[name][0]:
                self.problems.append(f"more than one {name}; used the newest upload and ignored {what}")
                return
            self.problems.append(f"more than one {name}; used the newest upload ({what})")
        table[name] = (order, data)

    def result(self) -> dict[str, tuple[int, bytes]]:
        """The files to stage: each expected name, or a copy-named file where the name itself is absent."""
        files = dict(self.files)
        for wanted, (what, data) in sorted(self.copies.items()):
            if wanted in files:
                self.problems.append(f"ignored {what}: {wanted} is there too")
            else:
                self.problems.append(f"{what} was used as {wanted} (there is no {wanted}); name it {wanted}")
                files[wanted] = (0, data)
        return files

    def txt_stand_ins(self, present: Collection[str]) -> dict[str, tuple[int, bytes]]:
        """The ``X.py.txt`` files that stand in for expected names not ``present``, with their notes.  One
        that is not needed adds no note, so a submission read before they were looked at reads the same."""
        files: dict[str, tuple[int, bytes]] = {}
        slots: dict[int, list[str]] = {}
        tail: list[str] = []
        for wanted, found in sorted(self.hidden_txt.items()):
            if wanted in present:
                continue
            usable = [t for t in found if t.data is not None]
            if not usable:  # say why each could not be used
                for t in found:
                    (slots.setdefault(t.slot, []) if t.slot is not None else tail).extend(t.notes)
                continue
            # the newest upload; in one upload "X.py.txt" before copy names, then the later copy ("(10)" > "(2)")
            best = max(usable, key=lambda t: (t.order, t.plain, len(t.what), t.what))
            for t in found:
                if t is best:
                    notes = [*t.notes, f"{t.what} was used as {wanted} (there is no {wanted}); name it {wanted} "
                                       f"({_HIDDEN_TXT_FIX})"]
                elif t.order != best.order:
                    notes = [f"ignored {t.what}: {best.what} is the newest upload of {wanted}"]
                else:
                    notes = [f"ignored {t.what}: {best.what} was used as {wanted}"]
                (slots.setdefault(t.slot, []) if t.slot is not None else tail).extend(notes)
            assert best.data is not None
            files[wanted] = (0, best.data)
        if slots:
            self.problems[:] = [note for i, old in enumerate(self.problems) for note in slots.get(i, [old])]
        self.problems += tail
        return files

    def from_dir(self, path: Path, cap: int, depth: int = 0) -> None:
        try:
            dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            reason = "is a symlink" if exc.errno in (errno.ELOOP, errno.ENOTDIR) else exc.strerror
            self.problems.append(f"folder {path.name} {reason}; refused")
            return
        try:
            names = sorted(os.listdir(dir_fd))
            found = named = False  # anything usable here; a file named as an expected one (not a notebook)
            subdirs, zips = [], []
            prefix = f"{path.name}/" if depth else ""
            self.seen += [prefix + n for n in names if n not in _JUNK and not n.startswith(".")]
            for name in names:
                wanted = self.match(name, "")
                if wanted is not None:
                    data = _open_regular(path / name, name, self.problems, cap, dir_fd)
                    if data is not None:
                        self.add(wanted, data, 0, name, copy=name.lower() != wanted.lower())
                    found = named = True
                elif (txt := self.match_txt(name)) is not None:  # not "found": it must not stop a look below
                    notes: list[str] = []
                    data = _open_regular(path / name, name, notes, cap, dir_fd)
                    self.add_txt(txt, name, 0, data, notes)
                elif _is_notebook(name) and not name.startswith("."):
                    data = _open_regular(path / name, name, self.problems, MAX_NOTEBOOK_BYTES, dir_fd)
                    if data is not None:
                        self.add_notebook(name, data, 0, name)
                    found = True
                elif name.lower().endswith(".zip"):
                    zips.append(name)
                elif name not in _JUNK and not name.startswith("."):
                    st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                    if stat.S_ISDIR(st.st_mode):
                        subdirs.append(name)
            if not found and depth == 0 and len(subdirs) == 1:
                self.from_dir(path / subdirs[0], cap, depth + 1)
            elif not found and depth == 0 and len(zips) == 1:
                self.from_zip(path / zips[0], cap)
            elif not found and depth == 0 and len(holding := [d for d in subdirs if self._holds(path / d)]) == 1:
                self.from_dir(path / holding[0], cap, depth + 1)  # a repository: exercises/ beside README, …
            elif not named and depth == 0 and "exercises" in subdirs and self._holds(path / "exercises",
                                                                                      notebooks=False):
                # the --notebook bundle's repository: exercises.ipynb at the top, exercises/*.py below (an
                # unchanged stub among those gives way to the notebook: _from_notebooks).  Only the bundle's
                # own folder: a notebook beside some other folder of .py files (an old copy?) is read alone.
                self.from_dir(path / "exercises", cap, depth + 1)
        finally:
            os.close(dir_fd)

    def _holds(self, folder: Path, *, notebooks: bool = True) -> bool:
        """Whether ``folder`` itself holds a file named as an expected one (any case) or a notebook."""
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            wanted = {name.lower() for name in self.expected}
            return any(name.lower() in wanted or (notebooks and _is_notebook(name) and not name.startswith("."))
                       for name in os.listdir(fd))
        finally:
            os.close(fd)

    def from_zip(self, path: Path, cap: int, order: int = 0) -> None:
        raw = _open_regular(path, path.name, self.problems, MAX_ZIP_BYTES)
        if raw is not None:
            self._from_zip_bytes(raw, path.name, cap, order, nested=False)

    def _from_zip_bytes(self, raw: bytes, label: str, cap: int, order: int, *, nested: bool,
                        inside: str = "") -> None:
        """The files of a zip's bytes; ``label`` names it in notes.  A zip holding nothing but one zip (a
        submission zipped twice) is opened one level down, as a folder holding one zip is; one whose files
        all lie a level too deep under one top folder (a repository downloaded as a zip:
        ``repo-main/exercises/optimizers.py``) is read as if that folder were its top (``inside``)."""
        import io

        try:
            archive = zipfile.ZipFile(io.BytesIO(raw))
            infos = archive.infolist()
        except (zipfile.BadZipFile, ValueError, OSError) as exc:
            self.problems.append(f"{label} is not a readable zip ({exc}); refused")
            return
        if len(infos) > MAX_ZIP_ENTRIES:
            self.problems.append(f"{label} has {len(infos)} entries (limit {MAX_ZIP_ENTRIES}); refused")
            return
        inner: list[zipfile.ZipInfo] = []
        # file name (any case) -> its entries: (depth, entry, its file name, the expected name it gives (with
        # whether it is plain "X.py.txt", for a .py.txt file), size cap)
        found: dict[str, list[tuple[int, zipfile.ZipInfo, str, str | tuple[str, bool] | None, int]]] = {}
        deep: list[str] = []  # notes on files nested too deep, and the top folders they lie in
        deep_tops: set[str] = set()
        bundle_layout = False  # a too-deep file is <top>/exercises/<file> (the student bundle's repository)
        for info in infos:
            name = info.filename.replace("\\", "/")
            parts = [p for p in name.split("/") if p not in ("", ".")]
            if info.is_dir() or not parts or any(p in _JUNK for p in parts) or parts[-1].startswith("._"):
                continue
            if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts:
                if not inside:  # (said once, on the first reading)
                    self.problems.append(f"{label}: entry {_shown(info.filename)} points outside the archive; "
                                         f"refused")
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                if not inside:
                    self.problems.append(f"{label}: entry {_shown(info.filename)} is a symlink; refused")
                continue
            if inside:
                if parts[0] != inside or len(parts) < 2:
                    continue
                parts = parts[1:]
            else:
                self.seen.append(f"{label}:{_cut(info.filename)}")
            if parts[-1].lower().endswith(".zip") and len(parts) <= 2:
                inner.append(info)
            notebook = _is_notebook(parts[-1]) and not parts[-1].startswith(".")
            wanted = self.match(parts[-1], f"{label}: ")
            txt = self.match_txt(parts[-1]) if wanted is None and not notebook else None
            if wanted is None and not notebook and txt is None:
                continue
            limit = MAX_NOTEBOOK_BYTES if notebook else cap
            if len(parts) > 2:
                if txt is None:  # a .py.txt is only looked for where the files belong
                    deep.append(f"{label}: {_shown(info.filename)} is nested too deep; put files at the top or in "
                                f"one folder")
                    deep_tops.add(parts[0])
                    bundle_layout = bundle_layout or (len(parts) == 3 and parts[1] == "exercises")
                continue
            refused = ""
            if info.flag_bits & 0x1:
                refused = f"{label}: {_shown(info.filename)} is encrypted; refused"
            elif info.file_size > limit:
                refused = (f"{label}: {_shown(info.filename)} is {info.file_size} bytes; the limit is {limit} bytes; "
                           f"refused")
            if refused and txt is not None:
                self.add_txt(txt, f"{label}:{_cut(info.filename)}", order, None, [refused])
                continue
            if refused:
                self.problems.append(refused)
                continue
            found.setdefault(parts[-1].casefold(), []).append((len(parts), info, parts[-1], wanted or txt, limit))
        # Beside the notebook edition's exercises.ipynb, its exercises/*.py are read too (a stub gives way).
        notebooks_only = all(c[3] is None for entries in found.values() for c in entries)
        if (not found or (notebooks_only and bundle_layout)) and not inner and not nested and not inside \
                and len(deep_tops) == 1:
            (folder,) = deep_tops
            self.problems.append(f"{label}: every file lies inside {_shown(folder)} (a repository downloaded as a "
                                 f"zip?); it was read as the top of the zip")
            self._from_zip_bytes(raw, label, cap, order, nested=False, inside=folder)
            return
        if not inside:  # (read from inside its top folder, the note above says so; the bundle's grader/ is noise)
            self.problems.extend(deep)
        # a .py.txt does not stop a look into the zip inside (it is used only where nothing else is found)
        if all(isinstance(c[3], tuple) for entries in found.values() for c in entries) and len(inner) == 1 \
                and not nested:
            (info,) = inner
            data = b""
            if info.file_size <= MAX_ZIP_BYTES and not info.flag_bits & 0x1:
                try:
                    with archive.open(info) as member:
                        data = member.read(MAX_ZIP_BYTES + 1)
                except (zipfile.BadZipFile, ValueError, OSError, NotImplementedError, EOFError):
                    data = b""
            if not data or len(data) > MAX_ZIP_BYTES:
                self.problems.append(f"{label}: the zip inside it, {_shown(info.filename)}, could not be opened "
                                     f"(limit {MAX_ZIP_BYTES} bytes); submit the files in one zip")
                return
            self.problems.append(f"{label} holds only another zip, {_shown(info.filename)}; its files were used "
                                 f"(zip the files once)")
            self._from_zip_bytes(data, f"{label}:{_cut(info.filename)}", cap, order, nested=True)
            return
        for copies in found.values():
            # As in a folder, a file at the top wins over one in a subfolder (an old copy in backup/ must not
            # replace it); among equals, the last entry (a zip updated in place appends the newer one).
            top = min(depth for depth, *_ in copies)
            chosen = [i for i, c in enumerate(copies) if c[0] == top][-1]
            _, info, name, gives, limit = copies[chosen]
            # a .py.txt file's notes are said only if it is used
            notes: list[str] = [] if isinstance(gives, tuple) else self.problems
            others = [_shown(c[1].filename) for i, c in enumerate(copies) if i != chosen]
            if others:
                notes.append(f"{label}: more than one {name}; used {_shown(info.filename)} and ignored "
                             f"{', '.join(others)} (the top of the zip wins over a folder, a later entry "
                             f"over an earlier one); keep one copy")
            unpacked: bytes | None = None
            try:
                with archive.open(info) as member:
                    unpacked = member.read(limit + 1)
            except (zipfile.BadZipFile, ValueError, OSError, NotImplementedError, EOFError) as exc:
                notes.append(f"{label}: {_shown(info.filename)} could not be extracted ({exc}); refused")
            if unpacked is not None and len(unpacked) > limit:
                notes.append(f"{label}: {_shown(info.filename)} unpacks past {limit} bytes; refused")
                unpacked = None
            if isinstance(gives, tuple):
                self.add_txt(gives, f"{label}:{_cut(info.filename)}", order, unpacked, notes)
                continue
            if unpacked is None:
                continue
            if gives is None:
                self.add_notebook(name, unpacked, order, f"{label}:{_cut(info.filename)}")
            else:
                self.add(gives, unpacked, order, f"{label}:{_cut(info.filename)}", copy=name.lower() != gives.lower())


def _is_stub(file: str, data: bytes) -> bool:
    """Whether ``data`` is ``file`` exactly as the student bundle ships it (grader/stubs.py), unedited."""
    stub = _released_stubs().get(file)
    return stub is not None and data.replace(b"\r\n", b"\n") == stub


@functools.cache
def _released_stubs() -> dict[str, bytes]:
    """Each exercise file as the student bundle ships it (made from solutions/ once per process)."""
    from grader.stubs import expected_stubs

    try:
        return {path.name: text.encode("utf-8") for path, text in expected_stubs().items()}
    except (OSError, SyntaxError, ValueError):  # no solutions/ to make them from: then nothing is a stub
        return {}


def _from_notebooks(collector: _Collector, files: dict[str, tuple[int, bytes]],
                    functions: Mapping[str, Sequence[str]] | None, cap: int) -> None:
    """Add to ``files`` the expected files that were not submitted and that a notebook defines functions of."""
    if not collector.notebooks:
        return
    problems = collector.problems
    if functions is None:
        problems.append(f"{', '.join(sorted(collector.notebooks))}: notebooks are not read for these files; ignored")
        return
    candidates: dict[str, list[tuple[int, int, str, str]]] = defaultdict(list)  # file -> (found, order, nb, src)
    notes: list[str] = []
    for name, (order, data) in sorted(collector.notebooks.items()):
        try:
            found, more = extract_isolated(data, name, functions)
        except NotebookError as exc:
            notes.append(str(exc))
            continue
        notes += more
        if not found:
            every = [f for names in functions.values() for f in names]
            notes.append(f"{name} defines none of the graded functions ({', '.join(every[:3])}, …) in its code "
                         f"cells; ignored (was it saved after they were written?)")
        for file, (source, defined) in found.items():
            candidates[file].append((len(defined), order, name, source))
    used: dict[str, list[str]] = defaultdict(list)
    for file in [f for f in functions if f in candidates]:
        names = sorted({c[2] for c in candidates[file]})
        if file in files and _is_stub(file, files[file][1]):
            notes.append(f"{file} is the unchanged stub (every function still raises NotImplementedError), so "
                         f"its functions were taken from {' and '.join(names)}")
        elif file in files:
            notes.append(f"{file} was submitted, so its functions in {' and '.join(names)} were not used")
            continue
        _, _, best, source = max(candidates[file], key=lambda c: (c[0], c[1]))  # ties: the first name
        if len(names) > 1:
            notes.append(f"several notebooks define functions of {file} ({', '.join(names)}); used {best}, "
                         f"which defines the most of them")
        data = source.encode("utf-8")
        if len(data) > cap:
            notes.append(f"the code taken from {best} for {file} is {len(data)} bytes; the limit is {cap} bytes; "
                         f"refused")
            continue
        files[file] = (0, data)
        used[best].append(file)
    for name, taken in sorted(used.items()):
        problems.append(f"{' and '.join(taken)} {'was' if len(taken) == 1 else 'were'} taken from the code cells of "
                        f"{name} (parsed, not run: the graded functions' last definitions and the code they need)")
    problems += notes


MAX_SHOWN_NAME = 200  # characters of a zip entry's name quoted in a note (a zip may hold names of 64 KB)


def _cut(name: str) -> str:
    return name if len(name) <= MAX_SHOWN_NAME else name[:MAX_SHOWN_NAME] + "…"


def _shown(name: str) -> str:
    """A zip entry's name as quoted in a note: repr'd (control characters made visible), at most 200 characters."""
    return repr(_cut(name))


# PEP 263: a coding declaration in line 1 or 2 makes Python decode the file itself.
_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*[-\w.]+")
# What editors save when not told UTF-8: Windows Notepad's "Unicode" (UTF-16 with a BOM), and Big5 from
# an editor or IDE on Traditional Chinese Windows (its "ANSI" code page, cp950).
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _as_utf8(name: str, data: bytes, problems: list[str], cap: int) -> bytes | None:
    """A ``.py`` file Python can import: UTF-8 as it is; UTF-16 or Big5 source re-encoded to UTF-8, with a note.

    Python reads source without a coding declaration as UTF-8 and refuses anything else with a
    SyntaxError, so a correct file with Chinese comments saved as Big5 would fail every test.  Re-encoding
    keeps every line where it was and means exactly what a ``# coding: big5`` line would make it mean.
    Big5 text grows by half as UTF-8, so the size cap is checked again on the result: None (refused, with
    a note) when it is over ``cap`` bytes.
    """
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError as exc:
        bad = exc.start
    if any(_CODING.match(line) for line in data.split(b"\n", 2)[:2]):
        return data
    for encoding, label in (("utf-16", "UTF-16"), ("cp950", "Big5 (cp950)")):
        if (encoding == "utf-16") != data.startswith(_UTF16_BOMS):
            continue
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        converted = text.encode("utf-8")
        if len(converted) > cap:
            problems.append(f"{name} was saved as {label}, not UTF-8, and converted to UTF-8 it is {len(converted)} "
                            f"bytes ({len(data)} as submitted); the limit is {cap} bytes; refused (fix: save it as "
                            f"UTF-8, e.g. VS Code: Save with Encoding → UTF-8, and make it smaller than {cap} bytes, "
                            f"e.g. without long comments or pasted data)")
            return None
        problems.append(f"{name} was saved as {label}, not UTF-8; it was converted to UTF-8 for grading "
                        f"(fix: save it as UTF-8, e.g. VS Code: Save with Encoding → UTF-8)")
        return converted
    line = data[:bad].count(b"\n") + 1
    problems.append(f"{name} is not UTF-8 text (byte 0x{data[bad]:02x} on line {line}), so Python cannot import "
                    f"it; fix: save it as UTF-8 (e.g. VS Code: Save with Encoding → UTF-8)")
    return data


def _importable(files: dict[str, tuple[int, bytes]], problems: list[str], cap: int) -> dict[str, tuple[int, bytes]]:
    """``files`` with each ``.py`` file as UTF-8 (:func:`_as_utf8`); one over ``cap`` bytes once converted is left
    out (a notebook may still provide it)."""
    out = {}
    for name, (order, data) in files.items():
        if name.endswith(".py"):
            utf8 = _as_utf8(name, data, problems, cap)
            if utf8 is None:
                continue
            data = utf8
        out[name] = (order, data)
    return out


def _write_box(box: Path, files: dict[str, tuple[int, bytes]]) -> dict[str, Path]:
    box.mkdir(mode=0o700)
    staged = {}
    for name, (_, data) in sorted(files.items()):
        target = box / name
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(target, 0o444)
        staged[name.removesuffix(".py")] = target
    return staged


def stage_submissions(
    folder: Path, dest: Path, *, expected: tuple[str, ...] = EXPECTED, max_file_bytes: int = MAX_FILE_BYTES,
    reserved: Collection[str] = (), functions: Mapping[str, Sequence[str]] | None = None,
) -> StagingReport:
    """Stage every submission under ``folder`` into ``dest/<student id>/`` (``dest`` must not exist).

    ``reserved``: ids no student may get (the caller's own output names, e.g. ``grades.csv``, which a
    folder of that name would otherwise shadow); such a student gets ``-2`` like any collision.
    ``functions``: each expected file's function names, which decide the files a notebook provides
    (default: the exercise contract's, for the default ``expected``).
    """
    if functions is None and tuple(expected) == EXPECTED:
        from grader.suite.contract import MODULE_OF  # only here: the contract imports torch

        functions = {f"{m}.py": [f for f, mod in MODULE_OF.items() if mod == m] for m in ("optimizers", "epochs",
                                                                                          "regression")}
    dest.mkdir(mode=0o700, parents=False)
    groups: dict[tuple[str, ...], tuple[str, list[_Source]]] = {}
    ignored: list[str] = []
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name.startswith(".") or entry.name in _JUNK:
                ignored.append(entry.name)
                continue
            found = _classify(entry)
            if found is None:
                ignored.append(entry.name)
                continue
            key, raw, source = found
            groups.setdefault(key, (raw, []))[1].append(source)
    taken: set[str] = set(reserved)
    submissions = []
    for key in sorted(groups, key=lambda k: (sanitize_id(groups[k][0]), k)):
        raw, sources = groups[key]
        base = sanitize_id(raw)
        student_id, n = base, 1
        while student_id in taken:
            n += 1
            student_id = f"{base[: MAX_ID - 1 - len(str(n))]}-{n}"
        taken.add(student_id)
        submission = Submission(student_id, [s.path.name for s in sources])
        collector = _Collector(expected, submission.problems)
        for source in sources:
            if source.kind == "dir":
                collector.from_dir(source.path, max_file_bytes)
            elif source.kind == "zip":
                collector.from_zip(source.path, max_file_bytes, source.order)
            elif source.kind == "notebook":
                data = _open_regular(source.path, source.path.name, submission.problems, MAX_NOTEBOOK_BYTES)
                if data is not None:
                    name = source.module or source.path.name
                    collector.add_notebook(name, data, source.order, source.path.name)
            elif (wanted := collector.match(source.module, "")) is not None:
                data = _open_regular(source.path, source.path.name, submission.problems, max_file_bytes)
                if data is not None:
                    collector.add(wanted, data, source.order, source.path.name)
            else:
                submission.problems.append(f"{source.path.name} is not one of {', '.join(expected)}; ignored")
                if (txt := collector.match_txt(source.module)) is not None:  # the note is replaced if it is used
                    notes: list[str] = []
                    data = _open_regular(source.path, source.path.name, notes, max_file_bytes)
                    collector.add_txt(txt, source.path.name, source.order, data, notes,
                                      slot=len(submission.problems) - 1)
        files = _importable(collector.result(), submission.problems, max_file_bytes)
        _from_notebooks(collector, files, functions, max_file_bytes)
        files |= _importable(collector.txt_stand_ins(files), submission.problems, max_file_bytes)
        if not files and not submission.problems:  # say what was there rather than only "missing"
            shown = ", ".join(collector.seen[:MAX_LISTED]) + (" …" if len(collector.seen) > MAX_LISTED else "")
            submission.problems.append(
                f"found none of {', '.join(expected)} (nor a notebook) in {', '.join(submission.origin)}; it holds "
                f"{shown or 'nothing'}; fix: submit the files themselves, at the top of the folder or zip or in "
                f"one folder inside it")
        submission.staged = _write_box(dest / student_id, files)
        submission.missing = [name for name in expected if name not in files]
        submissions.append(submission)
    return StagingReport(submissions, ignored)
