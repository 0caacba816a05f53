"""Recognise a failing answer: which known bug gives exactly this, or how far off the update is."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from grader.suite.compare import first_mismatch
from grader.suite.contract import StepFunction
from grader.suite.hidden import reference
from grader.suite.hidden.mutants import MUTANTS
from grader.suite.model import Example


def recognise(f: StepFunction, ex: Example, got: Sequence[torch.Tensor]) -> str | None:
    """A hint for the student's wrong outputs ``got`` of ``f`` on ``ex``, if the pattern is recognisable."""
    args = tuple(reference.as_float64(a) for a in f.args(ex))
    for mutant in MUTANTS.get(f.name, ()):
        try:
            with torch.no_grad():
                out = mutant.fn(*args)
        except Exception:  # noqa: BLE001, S112 - a mutant that cannot run on this input says nothing
            continue
        out = out if isinstance(out, tuple) else (out,)
        if len(out) == len(got) and all(
            isinstance(o, torch.Tensor) and o.shape == g.shape
            and first_mismatch(g, o, ex["dtype"]) is None for o, g in zip(out, got, strict=True)
        ):
            return mutant.hint
    return update_ratio(f, ex, got)


def update_ratio(f: StepFunction, ex: Example, got: Sequence[torch.Tensor]) -> str | None:
    """'the update x − x′ is about 3.16× too small at t = 1' when the ratio is the same everywhere."""
    expected = reference.step(f, ex)[0]
    x = reference.as_float64(ex["param"])
    want, have = (x - expected).reshape(-1), (x - got[0].double()).reshape(-1)
    mask = want.abs() > 1e-12
    if not bool(mask.any()):
        return None
    ratios = have[mask] / want[mask]
    r = float(ratios.median())
    if not (ratios - r).abs().max() <= 0.02 * abs(r) or 0.98 < r < 1.02 or r == 0:
        return None
    size = f"about {r:.3g}× too large" if abs(r) > 1 else f"about {1 / r:.3g}× too small"
    if r < 0:
        size = f"of the wrong sign and {abs(r):.3g}× the expected size"
    at = f" at t = {ex['t']}" if f.takes_t else ""
    guess = ": bias correction?" if f.takes_t and ex.get("t", 99) <= 3 else ""
    return f"Your update x − x′ is {size}{at}{guess}"
