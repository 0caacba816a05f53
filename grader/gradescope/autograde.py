"""What ``run_autograder`` runs in Gradescope's container: ``python -I -m grader.gradescope.autograde``.

One submission, as root, in a container that may lack Landlock or namespaces:

1. make the secrets root-only (``harden.tighten``); where Landlock is missing, check as an
   unprivileged uid that the secrets cannot be read and nothing trusted can be written, and refuse
   otherwise (nothing would keep the promises then);
2. copy ``/autograder/submission`` into a private folder and grade it with ``grade_class`` (the staging
   rules of ``optigrade grade``: files at the top or in one folder, or an uploaded zip);
3. once the sandbox is closed and no process of its worker uids is left, write
   ``/autograder/results/results.json`` (``results.to_gradescope``, checked by ``results.validate``).

When it cannot grade safely or the grader fails, it writes no results.json (Gradescope then reports an
autograder failure, not a zero) and says why on stdout, which only instructors see.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from grader.errors import GraderFault, OptigradeError, SandboxUnavailableError
from grader.gradescope import CONFIG_NAME, HIDDEN_VISIBILITIES, harden

DEFAULT_ROOT = Path("/autograder")
LAYERS = ("landlock", "namespaces")  # what --simulate-missing may take away (tests only)
MAX_COPY_BYTES = 256 << 20  # of the submission folder; staging reads at most a few MB of it
WORKERS_GONE_S = 5.0


def load_config(source: Path) -> dict[str, Any]:
    path = source / CONFIG_NAME
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GraderFault(f"cannot read the autograder settings {path} ({exc}); rebuild the zip with "
                          f"`optigrade gradescope -o autograder.zip` and upload it again") from None
    if config.get("hidden_visibility") not in HIDDEN_VISIBILITIES or not isinstance(config.get("rubric"), str):
        raise GraderFault(f"{path} holds {config}; expected hidden_visibility one of {HIDDEN_VISIBILITIES} and a "
                          f"rubric file name; rebuild the zip with `optigrade gradescope`")
    return dict(config)


def copy_submission(src: Path, dest: Path, cap: int = MAX_COPY_BYTES) -> list[str]:
    """Copy the submission tree (regular files and folders; symlinks as symlinks, which staging refuses
    with a note) into ``dest``, never following a link; files past ``cap`` bytes in all are left out."""
    if not src.is_dir():
        raise GraderFault(f"the submission folder {src} does not exist; Gradescope creates it for every run")
    notes, total = [], 0
    for folder, dirs, files in os.walk(src):
        here = dest / Path(folder).relative_to(src)
        here.mkdir(mode=0o700, parents=True, exist_ok=True)
        for name in sorted(files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]):
            path, target = Path(folder) / name, here / name
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                os.symlink(os.readlink(path), target)
            elif stat.S_ISREG(info.st_mode) and total + info.st_size <= cap:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
                with os.fdopen(fd, "rb") as fin, open(target, "wb") as fout:
                    shutil.copyfileobj(fin, fout)
                total += info.st_size
            elif stat.S_ISREG(info.st_mode):
                notes.append(f"{path.relative_to(src)} left out: the submission is over {cap >> 20} MB")
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
    return notes


def wait_for_workers(uids: Sequence[int], seconds: float = WORKERS_GONE_S) -> None:
    """Return once no process of the sandbox's worker uids is left; results are written only then."""
    deadline = time.monotonic() + seconds
    while (left := harden.processes_of(uids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    if left:
        raise GraderFault(f"sandbox processes {left} (uids {list(uids)}) outlived the sandbox; results not written")


def _missing_landlock(simulated: Collection[str]) -> bool:
    from grader.sandbox import isolation

    return "landlock" in simulated or isolation.landlock_abi() < 1


def run(root: Path = DEFAULT_ROOT, *, simulate_missing: Collection[str] = (), console: Console) -> dict[str, Any]:
    """Grade ``root``/submission and write ``root``/results/results.json; returns what was written."""
    started = time.monotonic()
    source, target = root / "source", root / "results" / "results.json"
    config = load_config(source)
    target.unlink(missing_ok=True)  # a refused or failed run leaves none behind
    actions = harden.tighten(root, harden.installed_tops())
    # Checked as root before torch is imported (the check forks); it matters where Landlock is missing.
    packages = sorted({*harden.installed_tops(), *harden.package_dirs()})
    found = (harden.exposed(harden.secrets(root, packages), harden.trusted_dirs(root, packages))
             if os.getuid() == 0 else [])
    allow: list[str] = []
    if _missing_landlock(simulate_missing):
        if os.getuid() != 0:
            raise SandboxUnavailableError(
                "Landlock is missing and the autograder does not run as root, so workers would share its uid "
                "and could read the reference; fix: run as root (Gradescope does) or on Linux ≥ 5.13 with Landlock")
        if found:
            raise SandboxUnavailableError(
                f"Landlock is missing, and after making the secrets root-only an unprivileged uid could still "
                f"reach {len(found)} of them, e.g. {found[:3]}; fix: install optigrade as root into a venv "
                f"outside /autograder/source (setup.sh does), or use a kernel with Landlock")
        allow.append("landlock")

    from grader.grade.report import dumps
    from grader.grade.rubric import load_rubric
    from grader.grade.run import grade_class, write_atomic
    from grader.gradescope.results import LAYER_NOTES, to_gradescope, validate
    from grader.sandbox import Sandbox
    from grader.suite.registry import suite_properties

    Sandbox.simulate_missing = frozenset(simulate_missing)
    rubric = source / config["rubric"]
    work = Path(tempfile.mkdtemp(prefix="optigrade-gradescope-"))  # 0700: staged copies and graded output
    try:
        inbox = work / "in"
        notes = copy_submission(root / "submission", inbox / "submission")
        result = grade_class(inbox, work / "out", jobs=1, rubric=rubric, allow_missing=allow, console=console)
        wait_for_workers(result.worker_uids)
        if len(result.rows) != 1:
            raise GraderFault(f"expected one graded submission, got {len(result.rows)}")
        folder = work / "out" / result.rows[0]["student"]
        if result.grader_errors:
            raise GraderFault((folder / "grader_error.txt").read_text(encoding="utf-8", errors="replace").strip())
        graded = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    props = suite_properties()
    points = load_rubric(rubric, props).property_points(props)
    isolation = {"layers": result.isolation, "missing": result.missing_layers,
                 "consequences": [LAYER_NOTES[m] for m in result.missing_layers if m in LAYER_NOTES],
                 "simulated_missing": sorted(simulate_missing), "permissions": actions,
                 "exposed_without_landlock": found}
    graded["output"] = "\n".join([str(graded.get("output", "")), *(f"Note: {n}" for n in notes)])
    data = to_gradescope(graded, points, hidden_visibility=config["hidden_visibility"],
                         execution_time=time.monotonic() - started, isolation=isolation)
    problems = validate(data)
    if problems:
        raise GraderFault(f"the results do not follow Gradescope's schema: {problems[:5]}")
    write_atomic(target, dumps(data))
    _report(console, data, isolation, target)
    return data


def _report(console: Console, data: dict[str, Any], isolation: dict[str, Any], target: Path) -> None:
    """The instructor's summary on stdout (Gradescope keeps it in results/stdout; students do not see it)."""
    console.print(f"Isolation layers: {', '.join(isolation['layers'])}", markup=False)
    for layer, consequence in zip(isolation["missing"], isolation["consequences"], strict=False):
        console.print(f"MISSING layer {layer}: {consequence}", markup=False)
    if isolation["simulated_missing"]:
        console.print(f"(simulated missing for a test: {', '.join(isolation['simulated_missing'])})", markup=False)
    console.print(f"Score {data['score']:g} / {data['extra_data']['max_score']:g} "
                  f"({data['extra_data']['status']}) in {data['execution_time']:g} s; wrote {target}", markup=False)


def check_install(root: Path, console: Console) -> None:
    """setup.sh's last step: settings and rubric load, the secrets are made root-only, layers are reported."""
    from grader.grade.rubric import load_rubric
    from grader.sandbox import isolation
    from grader.suite.registry import suite_properties

    config = load_config(root / "source")
    load_rubric(root / "source" / config["rubric"], suite_properties())
    harden.tighten(root, harden.installed_tops())
    features, problems = isolation.probe()
    console.print(f"optigrade installed; isolation here: {', '.join(features) or 'none'}"
                  + (f"; missing: {'; '.join(problems)}" if problems else ""), markup=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run_autograder", description="Grade /autograder/submission for Gradescope.")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help=argparse.SUPPRESS)  # tests only
    parser.add_argument("--simulate-missing", default="", help=argparse.SUPPRESS)  # tests only: landlock,namespaces
    parser.add_argument("--check-install", action="store_true", help="check the install and exit (setup.sh)")
    args = parser.parse_args(argv)
    console = Console(file=sys.stdout, width=120, highlight=False)
    simulated = {s for s in args.simulate_missing.split(",") if s}
    if not simulated <= set(LAYERS):
        parser.error(f"--simulate-missing {args.simulate_missing!r}: expected a comma-separated subset of {LAYERS}")
    try:
        if args.check_install:
            check_install(args.root, console)
        else:
            run(args.root, simulate_missing=simulated, console=console)
    except OptigradeError as exc:
        console.print(f"NOT GRADED (no results.json written): {exc}", markup=False)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
