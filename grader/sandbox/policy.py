"""What a sandboxed worker may see: its Python path and the Landlock read allow-list.

Computed on the trusted side from this interpreter and handed to the zygote.  The rule: Python's
stdlib and the third-party packages (numpy, torch, …) are readable; the repository (which holds
``solutions/``, the hidden tests and the grader) and everything else is not.  When the virtualenv lives
inside the repository, only its ``site-packages`` is readable, entry by entry, minus this project's
own packages and editable-install finders (an editable install maps ``solutions`` to the repo).
"""

from __future__ import annotations

import glob
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

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
SITE_DIR_NAMES = ("site-packages", "dist-packages")
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
CUDA_READ = ("/proc/driver/nvidia", "/proc/devices", "/sys", "/usr/local/cuda", "/opt/cuda", "/etc/nvidia")


@dataclass(frozen=True)
class Policy:
    sys_path: list[str]  # the zygote's sys.path (no repo, no editable finders)
    read: list[str]  # read-only beneath (dirs) or the file itself
    list_only: list[str]  # may list the directory, not read files beneath
    devices: list[str]  # read/write/ioctl
    bind_roots: list[str] = field(default_factory=list)  # mount points for the root-only hidden-home fix


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _own_entry(name: str) -> bool:
    lowered = name.lower()
    return (
        lowered.startswith("__editable__")
        or lowered.endswith(".pth")
        or any(lowered == p or lowered.startswith((p + "-", p + ".")) for p in OWN_PACKAGES)
    )


def build(device: str = "cpu", path: list[str] | None = None, repo: Path = REPO_ROOT) -> Policy:
    sys_path: list[str] = []
    read: list[str] = []
    list_only: list[str] = []
    for entry in sys.path if path is None else path:
        if not entry or not os.path.isabs(entry) or not os.path.exists(entry):
            continue  # '' (the cwd), relative entries and path-hook markers such as __editable__…
        resolved = Path(entry).resolve()
        is_site = resolved.name in SITE_DIR_NAMES
        if _inside(resolved, repo) and not is_site:
            continue
        if any(resolved.name == p for p in OWN_PACKAGES):
            continue
        if str(resolved) not in sys_path:
            sys_path.append(str(resolved))
        if is_site and resolved.is_dir():
            list_only.append(str(resolved))
            read.extend(str(resolved / n) for n in sorted(os.listdir(resolved)) if not _own_entry(n))
        else:
            read.append(str(resolved))
    system = [p for p in SYSTEM_READ if os.path.exists(p)]
    devices = [p for p in DEVICES if os.path.exists(p)]
    if device == "cuda":
        system += [p for p in CUDA_READ if os.path.exists(p)]
        devices += sorted(glob.glob("/dev/nvidia*"))
    roots = [p for p in sys_path if os.path.isdir(p)]
    return Policy(sys_path, read + system, list_only, devices, roots)
