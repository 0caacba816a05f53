"""The rubric: points per contract function, shared among its properties by weight."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.errors import UsageError
from grader.suite.contract import FUNCTIONS
from grader.suite.model import Property

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_RUBRIC = Path(__file__).with_name("rubric.toml")


@dataclass(frozen=True)
class Rubric:
    points: dict[str, float]
    weights: dict[str, float]

    def property_points(self, props: Sequence[Property]) -> dict[str, float]:
        """Points of each property: its function's points × its weight / the function's total weight."""
        totals: dict[str, float] = {}
        for p in props:
            totals[p.function] = totals.get(p.function, 0.0) + self.weights.get(p.name, 1.0)
        return {p.name: self.points.get(p.function, 0.0) * self.weights.get(p.name, 1.0) / totals[p.function]
                for p in props}


def load_rubric(path: Path | None, props: Sequence[Property]) -> Rubric:
    """Read and check a rubric; every unknown name is an error that lists the valid ones."""
    source = path or DEFAULT_RUBRIC
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"rubric file {source} does not exist; pass an existing TOML file to --rubric "
                         f"(start from a copy of {DEFAULT_RUBRIC})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"rubric file {source} is not valid TOML: {exc}. Fix the line it names.") from None
    points, weights = data.get("points", {}), data.get("weights", {})
    for name, value in [*points.items(), *weights.items()]:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise UsageError(f"rubric {source}: {name!r} = {value!r}; expected a number ≥ 0")
    unknown = sorted(set(points) - set(FUNCTIONS))
    if unknown:
        raise UsageError(f"rubric {source}: [points] names unknown functions {unknown}; expected some of "
                         f"{', '.join(FUNCTIONS)}")
    names = {p.name for p in props}
    unknown = sorted(set(weights) - names)
    if unknown:
        raise UsageError(f"rubric {source}: [weights] names unknown properties {unknown}; run "
                         f"`optigrade grade --list-properties` for the exact names")
    return Rubric({k: float(v) for k, v in points.items()}, {k: float(v) for k, v in weights.items()})
