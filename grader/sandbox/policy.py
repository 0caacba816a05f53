"""What a sandboxed worker may see: its Python path and the Landlock read allow-list.

Computed on the trusted side from this interpreter and handed to the zygote.  Readable: Python's
stdlib, the system libraries, and from the site-packages on ``sys.path`` only ``WORKER_DISTRIBUTIONS``
(torch, numpy, matplotlib, pytest) and what they require, from their metadata.  Not readable: the
repository (``solutions/``, the hidden tests, the grader), every other third-party install location (the
base interpreter's site-packages, Debian's dist-packages, ...), the grader's other dependencies
(hypothesis, rich, typer, babel, ...), editable-install finders and ``.pth`` files, and everything else.

Landlock rules only allow, each for everything beneath its path, so a tree that holds something denied
(the stdlib dir holds the base ``site-packages``; ``/usr`` holds ``dist-packages``) is granted child by
child down to the denied path, and the directories on the way are listable (READ_DIR: names, not
contents; the denied dirs beneath them are listable too).
A needed site dir is listable too (the import system finds modules by listing it); the packages in it
that a worker may not read are hidden from imports (``SiteFinder``), so ``import hypothesis`` in a
worker is a ModuleNotFoundError, as if not installed, rather than a PermissionError.
"""

from __future__ import annotations

import glob
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from importlib.machinery import (
    BYTECODE_SUFFIXES,
    EXTENSION_SUFFIXES,
    SOURCE_SUFFIXES,
    ExtensionFileLoader,
    FileFinder,
    ModuleSpec,
    SourceFileLoader,
    SourcelessFileLoader,
    all_suffixes,
)
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.metadata import Distribution

REPO_ROOT = Path(__file__).resolve().parents[2]
SANDBOX_DIR = Path(__file__).resolve().parent
OWN_PACKAGES = (
    "grader",
    "solutions",
    "quiz_bank",
    "exercises",
    "tests",
    "benchmarks",
    "scripts",
    "optigrade",
)
# What a worker may import from site dirs, with their requirements: torch and numpy for the worker itself,
# matplotlib and pytest because submissions import them at the top (plots and tests left in the file).
WORKER_DISTRIBUTIONS = ("torch", "numpy", "matplotlib", "pytest")
SITE_DIR_NAMES = ("site-packages", "dist-packages")
METADATA_SUFFIXES = (".dist-info", ".egg-info")
SYSTEM_READ = (
    "/usr",
    "/lib",
    "/lib64",
    "/lib32",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/proc/cpuinfo",
    "/proc/meminfo",
    "/sys/devices/system/cpu",
)
DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")
# A CUDA job's extra grants (CPU jobs never get them), found by tracing CUDA's start in the box
# (grader/sandbox/trace.py; README "Grading on a GPU"):
CUDA_READ = (
    "/proc/driver/nvidia", "/proc/devices", "/sys", "/usr/local/cuda", "/opt/cuda", "/etc/nvidia",
    "/proc/sys/vm/mmap_min_addr",  # read by cudaGetDeviceCount; refused, CUDA fails with error 304
)
CUDA_DEVICES = ("/dev/nvidia*",)  # nvidiactl, nvidia0…, nvidia-uvm(-tools), nvidia-caps/: read, write, ioctl
CUDA_WRITE: tuple[str, ...] = ()
# socket(AF_UNIX, SOCK_SEQPACKET): the driver opens one at start; every other socket stays refused
# (isolation.seccomp_program; the name of any other call there lets it through altogether).
UNIX_SEQPACKET = "socket(AF_UNIX, SOCK_SEQPACKET)"
CUDA_SYSCALLS: tuple[str, ...] = (UNIX_SEQPACKET,)


@dataclass(frozen=True)
class Policy:
    sys_path: list[str]  # the zygote's sys.path (no repo, no editable finders)
    read: list[str]  # read-only beneath (dirs) or the file itself
    list_only: list[str]  # may list the directory, not read files beneath
    devices: list[str]  # read/write/ioctl
    bind_roots: list[str] = field(default_factory=list)  # mount points for the root-only hidden-home fix
    hidden: dict[str, list[str]] = field(default_factory=dict)  # site dir -> top-level names not importable
    # CUDA jobs only (Job.device == "cuda"), on top of the above:
    cuda_read: list[str] = field(default_factory=list)
    cuda_devices: list[str] = field(default_factory=list)
    cuda_write: list[str] = field(default_factory=list)
    cuda_syscalls: list[str] = field(default_factory=list)  # seccomp lets these through (isolation._COMMON_DENY)


class SiteFinder(FileFinder):
    """The path-entry finder for a site dir in the zygote: names a worker may not read look not installed
    (``find_spec`` → None), so optional imports (``try: import matplotlib``) fail the usual way."""

    def __init__(self, path: str, hidden: Iterable[str]) -> None:
        super().__init__(
            path,
            (ExtensionFileLoader, EXTENSION_SUFFIXES),
            (SourceFileLoader, SOURCE_SUFFIXES),
            (SourcelessFileLoader, BYTECODE_SUFFIXES),
        )
        self.hidden = frozenset(hidden)

    def find_spec(self, fullname: str, target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname in self.hidden:
            return None
        return super().find_spec(fullname, target)


def site_finders(hidden: Mapping[str, Iterable[str]]) -> dict[str, SiteFinder]:
    """Entries for ``sys.path_importer_cache``, installed by the zygote before it imports anything."""
    return {path: SiteFinder(path, names) for path, names in hidden.items()}


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _ancestors(path: str) -> Iterator[str]:
    while (parent := os.path.dirname(path)) != path:
        yield parent
        path = parent


def _leads_into(path: str, repo: str, sites: Iterable[str]) -> bool:
    real = os.path.realpath(path)
    return _inside(real, repo) and not any(_inside(real, site) for site in sites)


def _own_entry(name: str) -> bool:
    lowered = name.lower()
    return (
        lowered.startswith("__editable__")
        or lowered.endswith(".pth")
        or any(lowered == p or lowered.startswith((p + "-", p + ".")) for p in OWN_PACKAGES)
    )


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _module_name(entry: str) -> str | None:
    """The top-level module a site dir entry provides (``six.py`` → six), or None (metadata, libs, …)."""
    if entry.isidentifier():
        return entry
    for suffix in sorted(all_suffixes(), key=len, reverse=True):
        if entry.endswith(suffix) and entry[: -len(suffix)].isidentifier():
            return entry[: -len(suffix)]
    return None


def install_locations(extra_prefixes: Iterable[str] = ("/usr", "/usr/local")) -> set[str]:
    """Third-party install locations known to this interpreter (every sysconfig scheme, Debian's patched
    ``site``), for the venv and its base, plus the usual ``lib*/python3*/{site,dist}-packages`` dirs."""
    import site
    import sysconfig

    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    found: set[str] = set()
    for scheme in sysconfig.get_scheme_names():
        for prefix in prefixes:
            paths = sysconfig.get_paths(scheme, vars={"base": prefix, "platbase": prefix})
            found.update(paths[key] for key in ("purelib", "platlib") if key in paths)
    found.update(site.getsitepackages(list(prefixes)))
    found.add(site.getusersitepackages())
    for prefix in sorted(prefixes | set(extra_prefixes)):
        for name in SITE_DIR_NAMES:
            found.update(glob.glob(os.path.join(glob.escape(prefix), "lib*", "python3*", name)))
    return {os.path.realpath(p) for p in found if os.path.isdir(p)}


def stdlib_locations() -> set[str]:
    """This interpreter's standard library: its dir (lib-dynload lies beneath) and its zip."""
    import sysconfig

    base = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix,
            "installed_base": sys.base_prefix, "installed_platbase": sys.base_exec_prefix}
    dirs = {sysconfig.get_path(key, vars=base) for key in ("stdlib", "platstdlib")}
    zips = {os.path.join(os.path.dirname(d), f"python{sys.version_info[0]}{sys.version_info[1]}.zip") for d in dirs}
    return {os.path.realpath(p) for p in dirs | zips}


@dataclass
class _Grants:
    read: list[str] = field(default_factory=list)
    list_only: list[str] = field(default_factory=list)
    listed: set[str] = field(default_factory=set)

    def carve(self, path: str, holes: Iterable[str], in_real_dir: bool = False) -> None:
        """Grant ``path`` minus the ``holes`` beneath it: whole when none is, else listable and child by
        child down to each hole.  Landlock follows symlinks, so rules go on (and compare) the target."""
        real = path if in_real_dir and not os.path.islink(path) else os.path.realpath(path)
        if not os.path.exists(real) or any(_inside(real, hole) for hole in holes):
            return
        if not any(_inside(hole, real) for hole in holes):
            self.read.append(real)
        elif real not in self.listed:  # (a symlink may lead back up)
            self.listed.add(real)
            self.list_only.append(real)
            for child in sorted(os.listdir(real)):
                self.carve(os.path.join(real, child), holes, in_real_dir=True)

    def owned(self, base: str, claims: Claims) -> None:
        """Grant each entry of ``base`` installed only by needed distributions; descend into shared ones
        (``__pycache__``, namespace packages such as ``nvidia``)."""
        heads = [{rel.partition("/")[0] for rel in paths} for _, paths in claims]
        owners: dict[str, int] = {}  # entry -> 1: a needed distribution installed in it, 2: another one did
        for (mine, _), names in zip(claims, heads, strict=True):
            for name in names:
                owners[name] = owners.get(name, 0) | (1 if mine else 2)
        below: dict[str, Claims] = {name: [] for name, bits in owners.items() if bits == 3}
        for (mine, paths), names in zip(claims, heads, strict=True):
            for name in names & below.keys():
                prefix = name + "/"
                below[name].append((mine, [rel[len(prefix) :] for rel in paths if rel.startswith(prefix)]))
        for name, bits in sorted(owners.items()):
            path = os.path.join(base, name)
            if not bits & 1 or not os.path.lexists(path):
                continue
            if bits == 1:
                self.read.append(path)
            elif os.path.isdir(path) and not os.path.islink(path):
                self.list_only.append(path)
                self.owned(path, below[name])


Claims = list[tuple[bool, list[str]]]  # per distribution: is it needed, the paths it installed below a dir
Dists = list[tuple[str, "Distribution"]]  # (normalized name, distribution) in one site dir


def _dist_name(dist: Distribution) -> str:
    """The normalized name, read from the header (parsing whole METADATA files is slow)."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    match = re.search(r"^Name:[ \t]*(\S+)", text, re.MULTILINE)
    return _norm(match.group(1)) if match else ""


def _worker_distributions(dists: Mapping[str, Dists]) -> dict[str, str]:
    """``WORKER_DISTRIBUTIONS`` and everything they require (extras excluded; other markers count, so a
    CUDA build's nvidia-* and triton are in): normalized name -> the site dir it is imported from."""
    found: dict[str, tuple[str, Distribution]] = {}
    for site, pairs in dists.items():
        for name, dist in pairs:
            found.setdefault(name, (site, dist))  # the first on the path wins, as for imports
    needed: dict[str, str] = {}
    todo = list(WORKER_DISTRIBUTIONS)
    while todo:
        name = _norm(todo.pop())
        if name in needed or name not in found:
            continue
        site, dist = found[name]
        needed[name] = site
        for requirement in dist.requires or []:
            spec, _, marker = requirement.partition(";")
            match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
            if match and "extra" not in marker:
                todo.append(match.group(1))
    return needed


def _installed_files(name: str, dist: Distribution, entries: list[str]) -> list[str]:
    """What ``dist`` installed, relative to its site dir: RECORD, else installed-files.txt, else (Debian's
    egg-info) its top-level modules and its metadata entry."""
    import csv

    record = dist.read_text("RECORD")
    if record:  # path,hash,size; csv-quoted only when the path has a comma or quote
        lines = record.splitlines()
        return [next(csv.reader([ln]))[0] if ln.startswith('"') else ln.rsplit(",", 2)[0] for ln in lines if ln]
    if dist.read_text("installed-files.txt") is not None:
        return [str(p) for p in dist.files or []]
    tops = set((dist.read_text("top_level.txt") or "").split())
    return [
        e
        for e in entries
        if name and (_module_name(e) in tops or (e.endswith(METADATA_SUFFIXES) and _norm(e.split("-")[0]) == name))
    ]


def _claims(site: str, dists: Dists, entries: list[str], needed: Mapping[str, str]) -> Claims | None:
    """Per distribution in ``site``: whether it is needed, and the files it installed there; None when no
    distribution there says what it installed (then who owns what is unknown)."""
    own = {e for e in entries if _own_entry(e)}
    claims: Claims = []
    for name, dist in dists:
        paths = [rel for rel in _installed_files(name, dist, entries) if rel.partition("/")[0] not in own]
        claims.append((needed.get(name) == site, [rel for rel in paths if not rel.startswith(("../", "/"))]))
    if not any(paths for _, paths in claims):
        return None
    missing = {_norm(n) for n in WORKER_DISTRIBUTIONS} - set(needed)  # e.g. a source build with no metadata
    return claims + [(True, [e for e in entries if _norm(_module_name(e) or "-") in missing])]


def _site_grants(site: str, dists: Dists, needed: Mapping[str, str]) -> tuple[_Grants, list[str]]:
    """What a worker may read in one site dir on the path, and the top-level names hidden from imports."""
    entries = sorted(os.listdir(site))
    grants = _Grants(list_only=[site])
    claims = _claims(site, dists, entries, needed)
    if claims is None:  # nothing says who installed what: every entry but this project's own
        grants.read += [os.path.join(site, e) for e in entries if not _own_entry(e)]
    else:
        grants.owned(site, claims)
    granted = {os.path.basename(p) for p in grants.read + grants.list_only if os.path.dirname(p) == site}
    importable = {_module_name(e) for e in granted} | set(sys.stdlib_module_names)
    hidden = sorted({m for e in entries if e not in granted and (m := _module_name(e)) and m not in importable})
    return grants, hidden


def build(device: str = "cpu", path: list[str] | None = None, repo: Path = REPO_ROOT) -> Policy:
    from importlib import metadata

    entries: list[str] = []
    for entry in sys.path if path is None else path:
        if not entry or not os.path.isabs(entry) or not os.path.exists(entry):
            continue  # '' (the cwd), relative entries and path-hook markers such as __editable__…
        resolved = os.path.realpath(entry)
        if resolved not in entries:
            entries.append(resolved)
    known_sites = install_locations()
    sites = [e for e in entries if os.path.basename(e) in SITE_DIR_NAMES or e in known_sites]
    nested = {os.path.realpath(os.path.join(e, n)) for e in entries for n in SITE_DIR_NAMES}  # in a stdlib dir
    repo_real = os.path.realpath(repo)
    holes = sorted(known_sites | set(sites) | {p for p in nested if os.path.isdir(p)} | {repo_real})
    dists = {s: [(_dist_name(d), d) for d in metadata.distributions(path=[s])] for s in sites}
    needed = _worker_distributions(dists)
    sys_path: list[str] = []
    grants = _Grants()
    hidden: dict[str, list[str]] = {}
    # From this process's own sys.path, only Python's entries: the rest is the instructor's, not Python's
    # (the script's dir, the cwd under ``python -m grader.cli``, PYTHONPATH), and may hold the class's
    # submissions, the graded output or an answer key; on a worker's path it would be readable by all.
    stdlib = stdlib_locations() if path is None else None
    for resolved in entries:
        if resolved not in sites and stdlib is not None and not any(_inside(resolved, s) for s in stdlib):
            continue
        if resolved in sites:
            site_grants, site_hidden = _site_grants(resolved, dists[resolved], needed)
            if not site_grants.read:
                continue  # nothing a worker needs there: off its path altogether
            grants.read += [p for p in site_grants.read if not _leads_into(p, repo_real, sites)]  # (symlinks)
            grants.list_only += site_grants.list_only
            hidden[resolved] = site_hidden
        elif os.path.basename(resolved) in OWN_PACKAGES or any(_inside(resolved, hole) for hole in holes):
            continue  # the repository, or inside a third-party install location
        else:
            grants.carve(resolved, holes)
        sys_path.append(resolved)
    for root in SYSTEM_READ:
        grants.carve(root, holes)
    read = _fewest(grants.read)
    devices = [p for p in DEVICES if os.path.exists(p)]
    roots = [p for p in sys_path if os.path.isdir(p)]
    built = Policy(sys_path, read, list(dict.fromkeys(grants.list_only)), devices, roots, hidden)
    if device != "cuda":
        return built
    cuda = _Grants()
    for root in CUDA_READ:
        cuda.carve(root, holes)
    granted = set(read)
    return replace(
        built,
        cuda_read=[p for p in _fewest(cuda.read) if not any(a in granted for a in (p, *_ancestors(p)))],
        cuda_devices=sorted({p for pattern in CUDA_DEVICES for p in glob.glob(pattern)}),
        cuda_write=[p for p in CUDA_WRITE if os.path.exists(p)],
        cuda_syscalls=list(CUDA_SYSCALLS),
    )


def _fewest(paths: Iterable[str]) -> list[str]:
    """``paths`` without duplicates and without any path beneath another one (fewer rules per job)."""
    unique = list(dict.fromkeys(paths))
    granted = set(unique)
    return [p for p in unique if not any(a in granted for a in _ancestors(p))]
