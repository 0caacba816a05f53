"""Grade a class on several machines: ``--shard K/N`` takes every N-th submission, ``merge`` joins them.

The slices are deterministic: the class's submissions in the order staging finds them (sorted ids),
the K-th shard taking positions K-1, K-1+N, K-1+2N, …  A shard's output folder gets ``shard.json``
(written last, when the shard is done) saying which shard it is, every student of the class and
what the results were graded with, so ``optigrade merge`` can refuse a missing, duplicated or
foreign shard instead of producing a partial gradebook.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from grader.errors import UsageError
from grader.grade.gradebook import write_atomic
from grader.grade.report import dumps

MANIFEST = "shard.json"
FORMAT = 1
T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    index: int  # K, from 1
    count: int  # N

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def take(self, items: Sequence[T]) -> list[T]:
        """This shard's share of ``items`` (the whole class, in order)."""
        return list(items[self.index - 1::self.count])


def parse_shard(text: str) -> Shard:
    """``"K/N"`` with 1 ≤ K ≤ N, else a UsageError that says how to write it."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise UsageError(f"--shard {text!r}: expected K/N with 1 ≤ K ≤ N (the K-th of N slices of the class), "
                         f"e.g. --shard 1/3, --shard 2/3 and --shard 3/3 on three machines")
    return Shard(int(match[1]), int(match[2]))


@dataclass(frozen=True)
class Manifest:
    """What ``OUT_K/shard.json`` records about a finished shard."""

    shard: Shard
    students: tuple[str, ...]  # the whole class, in order
    version: str  # the run's version: suite (examples, seed), rubric points, device, limits, plots
    settings: dict[str, Any]  # the same in readable form, to say what differs

    @property
    def mine(self) -> list[str]:
        return self.shard.take(self.students)


def write_manifest(out: Path, manifest: Manifest) -> None:
    write_atomic(out / MANIFEST, dumps({
        "format": FORMAT, "shard": manifest.shard.index, "of": manifest.shard.count,
        "version": manifest.version, "settings": manifest.settings, "students": list(manifest.students)}))


def read_manifest(out: Path) -> Manifest:
    path = out / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{out} has no {MANIFEST}: it is not the output of a finished `optigrade grade "
                         f"--shard K/N` run (a shard writes it last, when it is done); fix: run or rerun that "
                         f"shard into {out} (it resumes), then merge again") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path} cannot be read ({exc}); fix: rerun that shard into {out} (it resumes and "
                         f"rewrites it)") from None
    try:
        if data["format"] != FORMAT:
            raise ValueError(f"format {data['format']!r}, expected {FORMAT}")
        shard = Shard(int(data["shard"]), int(data["of"]))
        students = tuple(str(s) for s in data["students"])
        version, settings = str(data["version"]), dict(data["settings"])
        if not 1 <= shard.index <= shard.count:
            raise ValueError(f"shard {shard} is not K/N with 1 ≤ K ≤ N")
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{path} is not a shard manifest this optigrade can read ({exc}); fix: rerun that "
                         f"shard with this optigrade") from None
    return Manifest(shard, students, version, settings)
