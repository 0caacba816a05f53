"""Recognise a failing answer: which known bug gives exactly this, or how far off the update is."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch

from grader.sandbox.effects import global_state, restore_global_state
from grader.suite.compare import first_mismatch
from grader.suite.contract import StepFunction
from grader.suite.hidden import reference
from grader.suite.hidden.mutants import MUTANTS
from grader.suite.model import Example


def recognise(f: StepFunction, ex: Example, got: Sequence[torch.Tensor]) -> str | None:
    """A hint for the student's wrong outputs ``got`` of ``f`` on ``ex``, if the pattern is recognisable."""
    args = tuple(reference.as_float64(a) for a in f.args(ex))
    matches: list[str] = []
    for mutant in MUTANTS.get(f.name, ()):
        if not mutant.answers:  # its answers are right; its side effects must not reach the grader
            continue
        state = global_state()
        try:
            with torch.no_grad():
                out = mutant.fn(*args)
        except Exception:  # noqa: BLE001, S112 - a mutant that cannot run on this input says nothing
            continue
        finally:
            restore_global_state(state)
        out = out if isinstance(out, tuple) else (out,)
        if len(out) == len(got) and all(
            isinstance(o, torch.Tensor) and o.shape == g.shape
            and first_mismatch(g, o, ex["dtype"]) is None for o, g in zip(out, got, strict=True)
        ) and mutant.hint not in matches:
            matches.append(mutant.hint)
    if len(matches) == 1:  # several bugs give this answer here (γ = 0.5 = 1 − γ): naming one would mislead
        return matches[0]
    return out_of_order(f, ex, got) or float32_precision(f, ex, got) or update_ratio(f, ex, got)


def out_of_order(f: StepFunction, ex: Example, got: Sequence[torch.Tensor]) -> str | None:
    """Every output right, but returned in another order than the contract's (``return v, param``)."""
    expected = reference.step(f, ex)
    if len(got) < 2 or len(got) != len(expected):
        return None
    for order in itertools.permutations(range(len(got))):
        if list(order) == sorted(order):
            continue
        if all(got[i].shape == expected[j].shape and first_mismatch(got[i], expected[j], ex["dtype"]) is None
               for i, j in zip(order, range(len(got)), strict=True)):
            return (f"Each value is right but they come back in another order: return "
                    f"({', '.join(f.outputs)}) in that order.")
    return None


def float32_precision(f: StepFunction, ex: Example, got: Sequence[torch.Tensor]) -> str | None:
    """A float64 answer that is right to float32 precision only: a float32 value got into the computation."""
    if ex["dtype"] != torch.float64 or not all(g.dtype == torch.float64 for g in got):
        return None
    single = reference.step(f, ex, dtype=torch.float32)
    if len(single) == len(got) and all(g.shape == s.shape and first_mismatch(g, s.double(), torch.float32) is None
                                       for g, s in zip(got, single, strict=True)):
        return ("Right to float32 precision only: a float32 value got into a float64 computation (torch.tensor(β) "
                "is float32 unless you pass dtype=...). Keep float64 inputs in float64.")
    return None


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
    # Missing or wrong bias correction changes an early step by a large factor (3.16× at t = 1), not 7 %.
    guess = ": bias correction?" if f.takes_t and ex.get("t", 99) <= 3 and not 0.67 < abs(r) < 1.5 else ""
    return f"Your update x − x′ is {size}{at}{guess}"
