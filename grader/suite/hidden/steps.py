"""Differential properties of the optimizer steps: the student's answers against the reference.

Inputs are drawn by hypothesis: several shapes including 0-d, gradients
log-uniform from 1e-8 to 1e3, zero and non-zero state, float64 (tight) and
float32 (PyTorch-like tolerances), resynced multi-step trajectories, the
defaults of the contract, and CUDA where there is a GPU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from hypothesis import strategies as st

from grader.suite import strategies as s
from grader.suite.compare import first_mismatch, unpack
from grader.suite.contract import STEP_FUNCTIONS, StepFunction, step_examples
from grader.suite.hidden import hints, reference
from grader.suite.model import Call, Case, Example, Failure, GradientFunction, Outcome, Property

TRAJECTORY_STEPS = 6
TRAJECTORY_EXAMPLES = 8  # 6 calls each; the 2-D bowl starts vary little, and single steps are tested widely


def judge_against(f: StepFunction, case: Case, outcome: Outcome, expected: Sequence[torch.Tensor],
                  *, device: str | None = None) -> Failure | None:
    got = unpack(outcome, f.outputs)
    if isinstance(got, Failure):
        return got
    for name, g, e in zip(f.outputs, got, expected, strict=True):
        if tuple(g.tensor.shape) != tuple(e.shape):
            return Failure(f"{name} has shape {tuple(g.tensor.shape)}, expected {tuple(e.shape)}")
        if device is not None and not g.device.startswith(device):
            return Failure(f"{name} came back on {g.device}; the inputs were on {device}, "
                           f"so the result must stay there")
        mismatch = first_mismatch(g.tensor, e, case.example["dtype"])
        if mismatch is not None:
            return Failure(mismatch.describe(name), expected=e, got=g.tensor,
                           hint=hints.recognise(f, case.example, [x.tensor for x in got]))
    return None


def differential(f: StepFunction, title: str, examples: st.SearchStrategy[Example], *,
                 defaults: bool = False, cuda: bool = False,
                 accepts: Callable[[Example], bool] | None = None) -> Property:
    def case(ex: Example) -> Case:
        calls = [Call(f.name, f.args(ex, defaults=defaults))]
        if cuda:
            calls = [Call(c.function, tuple(_to_cuda(a) for a in c.args)) for c in calls]
        return Case(ex, tuple(calls), {"expected": reference.step(f, ex, defaults=defaults)})

    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        return judge_against(f, case, outcomes[0], case.data["expected"], device="cuda" if cuda else None)

    return Property(f.name, title, public=False, examples=examples, case=case, judge=judge,
                    formula=f.formula, needs_cuda=cuda, accepts=accepts)


def has_state(f: StepFunction) -> Callable[[Example], bool]:
    """A counter-example of a "non-zero state" property keeps some non-zero state when it is shrunk."""
    return lambda ex: any(bool(ex[k].any()) for k in f.state if k in ex)


def _to_cuda(value: object) -> object:
    if isinstance(value, torch.Tensor):
        return value.to("cuda")
    if isinstance(value, GradientFunction):
        return GradientFunction(value.a.to("cuda"), value.c.to("cuda"))
    return value


@st.composite
def bowl_starts(draw: st.DrawFn, f: StepFunction) -> Example:
    """The lecture's elongated bowl f(x) = ½ Σ aᵢ(xᵢ − cᵢ)², from a drawn start, zero state."""
    ex = draw(step_examples(f, zero_state=True, shapes=st.just((2,)), timesteps=st.just(1)))
    ex["a"] = torch.tensor([1.0, draw(st.sampled_from([4.0, 10.0, 25.0]))], dtype=torch.float64)
    ex["c"] = torch.zeros(2, dtype=torch.float64)
    ex["lr"] = draw(st.sampled_from([0.01, 0.03]))
    return ex


def trajectory(f: StepFunction) -> Property:
    """Several steps along the reference trajectory, each started from the reference state (resynced)."""

    def states(ex: Example) -> list[Example]:
        steps, current = [], dict(ex)
        for t in range(1, TRAJECTORY_STEPS + 1):
            current = {**current, "t": t}
            if "grad" in f.tensors:
                current["grad"] = GradientFunction(current["a"], current["c"])(current["param"])
            steps.append(current)
            out = reference.step(f, current)
            current = {**current, **dict(zip(f.outputs, out, strict=True))}
        return steps

    def case(ex: Example) -> Case:
        steps = states(ex)
        return Case(ex, tuple(Call(f.name, f.args(e)) for e in steps),
                    {"steps": steps, "expected": [reference.step(f, e) for e in steps]})

    def judge(case: Case, outcomes: Sequence[Outcome]) -> Failure | None:
        for k, (e, outcome, expected) in enumerate(zip(case.data["steps"], outcomes, case.data["expected"],
                                                       strict=True), 1):
            failure = judge_against(f, Case(e, ()), outcome, expected)
            if failure is not None:
                # The call's own arguments (a and c only define the gradient, already in grad, if any).
                shown = {n: v for n, v in e.items() if "grad" not in f.tensors or n not in ("a", "c")}
                return Failure(f"at step {k} of the trajectory: {failure.message}", failure.expected,
                               failure.got, failure.hint, inputs=shown)
        return None

    return Property(f.name, f"multi-step trajectory on the elongated bowl ({TRAJECTORY_STEPS} steps)",
                    public=False, examples=bowl_starts(f), case=case, judge=judge, formula=f.formula,
                    max_examples=TRAJECTORY_EXAMPLES)


def any_dtype(f: StepFunction) -> st.SearchStrategy[Example]:
    return st.sampled_from(s.DTYPES).flatmap(lambda dtype: step_examples(f, dtype=dtype))


def properties() -> list[Property]:
    props: list[Property] = []
    for f in STEP_FUNCTIONS.values():
        small_t = st.sampled_from([1, 2, 3])
        props += [
            differential(f, "matches the reference from zero state (float64)",
                         step_examples(f, zero_state=True, timesteps=small_t)),
            differential(f, "matches the reference from non-zero state (float64)"
                         if f.state else "matches the reference (float64)",
                         step_examples(f, zero_state=False), accepts=has_state(f) if f.state else None),
            differential(f, "matches the reference in float32",
                         step_examples(f, dtype=torch.float32, timesteps=small_t | s.timesteps)),
            differential(f, "uses the contract's default hyperparameters", step_examples(f).map(f.with_defaults),
                         defaults=True),
            trajectory(f),
            differential(f, "CUDA float32 and float64 parity with the CPU reference", any_dtype(f), cuda=True),
        ]
    return props
