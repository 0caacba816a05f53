"""``optigrade merge OUT_1 … OUT_N -o OUT``: join the outputs of ``--shard K/N`` runs into one class output.

OUT gets every student's folder from the shard that graded it, and grades.csv and class_summary.json
rebuilt from them, so it is byte for byte what one machine would have written.  Nothing is merged
unless every shard 1..N is there exactly once, all graded the same class with the same suite, seed,
rubric, device and limits, and each holds a current result (or a grader error) for each of its
students.  The shard folders are only read; OUT is built beside its final place and moved there last.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from grader.errors import UsageError
from grader.grade.gradebook import write_gradebook, write_summary
from grader.grade.shards import Manifest, read_manifest

SETTING_NAMES = {"suite": "the suite's examples (another optigrade, Hypothesis, torch or numpy version?)",
                 "seed": "--seed", "examples": "examples per property", "points": "the rubric's points",
                 "cuda": "--device (CUDA tests run or not)", "wall_s": "--wall", "budget_s": "--budget",
                 "plots": "the plots' version"}


@dataclass
class MergeResult:
    out: Path
    rows: list[dict[str, Any]] = field(default_factory=list)
    grader_errors: int = 0


def merge(shard_outs: Sequence[Path], out: Path, *, console: Console | None = None) -> MergeResult:
    console = console or Console(stderr=True)
    if not shard_outs:
        raise UsageError("merge needs the output folders of all N shards, e.g. optigrade merge graded-1 graded-2 "
                         "graded-3 -o graded")
    _check_out(shard_outs, out)
    manifests = [read_manifest(folder) for folder in shard_outs]
    first = _check_complete(shard_outs, manifests)
    for folder, manifest in zip(shard_outs, manifests, strict=True):
        _check_results(folder, manifest)

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.merging-"))
    try:
        for folder, manifest in zip(shard_outs, manifests, strict=True):
            for sid in manifest.mine:
                shutil.copytree(folder / sid, staging / sid)
        rows = write_gradebook(staging, first.students)
        write_summary(staging, rows, console)
        if out.exists():
            out.rmdir()  # empty (checked): replaced by the merged folder in one step
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return MergeResult(out, rows, sum(r["status"] == "grader_error" for r in rows))


def _check_out(shard_outs: Sequence[Path], out: Path) -> None:
    dest = out.resolve()
    for folder in shard_outs:
        if not folder.is_dir():
            raise UsageError(f"{folder} is not a folder; expected the -o folder of an `optigrade grade --shard K/N` "
                             f"run")
        src = folder.resolve()
        if dest == src or src in dest.parents or dest in src.parents:
            raise UsageError(f"-o {out} overlaps the shard folder {folder}; merge into a new folder, e.g. "
                             f"-o {out.parent / 'graded'}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"-o {out} already exists and is not an empty folder; merge into a new folder (or remove "
                         f"{out} first: merging never overwrites results)")


def _check_complete(shard_outs: Sequence[Path], manifests: Sequence[Manifest]) -> Manifest:
    """The shards are 1..N of one class graded alike, each once; returns one of them as the reference."""
    first, where = manifests[0], shard_outs[0]
    for folder, m in zip(shard_outs, manifests, strict=True):
        if m.shard.count != first.shard.count:
            raise UsageError(f"{where} is shard {first.shard} but {folder} is shard {m.shard}: all must come from "
                             f"the same N; fix: pass the outputs of --shard 1/N … N/N of one split")
        if m.students != first.students:
            only_a = sorted(set(first.students) - set(m.students))[:5]
            only_b = sorted(set(m.students) - set(first.students))[:5]
            raise UsageError(f"{where} and {folder} graded different classes (only in {where}: {only_a}; only in "
                             f"{folder}: {only_b}{'; same students, other order' if not only_a + only_b else ''}); "
                             f"fix: grade every shard from the same SUBMISSIONS folder")
        if m.version != first.version:
            differs = [f"{SETTING_NAMES.get(k, k)}: {first.settings.get(k)!r} in {where}, {m.settings.get(k)!r} in "
                       f"{folder}" for k in sorted(set(first.settings) | set(m.settings))
                       if first.settings.get(k) != m.settings.get(k)]
            raise UsageError(f"{where} and {folder} were graded differently ({'; '.join(differs) or 'other version'});"
                             f" fix: grade every shard with the same optigrade, options and rubric")
    seen: dict[int, Path] = {}
    for folder, m in zip(shard_outs, manifests, strict=True):
        if m.shard.index in seen:
            raise UsageError(f"{seen[m.shard.index]} and {folder} are both shard {m.shard}; fix: pass each shard's "
                             f"output once")
        seen[m.shard.index] = folder
    missing = [f"{k}/{first.shard.count}" for k in range(1, first.shard.count + 1) if k not in seen]
    if missing:
        raise UsageError(f"shard(s) {', '.join(missing)} missing: got {len(seen)} of {first.shard.count} "
                         f"({', '.join(str(f) for f in shard_outs)}); fix: run `optigrade grade … --shard "
                         f"{missing[0]} -o FOLDER` and pass FOLDER too")
    return first


def _check_results(folder: Path, manifest: Manifest) -> None:
    """Each of the shard's students has a result of this run's version, or a grader error."""
    for sid in manifest.mine:
        try:
            data = json.loads((folder / sid / "results.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            if (folder / sid / "grader_error.txt").is_file():
                continue
            raise UsageError(f"{folder} (shard {manifest.shard}) has no result for {sid}; fix: rerun that shard "
                             f"into {folder} (it resumes)") from None
        except (OSError, ValueError) as exc:
            raise UsageError(f"{folder / sid / 'results.json'} cannot be read ({exc}); fix: rerun shard "
                             f"{manifest.shard} into {folder} with --only {sid}") from None
        fingerprint = str(data.get("extra_data", {}).get("fingerprint", "")) if isinstance(data, dict) else ""
        failed_now = (folder / sid / "grader_error.txt").is_file()  # the gradebook shows it as one run would
        if not fingerprint.startswith(f"{manifest.version}-") and not failed_now:
            raise UsageError(f"{folder / sid / 'results.json'} was not graded by shard {manifest.shard}'s run (its "
                             f"version is {fingerprint.split('-')[0] or 'unknown'}, the shard's {manifest.version}); "
                             f"fix: rerun that shard into {folder} (it regrades what is not current)")
