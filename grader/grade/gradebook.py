"""The class's files, rebuilt from the per-student results on disk: grades.csv and class_summary.json.

Both depend only on the student folders they are given, so a run, a resumed run and a merge of
shards (grader/grade/merge.py) write the same bytes for the same results.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from grader.grade.report import dumps
from grader.suite.contract import FUNCTIONS

# OUT/<name> files of the whole class: no student id may take these names (a folder named grades.csv
# would become OUT/grades.csv/ and the gradebook could not be written).
CLASS_FILES = ("grades.csv", "class_summary.json")


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write ``text`` so that readers see the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(text.encode() if isinstance(text, str) else text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_gradebook(out: Path, students: Sequence[str]) -> list[dict[str, Any]]:
    """grades.csv: one row for every submission found, rebuilt from the results on disk."""
    rows = []
    for sid in students:
        row: dict[str, Any] = {"student": sid, **dict.fromkeys(FUNCTIONS, 0.0), "total": 0.0, "max_total": 0.0,
                               "status": "grader_error"}
        try:
            data = json.loads((out / sid / "results.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            rows.append(row)
            continue
        for test in data["tests"]:
            row[test["tags"][0]] += test["score"]
        row.update({f: round(row[f], 2) for f in FUNCTIONS})
        row.update(total=data["score"], max_total=data["extra_data"]["max_score"],
                   status=data["extra_data"]["status"])
        rows.append(row)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["student", *FUNCTIONS, "total", "max_total", "status"],
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(out / "grades.csv", buf.getvalue())
    return rows


def write_summary(out: Path, rows: Sequence[dict[str, Any]], console: Console) -> None:
    """Class statistics: mean per function and the most common failing properties."""
    failing: Counter[str] = Counter()
    for row in rows:
        try:
            data = json.loads((out / row["student"] / "results.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        failing.update(t["name"] for t in data["tests"] if t.get("status") == "failed")
    n = max(1, len(rows))
    means = {f: round(sum(float(r[f]) for r in rows) / n, 2) for f in FUNCTIONS}
    summary = {"students": len(rows), "mean_total": round(sum(float(r["total"]) for r in rows) / n, 2),
               "mean_per_function": means, "most_common_failures": failing.most_common(10),
               "status": Counter(r["status"] for r in rows)}
    write_atomic(out / "class_summary.json", dumps(summary))

    table = Table(title=f"Gradebook ({len(rows)} submissions)")
    for col in ("student", "total", "max", "status"):
        table.add_column(col, justify="right" if col in ("total", "max") else "left")
    for r in rows:
        table.add_row(r["student"], f"{r['total']:g}", f"{r['max_total']:g}", r["status"])
    console.print(table)
    common = Table(title="Most common failing properties")
    common.add_column("property")
    common.add_column("students", justify="right")
    for name, count in failing.most_common(8):
        common.add_row(name, str(count))
    console.print(common)
    console.print("Mean per function: " + ", ".join(f"{f} {m:g}" for f, m in means.items()))
