"""Hypothesis strategies for the exercise contract, all in one place, named as nouns.

Gradient magnitudes are drawn log-uniformly from 1e-8 to 1e6 because the
placement of δ/ε only shows at small gradients and a clamp only at large ones;
time steps always include t = 1, 2, 3 because an off-by-one in t only shows there.
Tensors arrive as real training code passes them: sometimes non-contiguous (a
transposed view, a strided slice), and the parameter sometimes requires grad.

Settings profiles for the property tests run with pytest: ``student`` (fast, a quick local run:
``HYPOTHESIS_PROFILE=student``), ``instructor`` (thorough, the default and CI's).  Both are derandomized
and keep no example database, so the same code always meets the same examples.  Grading and
``optigrade check`` draw their examples apart from these, with the suite's own count and seed
(``grader/suite/examples.py``: the same for both, so a public property passed locally is passed when
graded).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

settings.register_profile(
    "student", max_examples=15, derandomize=True, database=None, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "instructor", max_examples=60, derandomize=True, database=None, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

DTYPES = (torch.float64, torch.float32)

shapes: st.SearchStrategy[tuple[int, ...]] = st.one_of(
    st.just(()),
    st.tuples(st.integers(1, 6)),
    st.tuples(st.integers(1, 4), st.integers(1, 4)),
    st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
)
"""Tensor shapes, 0-d included (torch's own optimizer tests use a 0-d parameter)."""

MAX_GRADIENT = 1e6
magnitudes = st.floats(-8.0, 6.0).map(lambda e: 10.0**e)
"""Positive numbers log-uniform in [1e-8, 1e6] (MAX_GRADIENT: exploding gradients included)."""

signed_magnitudes = st.tuples(st.sampled_from([-1.0, 1.0]), magnitudes).map(lambda p: p[0] * p[1])

gradient_values = st.one_of(signed_magnitudes, st.just(0.0))
parameter_values = st.floats(-10.0, 10.0, allow_nan=False, allow_subnormal=False)
positive_values = st.floats(-8.0, 12.0).map(lambda e: 10.0**e)
"""Accumulators r and second moments v are non-negative, up to the square of MAX_GRADIENT."""

LAYOUTS = ("contiguous", "transposed", "strided")
layouts = st.sampled_from(LAYOUTS)
"""How an example's tensors are laid out in memory (values unchanged): see :func:`laid_out`."""

learning_rates = st.floats(-4.0, 0.0).map(lambda e: 10.0**e)
momentum_terms = st.one_of(st.sampled_from([0.0, 0.5, 0.9]), st.floats(0.0, 0.99))
decay_rates = st.one_of(st.sampled_from([0.9, 0.99]), st.floats(0.5, 0.999))
betas1 = st.one_of(st.just(0.9), st.floats(0.0, 0.99))
betas2 = st.one_of(st.just(0.999), st.floats(0.9, 0.9999))
deltas = st.sampled_from([1e-8, 1e-7, 1e-6, 1e-10])
weight_decays = st.one_of(st.just(1e-2), st.floats(0.0, 0.5))
timesteps = st.one_of(st.sampled_from([1, 2, 3]), st.integers(1, 10_000))
"""Step numbers t ≥ 1; small t is drawn often since bias-correction bugs live there."""
MAX_T = 10**6
large_timesteps = st.floats(3.0, 6.0).map(lambda e: int(10.0**e))
"""t from 10³ to 10⁶ (MAX_T, a long training run), log-uniform."""

MAX_EXAMPLES = 10**12
dataset_sizes = st.one_of(st.sampled_from([0, 1, 3200, 5_000_000]), st.integers(0, 100_000))
batch_sizes = st.one_of(st.sampled_from([1, 8, 32, 1000]), st.integers(1, 5_000), st.integers(1, 10**9))
epoch_counts = st.one_of(st.just(0), st.integers(0, 50))
"""Epoch counts; 0 drawn often (``max(epochs, 1)`` and off-by-one loops show there)."""
huge_batches = st.tuples(st.integers(10**6, 10**9), st.integers(0, 1000), st.integers(0, 3)).map(
    lambda p: {"num_examples": p[0] * p[1] + p[2], "batch_size": p[0]})
"""Batches of up to 10⁹ examples, n a whole number of them plus 0 to 3: where n/b is within 10⁻⁶ of a
whole number, so a ceiling written as int(n / b + 0.999999) shows."""


def tensors(values: st.SearchStrategy[float], shape: Sequence[int],
            dtype: torch.dtype = torch.float64) -> st.SearchStrategy[torch.Tensor]:
    """Tensors of ``shape`` and ``dtype`` whose elements are drawn from ``values``."""
    size = math.prod(shape)
    return st.lists(values, min_size=size, max_size=size).map(
        lambda xs: torch.tensor(xs, dtype=dtype).reshape(tuple(shape))
    )


def laid_out(t: torch.Tensor, layout: str) -> torch.Tensor:
    """``t``'s values in another memory layout: ``transposed`` (the dimensions' order reversed, as ``x.T``
    of a contiguous tensor) or ``strided`` (every other element of a twice-as-large buffer, as ``x[::2]``).
    ``x.view(-1)`` fails on the first, ``x.numpy()`` works on both; shapes that cannot be non-contiguous
    (0-d, one element) stay as they are."""
    if layout == "contiguous" or t.numel() <= 1:
        return t
    if layout == "transposed" and sum(d > 1 for d in t.shape) >= 2:
        order = list(reversed(range(t.dim())))
        return t.permute(order).contiguous().permute(order)
    strides = [2 * d for d in torch.empty(t.shape).stride()]
    return torch.empty_strided(t.shape, strides, dtype=t.dtype, device=t.device).copy_(t)
