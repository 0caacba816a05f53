"""Item statistics per question kind: facility and discrimination, as LMS quiz reports give them.

* facility: the mean score on the kind's items (0 = nobody, 1 = everybody right);
* discrimination: the corrected item–total correlation, Pearson's r between a
  student's score on the kind and their score on everything else (the kind is
  left out of the total so it does not correlate with itself).  Undefined (None)
  when either score does not vary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.table import Table


@dataclass(frozen=True)
class KindStats:
    kind: str
    items: int  # items of this kind per student
    students: int
    facility: float
    discrimination: float | None


def pearson(xs: list[float], ys: list[float]) -> float | None:
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / math.sqrt(sxx * syy)


def kind_stats(scores: dict[str, dict[str, list[int]]], kinds: list[str]) -> list[KindStats]:
    """Statistics from ``scores[student][kind]`` = that student's 0/1 item scores on the kind."""
    students = list(scores)
    totals = {s: sum(sum(v) for v in scores[s].values()) for s in students}
    out: list[KindStats] = []
    for kind in kinds:
        per_student = [sum(scores[s].get(kind, [])) for s in students]
        items = max((len(scores[s].get(kind, [])) for s in students), default=0)
        possible = sum(len(scores[s].get(kind, [])) for s in students)
        facility = sum(per_student) / possible if possible else 0.0
        rest = [totals[s] - k for s, k in zip(students, per_student, strict=True)]
        discrimination = pearson([float(k) for k in per_student], [float(r) for r in rest])
        out.append(KindStats(kind, items, len(students), facility, discrimination))
    return out


def stats_table(stats: list[KindStats]) -> Table:
    """The statistics as a rich table for the terminal."""
    table = Table(title="Item statistics per question kind")
    for header, justify in (("kind", "left"), ("items", "right"), ("students", "right"),
                            ("facility", "right"), ("discrimination", "right")):
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for s in stats:
        disc = "n/a" if s.discrimination is None else f"{s.discrimination:+.2f}"
        table.add_row(s.kind, str(s.items), str(s.students), f"{s.facility:.2f}", disc)
    return table
