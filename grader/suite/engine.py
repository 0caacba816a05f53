"""Run a suite of properties against one submission and judge the outcomes.

Examples are drawn once per suite (every student meets the same inputs).  For a
submission, all calls of one function, across all its properties, go to the
runner as one batch, the batches of one level of the grading order (helpers
before their callers) together, in one sandboxed worker; each property is judged
on its outcomes.  A failing property's counter-example is then shrunk to a simpler
one that still fails, so feedback shows small, readable numbers.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from grader.suite.contract import HELPERS, MODULE_OF
from grader.suite.examples import DEFAULT_SEED, examples_for
from grader.suite.model import Call, Case, Example, Failure, GradientFunction, Outcome, Property
from grader.suite.runners import Batch, Runner, run_many
from grader.suite.shrink import simpler_examples


@dataclass
class PropertyResult:
    prop: Property
    status: str  # "passed" | "failed" | "skipped"
    failure: Failure | None = None
    example: Example | None = None
    outcomes: Sequence[Outcome] = ()
    cases: int = 0
    reason: str = ""  # why it was skipped
    stdout: str = ""
    note: str = ""  # how it was graded, when that is not the obvious way


@dataclass
class Graded:
    """One submission's property results, and the outcomes of the suite's probes in ``Suite.probes`` order
    (un-judged calls, e.g. the rollouts drawn in the feedback: they earn no points and change no result)."""

    results: list[PropertyResult]
    probes: list[tuple[Call, Outcome]]


@dataclass
class Suite:
    """A set of properties with their examples drawn once, ready to grade many submissions."""

    properties: Sequence[Property]
    examples_per_property: int = 25
    seed: int = DEFAULT_SEED
    cuda: bool = False
    cuda_skip_reason: str = "no CUDA device on the grading machine"  # shown where CUDA properties are skipped
    shrink_rounds: int = 3
    # Un-judged calls, each sent last in its function's batch: no extra job, and a probe that stalls
    # or crashes the worker can only cost itself.
    probes: Sequence[Call] = ()
    # Grade a failed helper's callers with its stand-in (False for the student bundle's check, which
    # does not ship the stand-ins: they are the answers).
    stand_ins: bool = True
    # Examples drawn beforehand (property name -> drawn_for(p, examples_per_property, seed), explicit ones
    # not included), e.g. read back from grader/suite/example_cache.py; properties missing here are drawn.
    drawn: Mapping[str, Sequence[Example]] | None = None
    cases: dict[str, list[Case]] = field(init=False)

    def __post_init__(self) -> None:
        drawn = self.drawn or {}
        self.cases = {
            p.name: [p.case(ex) for ex in ([*p.explicit, *drawn[p.name]] if p.name in drawn
                                           else examples_for(p, self.examples_per_property, self.seed))]
            for p in self.properties if self.runnable(p)
        }

    def digest(self) -> str:
        """A hash of every call this suite makes (functions, argument values, bit for bit), so a resumed
        run notices when other examples would be drawn (another hypothesis version, a changed suite)."""
        h = hashlib.sha256()

        def feed(value: object) -> None:
            if isinstance(value, torch.Tensor):
                h.update(f"T{value.dtype}{tuple(value.shape)}{value.device}".encode())
                h.update(value.detach().cpu().contiguous().numpy().tobytes())
            elif isinstance(value, GradientFunction):
                h.update(b"G")
                feed(value.a)
                feed(value.c)
            else:
                h.update(repr(value).encode())

        for name in sorted(self.cases):
            h.update(name.encode())
            for case in self.cases[name]:
                for call in case.calls:
                    h.update(f"|{call.function}|{call.driver}|".encode())
                    for arg in (*call.args, *sorted(call.kwargs.items())):
                        feed(arg)
        return h.hexdigest()[:16]

    def runnable(self, prop: Property) -> bool:
        return self.cuda or not prop.needs_cuda

    def grade(self, runner: Runner, files: Mapping[str, Path]) -> list[PropertyResult]:
        """Judge every property against the submission's ``files`` (module name → path)."""
        return self.evaluate(runner, files).results

    def evaluate(self, runner: Runner, files: Mapping[str, Path]) -> Graded:
        """Judge every property against the submission's ``files``, and run the probes alongside.

        Helpers (``HELPERS``) are judged before their callers; a helper that failed is replaced by its
        stand-in while the functions that may call it run, so its bug costs marks once.
        """
        judged: dict[str, PropertyResult] = {}
        substitutes: dict[str, tuple[str, ...]] = {}
        probed: dict[int, Outcome] = {}
        for level in grading_order({p.function for p in self.properties} | {c.function for c in self.probes}):
            props = [p for p in self.properties if self.runnable(p) and p.function in level and not p.needs_cuda]
            probes = [(i, c) for i, c in enumerate(self.probes) if c.function in level]
            substitutes = self._substitutes(judged)
            outcomes = self._run({p.name: self.cases[p.name] for p in props}, runner, files, substitutes,
                                 probes, probed)
            for prop in props:
                judged[prop.name] = self._judge(prop, self.cases[prop.name], outcomes[prop.name])
        self._judge_on_cuda(runner, files, judged)
        results = []
        for prop in self.properties:
            if not self.runnable(prop):
                results.append(PropertyResult(prop, "skipped", reason=self.cuda_skip_reason))
                continue
            results.append(judged[prop.name])
        self._shrink_failures(results, runner, files, substitutes)
        return Graded(results, [(call, probed[i]) for i, call in enumerate(self.probes)])

    def _substitutes(self, judged: Mapping[str, PropertyResult]) -> dict[str, tuple[str, ...]]:
        """Per function, its helpers that failed a property so far (their stand-ins run in their place)."""
        failed = {r.prop.function for r in judged.values() if r.status == "failed"}
        return {f: tuple(h for h in hs if h in failed) for f, hs in HELPERS.items() if self.stand_ins}

    def _judge_on_cuda(self, runner: Runner, files: Mapping[str, Path], judged: dict[str, PropertyResult]) -> None:
        """The CUDA properties, after every CPU one: all of them in one batch (one CUDA start per submission,
        ``runners.run_many``), each function with the stand-ins its CPU results call for.  A helper that
        fails only on CUDA then has its callers' CUDA properties judged again with its stand-in."""
        props = [p for p in self.properties if self.runnable(p) and p.needs_cuda]
        for _ in range(2):
            if not props:
                return
            substitutes = self._substitutes(judged)
            batches = [Batch(MODULE_OF[p.function], p.function, [c for case in self.cases[p.name] for c in case.calls],
                             substitutes.get(p.function, ())) for p in props]
            got = run_many(runner, files, batches)
            before = {r.prop.function for r in judged.values() if r.status == "failed"}
            for prop, outcomes in zip(props, got, strict=True):
                per_case, it = [], iter(outcomes)
                for case in self.cases[prop.name]:
                    per_case.append([next(it) for _ in case.calls])
                judged[prop.name] = self._judge(prop, self.cases[prop.name], per_case)
            newly = {r.prop.function for r in judged.values() if r.status == "failed"} - before
            props = [p for p in props if judged[p.name].status == "failed" and newly & set(HELPERS.get(p.function, ()))]

    @staticmethod
    def _run(cases_by_prop: Mapping[str, Sequence[Case]], runner: Runner, files: Mapping[str, Path],
             substitutes: Mapping[str, tuple[str, ...]], probes: Sequence[tuple[int, Call]] = (),
             probed: dict[int, Outcome] | None = None) -> dict[str, list[list[Outcome]]]:
        """One runner batch per function, all of them run together (one worker for all, where the runner
        can: ``run_many``); outcomes regrouped per property and case.

        ``probes`` (index, call) go last in their function's batch; their outcomes land in ``probed``.
        """
        by_function: dict[str, list[tuple[str | None, int, int]]] = defaultdict(list)
        calls: dict[str, list[Call]] = defaultdict(list)
        for name, cases in cases_by_prop.items():
            for ci, case in enumerate(cases):
                for k, call in enumerate(case.calls):
                    by_function[call.function].append((name, ci, k))
                    calls[call.function].append(call)
        for i, call in probes:
            by_function[call.function].append((None, i, 0))
            calls[call.function].append(call)
        grouped: dict[str, list[list[Outcome]]] = {
            name: [[Outcome()] * len(c.calls) for c in cases] for name, cases in cases_by_prop.items()
        }
        functions = list(by_function)
        batches = [Batch(MODULE_OF[f], f, calls[f], substitutes.get(f, ())) for f in functions]
        for function, got in zip(functions, run_many(runner, files, batches), strict=True):
            for (owner, ci, k), outcome in zip(by_function[function], got, strict=True):
                if owner is None:
                    if probed is not None:
                        probed[ci] = outcome
                else:
                    grouped[owner][ci][k] = outcome
        return grouped

    @staticmethod
    def _judge(prop: Property, cases: Sequence[Case], outcomes: Sequence[Sequence[Outcome]]) -> PropertyResult:
        stdout = "".join(o.stdout for case in outcomes for o in case)
        used = sorted({n for case in outcomes for o in case for n in o.stand_ins})
        note = (f"Graded with a correct {', '.join(used)} standing in for yours wherever your code calls it "
                f"(yours failed its own tests, where that bug is charged)." if used else "")
        for case, got in zip(cases, outcomes, strict=True):
            failure = prop.judge(case, got)
            if failure is not None:
                return PropertyResult(prop, "failed", failure, case.example, got, len(cases), stdout=stdout,
                                      note=note)
        return PropertyResult(prop, "passed", cases=len(cases), stdout=stdout, note=note)

    def _shrink_failures(self, results: list[PropertyResult], runner: Runner, files: Mapping[str, Path],
                         substitutes: Mapping[str, tuple[str, ...]]) -> None:
        """Replace each counter-example by the simplest candidate that still fails, a few rounds deep.

        A candidate only counts if every call finished: shrinking must not turn a wrong value
        into, say, a timeout on a different input.
        """
        active = [r for r in results if r.status == "failed" and r.example is not None
                  and not any(o.failure for o in r.outcomes)]
        for _ in range(self.shrink_rounds):
            candidates = {r.prop.name: _cases(r.prop, [ex for ex in simpler_examples(r.example or {})
                                                       if r.prop.accepts is None or r.prop.accepts(ex)])
                          for r in active}
            candidates = {name: cases for name, cases in candidates.items() if cases}
            if not candidates:
                return
            outcomes = self._run(candidates, runner, files, substitutes)
            still_active = []
            for r in active:
                for case, got in zip(candidates.get(r.prop.name, ()), outcomes.get(r.prop.name, ()), strict=True):
                    failure = r.prop.judge(case, got)
                    if failure is not None and not any(o.failure for o in got):
                        r.failure, r.example, r.outcomes = failure, case.example, got
                        still_active.append(r)
                        break
            active = still_active


def grading_order(functions: set[str]) -> list[set[str]]:
    """``functions`` in levels, every helper (``HELPERS``) in a level before its callers'."""
    def level(f: str) -> int:
        return 1 + max((level(h) for h in HELPERS[f]), default=-1) if f in HELPERS else 0

    levels: dict[int, set[str]] = defaultdict(set)
    for f in functions:
        levels[level(f)].add(f)
    return [levels[k] for k in sorted(levels)]


def _cases(prop: Property, examples: Sequence[Example]) -> list[Case]:
    """Cases for the candidate examples that are still valid inputs (the reference accepts them)."""
    cases = []
    for ex in examples:
        try:
            cases.append(prop.case(ex))
        except ValueError:
            continue
    return cases
