"""The suite's drawn examples kept on disk, so a run after the first skips Hypothesis (seconds).

Which examples Hypothesis draws depends only on the suite's sources, the seed, the number of examples
and the versions of Python, Hypothesis, torch and numpy.  A cache file is named by a hash of all of
these and repeats them in full inside; a file that does not match is redrawn, never used.

Reading a file never runs code: it holds frames of the sandbox's own codec (``grader/sandbox/wire.py``:
JSON headers and raw tensor bytes, no pickle) after a SHA-256 of them, and it is read only when this
user owns it and no one else may write to it.  Anything malformed, truncated, foreign or of
unexpected types is ignored and the examples are drawn again (then the file is rewritten).

Where: ``$OPTIGRADE_CACHE_DIR``, else ``$XDG_CACHE_HOME/optigrade``, else ``~/.cache/optigrade``;
``OPTIGRADE_CACHE_DIR=off`` draws every time.  Removing the folder is always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import stat
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import hypothesis
import numpy as np
import torch

from grader.sandbox.values import TensorValue
from grader.sandbox.wire import DTYPE_NAMES, DTYPES, decode_frames, encode_frame
from grader.suite.examples import drawn_for
from grader.suite.model import Example, Property

FORMAT = 1
MAGIC = b"optigrade-examples\n"
MAX_FILE_BYTES = 64 << 20
KEEP_FILES = 8  # older cache files (other suites, seeds, versions) are removed beyond this many
ROOT = Path(__file__).resolve().parents[2]
SOURCES = (ROOT / "grader" / "suite", ROOT / "solutions")  # what defines the strategies (and what they call)

Drawn = dict[str, list[Example]]


def cache_dir() -> Path | None:
    """Where cache files live, or None when caching is switched off (``OPTIGRADE_CACHE_DIR=off``)."""
    chosen = os.environ.get("OPTIGRADE_CACHE_DIR")
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "off", "0", "no", "none") else Path(chosen).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "optigrade"


def cache_key(props: Sequence[Property], count: int, seed: int) -> str:
    """Everything that decides the draws, as one JSON text (compared in full when a file is read)."""
    files = hashlib.sha256()
    for path in _source_files(props):
        files.update(str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path).encode() + b"\0")
        files.update(path.read_bytes() + b"\0")
    settings = hypothesis.settings.default
    return json.dumps({
        "format": FORMAT, "python": sys.version, "machine": platform.machine(),
        "hypothesis": hypothesis.__version__, "torch": torch.__version__, "numpy": np.__version__,
        "backend": str(getattr(settings, "backend", "")), "seed": seed, "count": count,
        "properties": [[p.name, p.max_examples] for p in props], "sources": files.hexdigest(),
    }, sort_keys=True, separators=(",", ":"))


def _source_files(props: Sequence[Property]) -> list[Path]:
    """The suite's own sources, and the module of any property defined elsewhere (e.g. a test's)."""
    found = {p.resolve() for folder in SOURCES for p in folder.rglob("*.py")}
    for prop in props:
        module = sys.modules.get(getattr(prop.case, "__module__", None) or "")
        file = getattr(module, "__file__", None)
        if file:
            found.add(Path(file).resolve())
    return sorted(found)


def load_or_draw(props: Sequence[Property], count: int, seed: int, *,
                 draw: Callable[[Property, int, int], list[Example]] = drawn_for) -> Drawn:
    """``{name: drawn_for(p, count, seed)}`` for ``props``: read back when a matching cache file exists,
    else drawn and written for the next run (a cache that cannot be written is simply not kept)."""
    folder = cache_dir()
    if folder is None:
        return {p.name: draw(p, count, seed) for p in props}
    key = cache_key(props, count, seed)
    path = folder / f"examples-{hashlib.sha256(key.encode()).hexdigest()[:32]}.bin"
    blob = _read_own_file(path)
    drawn = unpack(blob, key, props, count) if blob is not None else None
    if drawn is None:
        drawn = {p.name: draw(p, count, seed) for p in props}
        packed = pack(key, drawn)
        if packed is not None:
            _write(folder, path, packed)
    return drawn


def pack(key: str, drawn: Mapping[str, Sequence[Example]]) -> bytes | None:
    """The file's bytes, or None when an example holds a value the format does not carry."""
    try:
        frames = [encode_frame("key", {"key": key})]
        frames += [encode_frame("drawn", {"name": name, "examples": [_node_of(ex) for ex in examples]})
                   for name, examples in drawn.items()]
    except (TypeError, ValueError):
        return None
    payload = b"".join(frames)
    return MAGIC + hashlib.sha256(payload).digest() + payload


def unpack(blob: bytes, key: str, props: Sequence[Property], count: int) -> Drawn | None:
    """The examples in ``blob`` if it is intact, was written for ``key`` and holds exactly ``props``."""
    head = len(MAGIC) + 32
    if not blob.startswith(MAGIC) or len(blob) < head:
        return None
    payload = blob[head:]
    if hashlib.sha256(payload).digest() != blob[len(MAGIC):head]:
        return None
    frames, fault = decode_frames(payload, max_bytes=MAX_FILE_BYTES)
    if fault is not None or not frames or frames[0].kind != "key" or frames[0].body != {"key": key}:
        return None
    limits = {p.name: count if p.max_examples is None else min(count, p.max_examples) for p in props}
    drawn: Drawn = {}
    for frame in frames[1:]:
        name, examples = frame.body.get("name"), frame.body.get("examples")
        if (frame.kind != "drawn" or set(frame.body) != {"name", "examples"} or not isinstance(name, str)
                or name not in limits or name in drawn or not isinstance(examples, list)
                or len(examples) > limits[name]):
            return None
        try:
            drawn[name] = [_example_of(node) for node in examples]
        except ValueError:
            return None
    return drawn if drawn.keys() == limits.keys() else None


def _node_of(example: Example) -> dict[str, Any]:
    """An example as wire values: each field tagged, a dtype by its name ("v": a value as it is)."""
    if type(example) is not dict:
        raise TypeError(f"an example is a dict, not {type(example).__name__}")
    return {name: ["dtype", DTYPE_NAMES[v]] if isinstance(v, torch.dtype) and v in DTYPE_NAMES
            else ["v", _checked(v)] for name, v in example.items()}


def _checked(value: Any) -> Any:
    """``value`` if it comes back from the file exactly as it is, else TypeError."""
    if isinstance(value, tuple | list):
        return type(value)(_checked(v) for v in value)
    if isinstance(value, dict):
        return {k: _checked(v) for k, v in value.items()}
    if type(value) is torch.Tensor:
        if value.device.type != "cpu" or value.requires_grad or not value.is_contiguous():
            raise TypeError("only contiguous CPU tensors without requires_grad are cached")
        return value
    if value is None or type(value) in (bool, int, float, str):
        return value
    raise TypeError(f"{type(value).__name__} is not cached")


def _example_of(node: Any) -> Example:
    if type(node) is not dict:
        raise ValueError("an example must be a dict")
    example: Example = {}
    for name, tagged in node.items():
        if type(tagged) is not list or len(tagged) != 2:
            raise ValueError("a field must be a [tag, value] pair")
        tag, value = tagged
        if tag == "dtype" and type(value) is str and value in DTYPES:
            example[name] = DTYPES[value]
        elif tag == "v":
            example[name] = _value_of(value)
        else:
            raise ValueError(f"unknown field tag {str(tag)[:20]!r}")
    return example


def _value_of(value: Any) -> Any:
    """A decoded value back as drawn: a plain CPU tensor for each tensor; nothing a draw cannot give."""
    if type(value) is TensorValue:
        if value.device != "cpu" or value.type_name != "torch.Tensor" or value.requires_grad:
            raise ValueError("a cached tensor must be a plain CPU tensor")
        return value.tensor
    if type(value) in (tuple, list):
        return type(value)(_value_of(v) for v in value)
    if type(value) is dict:
        return {k: _value_of(v) for k, v in value.items()}
    if value is None or type(value) in (bool, int, float, str):
        return value
    raise ValueError(f"a cached value may not be a {type(value).__name__}")


def _read_own_file(path: Path) -> bytes | None:
    """The file's bytes if it is a regular file of this user's that no one else may write, else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if (not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022
                or info.st_size > MAX_FILE_BYTES + len(MAGIC) + 32):
            return None
        try:
            return f.read()
        except OSError:
            return None


def _write(folder: Path, path: Path, blob: bytes) -> None:
    """Write atomically (readers see the old file or the new one), then drop the oldest files."""
    tmp = None
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".examples-")  # mode 0600
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.replace(tmp, path)
    except OSError:  # a read-only or full disk: this run is not slower for it, the next one is
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        return
    try:
        files = sorted(folder.glob("examples-*.bin"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in files[KEEP_FILES:]:
            old.unlink(missing_ok=True)
    except OSError:
        return
