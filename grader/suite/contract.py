"""The exercise contract as data: each function's module, arguments, state and outputs.

Public (student-visible) and hidden properties both build calls from this
table, so the argument order lives in one place.  It holds no reference code.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from hypothesis import strategies as st

from grader.suite import strategies as s
from grader.suite.model import Example, GradientFunction


@dataclass(frozen=True)
class Hyper:
    name: str
    default: float
    values: st.SearchStrategy[float]


@dataclass(frozen=True)
class StepFunction:
    """An optimizer step: tensors (and t) in, the new parameter and state out."""

    name: str
    tensors: tuple[str, ...]  # positional tensor arguments; "grad_fn" marks nesterov's gradient function
    outputs: tuple[str, ...]  # returned tensors, the parameter first
    hypers: tuple[Hyper, ...]
    formula: str
    takes_t: bool = False
    module: str = "optimizers"

    @property
    def passed_with_defaults(self) -> int:
        """How many hyperparameters a "defaults" call still passes: lr has no default in the SGD family."""
        return 0 if self.takes_t else 1

    def with_defaults(self, ex: Example) -> Example:
        """``ex`` with the hyperparameters a "defaults" call leaves out set to the contract's defaults, so
        the example shows (and hints use) the values that call really runs with."""
        return {**ex, **{h.name: h.default for h in self.hypers[self.passed_with_defaults:]}}

    @property
    def state(self) -> tuple[str, ...]:
        return self.outputs[1:]

    def args(self, ex: Example, *, defaults: bool = False) -> tuple[object, ...]:
        """Positional arguments for this example (hyperparameters left out when ``defaults``): its tensors
        laid out as ``ex["layout"]`` says, the parameter requiring grad where ``ex["requires_grad"]``."""
        args: list[object] = []
        for name in self.tensors:
            args.append(GradientFunction(ex["a"], ex["c"]) if name == "grad_fn" else as_passed(ex, name))
        if self.takes_t:
            args.append(ex["t"])
        # lr has no default in the SGD family, so a "defaults" call still passes it.
        keep = len(self.hypers) if not defaults else self.passed_with_defaults
        args += [ex[h.name] for h in self.hypers[:keep]]
        return tuple(args)


def as_passed(ex: Example, name: str) -> torch.Tensor:
    """The tensor ``ex[name]`` as a call passes it: in the example's memory layout, and for the parameter,
    a leaf that requires grad where the example says so (every parameter of a real model does)."""
    t = s.laid_out(ex[name], ex.get("layout", "contiguous"))
    if name == "param" and ex.get("requires_grad", False):
        t = t.detach().requires_grad_(True)
    return t


LR = Hyper("lr", 1e-3, s.learning_rates)

STEP_FUNCTIONS: dict[str, StepFunction] = {
    f.name: f
    for f in [
        StepFunction("sgd_step", ("param", "grad"), ("param",), (LR,), "x' = x − η∇f(x)"),
        StepFunction(
            "momentum_step", ("param", "grad", "velocity"), ("param", "velocity"),
            (LR, Hyper("gamma", 0.9, s.momentum_terms)),
            "v_t = γ·v_{t−1} + η·∇f(x_t);  x_{t+1} = x_t − v_t",
        ),
        StepFunction(
            "nesterov_step", ("param", "velocity", "grad_fn"), ("param", "velocity"),
            (LR, Hyper("gamma", 0.9, s.momentum_terms)),
            "g = ∇f(x_t − γ·v_{t−1});  v_t = γ·v_{t−1} + η·g;  x_{t+1} = x_t − v_t",
        ),
        StepFunction(
            "adagrad_step", ("param", "grad", "r"), ("param", "r"),
            (LR, Hyper("delta", 1e-7, s.deltas)),
            "r_t = r_{t−1} + g⊙g;  x_{t+1} = x_t − η/(δ + √r_t) ⊙ g",
        ),
        StepFunction(
            "rmsprop_step", ("param", "grad", "r"), ("param", "r"),
            (LR, Hyper("decay", 0.9, s.decay_rates), Hyper("delta", 1e-6, s.deltas)),
            "r_t = p·r_{t−1} + (1 − p)·g⊙g;  x_{t+1} = x_t − η/√(δ + r_t) ⊙ g",
        ),
        StepFunction(
            "adam_step", ("param", "grad", "m", "v"), ("param", "m", "v"),
            (LR, Hyper("beta1", 0.9, s.betas1), Hyper("beta2", 0.999, s.betas2), Hyper("eps", 1e-8, s.deltas)),
            "m_t = β₁m_{t−1} + (1−β₁)g_t;  v_t = β₂v_{t−1} + (1−β₂)g_t²;  m̂_t = m_t/(1−β₁ᵗ);  "
            "v̂_t = v_t/(1−β₂ᵗ);  θ_t = θ_{t−1} − α·m̂_t/(√v̂_t + ε)",
            takes_t=True,
        ),
        StepFunction(
            "adamw_step", ("param", "grad", "m", "v"), ("param", "m", "v"),
            (LR, Hyper("beta1", 0.9, s.betas1), Hyper("beta2", 0.999, s.betas2), Hyper("eps", 1e-8, s.deltas),
             Hyper("weight_decay", 1e-2, s.weight_decays)),
            "θ ← θ_{t−1}·(1 − αλ), then the Adam step (m_t, v_t, m̂_t, v̂_t as in adam_step)",
            takes_t=True,
        ),
    ]
}

MODULE_OF: dict[str, str] = {
    **{name: f.module for name, f in STEP_FUNCTIONS.items()},
    "bias_correction": "optimizers",
    "steps_per_epoch": "epochs",
    "total_steps": "epochs",
    "batch_bounds": "epochs",
    "mse_gradients": "regression",
}
"""Every contract function and the file (module) that holds it."""

FUNCTIONS: tuple[str, ...] = tuple(MODULE_OF)

HELPERS: dict[str, tuple[str, ...]] = {
    "momentum_step": ("sgd_step",),
    "nesterov_step": ("sgd_step", "momentum_step"),  # Nesterov = Momentum with the look-ahead gradient
    "adagrad_step": ("sgd_step",),
    "rmsprop_step": ("sgd_step",),
    "adam_step": ("sgd_step", "bias_correction"),
    "adamw_step": ("sgd_step", "bias_correction", "adam_step"),  # AdamW = decay, then an Adam step
    "total_steps": ("steps_per_epoch",),
    "batch_bounds": ("steps_per_epoch",),
}
"""Contract functions a student's function may call.  When a helper fails any of its own properties,
the callers are graded with the lecture's formula standing in for it (grader/sandbox/substitutes.py),
so its bug is charged once, to the helper.  Helpers are graded before their callers (a helper may have
helpers of its own: momentum_step calls sgd_step)."""

TENSOR_VALUES: dict[str, st.SearchStrategy[float]] = {
    "param": s.parameter_values,
    "grad": s.gradient_values,
    "velocity": s.signed_magnitudes,
    "m": s.signed_magnitudes,
    "r": s.positive_values,
    "v": s.positive_values,
}


@st.composite
def step_examples(draw: st.DrawFn, f: StepFunction, *, dtype: torch.dtype = torch.float64,
                  zero_state: bool | None = None, timesteps: st.SearchStrategy[int] = s.timesteps,
                  shapes: st.SearchStrategy[tuple[int, ...]] = s.shapes) -> Example:
    """Inputs for one call of ``f``: tensors of one shape and dtype, t, and hyperparameters."""
    shape = draw(shapes)
    zero = draw(st.booleans()) if zero_state is None else zero_state
    ex: Example = {"dtype": dtype, "layout": draw(s.layouts), "requires_grad": draw(st.booleans())}
    for name in f.tensors:
        if name == "grad_fn":
            ex["a"] = draw(s.tensors(s.magnitudes.filter(lambda m: 1e-3 <= m <= 1e2), shape, dtype))
            ex["c"] = draw(s.tensors(s.parameter_values, shape, dtype))
        elif name in f.state and zero:
            ex[name] = torch.zeros(shape, dtype=dtype)
        else:
            ex[name] = draw(s.tensors(TENSOR_VALUES[name], shape, dtype))
    if f.takes_t:
        ex["t"] = draw(timesteps)
        if not reachable(ex):  # moments that are not zero come from earlier steps: t ≥ 2
            ex["t"] = 2
    for h in f.hypers:
        ex[h.name] = draw(h.values)
    return ex


def reachable(ex: Example) -> bool:
    """Whether a real run can call with these inputs: Adam's moments start at zero (m₀ = v₀ = 0, "zeros
    before the first step"), so at t = 1 they are zero.  Drawn and shrunk examples stay reachable, so a
    solution that relies on it (resetting m and v at t = 1) loses nothing."""
    if ex.get("t") != 1:
        return True
    return not any(isinstance(ex.get(k), torch.Tensor) and bool(ex[k].any()) for k in ("m", "v"))
