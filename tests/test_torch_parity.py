"""The reference matches torch.optim, in float64, over 120 steps of a fixed non-quadratic problem.

As PyTorch's own parity tests do (``TensorTracker``), each step starts both sides
from torch's current parameter and state, so rounding cannot compound and every
step is checked tightly: the parameter and every state tensor.  Where the
lecture's convention differs from torch's, the mapping is stated and tested here.
"""

from collections.abc import Callable, Iterator

import pytest
import torch

from solutions import optimizers as ref

STEPS = 120
F64 = torch.float64
TOL = {"rtol": 1e-12, "atol": 1e-14}


def loss(x: torch.Tensor) -> torch.Tensor:
    """A smooth, non-quadratic loss of 6 parameters: tanh regression, a quartic and a sine term."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(8, 6, generator=gen, dtype=F64)
    y = torch.randn(8, generator=gen, dtype=F64) * 0.5
    return ((torch.tanh(a @ x) - y) ** 2).sum() + 0.1 * (x**4).sum() + torch.sin(x).sum()


def gradient(x: torch.Tensor) -> torch.Tensor:
    x = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(loss(x), x)
    return g


Snapshot = tuple[torch.Tensor, dict[str, torch.Tensor]]


def torch_steps(
    make: Callable[[list[torch.Tensor]], torch.optim.Optimizer],
) -> Iterator[tuple[Snapshot, Snapshot]]:
    """Yield (before, after) snapshots of (param, state) for each of STEPS torch.optim steps."""
    p = torch.linspace(-1.5, 1.2, 6, dtype=F64).requires_grad_(True)
    opt = make([p])

    def snapshot() -> Snapshot:
        state = {k: v.detach().clone() for k, v in opt.state[p].items() if isinstance(v, torch.Tensor)}
        return p.detach().clone(), state

    for _ in range(STEPS):
        before = snapshot()
        p.grad = gradient(p)
        opt.step()
        yield before, snapshot()


def test_sgd() -> None:
    for (x, _), (p, _) in torch_steps(lambda ps: torch.optim.SGD(ps, lr=0.05)):
        torch.testing.assert_close(ref.sgd_step(x, gradient(x), lr=0.05), p, **TOL)


@pytest.mark.parametrize("gamma", [0.5, 0.9])
def test_momentum_velocity_is_lr_times_torch_buffer(gamma: float) -> None:
    lr = 0.02
    for (x, before), (p, after) in torch_steps(lambda ps: torch.optim.SGD(ps, lr=lr, momentum=gamma)):
        v = lr * before.get("momentum_buffer", torch.zeros_like(x))
        new_x, new_v = ref.momentum_step(x, gradient(x), v, lr=lr, gamma=gamma)
        torch.testing.assert_close(new_x, p, **TOL)
        torch.testing.assert_close(new_v, lr * after["momentum_buffer"], **TOL)


def test_nesterov_torch_param_is_the_look_ahead_point() -> None:
    """torch's nesterov=True stores φ = x − γ·v (where the lecture takes the gradient) and buffer v/η."""
    lr, gamma = 0.02, 0.9
    for (phi, before), (p, after) in torch_steps(
        lambda ps: torch.optim.SGD(ps, lr=lr, momentum=gamma, nesterov=True)
    ):
        v = lr * before.get("momentum_buffer", torch.zeros_like(phi))
        x = phi + gamma * v
        new_x, new_v = ref.nesterov_step(x, v, gradient, lr=lr, gamma=gamma)
        torch.testing.assert_close(new_x - gamma * new_v, p, **TOL)
        torch.testing.assert_close(new_v, lr * after["momentum_buffer"], **TOL)


@pytest.mark.parametrize("delta", [1e-10, 1e-7])
def test_adagrad(delta: float) -> None:
    for (x, before), (p, after) in torch_steps(lambda ps: torch.optim.Adagrad(ps, lr=0.1, eps=delta)):
        new_x, new_r = ref.adagrad_step(x, gradient(x), before["sum"], lr=0.1, delta=delta)
        torch.testing.assert_close(new_x, p, **TOL)
        torch.testing.assert_close(new_r, after["sum"], **TOL)


def test_rmsprop_equals_torch_when_delta_is_zero() -> None:
    make = lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=0.0)  # noqa: E731
    for (x, before), (p, after) in torch_steps(make):
        r = before.get("square_avg", torch.zeros_like(x))
        new_x, new_r = ref.rmsprop_step(x, gradient(x), r, lr=0.01, decay=0.9, delta=0.0)
        torch.testing.assert_close(new_x, p, **TOL)
        torch.testing.assert_close(new_r, after["square_avg"], **TOL)


def test_rmsprop_with_delta_follows_the_lecture_not_torch() -> None:
    """δ sits inside the root (η/√(δ + r)); torch's eps sits outside, so they differ at small r."""
    lr, decay, delta = 0.01, 0.9, 1e-2
    x, r = torch.linspace(-1.5, 1.2, 6, dtype=F64), torch.zeros(6, dtype=F64)
    for _ in range(STEPS):
        g = gradient(x)
        expected_r = decay * r + (1 - decay) * g * g
        expected_x = x - lr / torch.sqrt(delta + expected_r) * g
        x, r = ref.rmsprop_step(x, g, r, lr=lr, decay=decay, delta=delta)
        torch.testing.assert_close(r, expected_r, **TOL)
        torch.testing.assert_close(x, expected_x, **TOL)
    small = torch.tensor([1e-3], dtype=F64)
    zero = torch.zeros(1, dtype=F64)
    lecture, _ = ref.rmsprop_step(zero, small, zero, lr, decay, delta)
    p = torch.zeros(1, dtype=F64, requires_grad=True)
    opt = torch.optim.RMSprop([p], lr=lr, alpha=decay, eps=delta)
    p.grad = small.clone()
    opt.step()
    assert not torch.allclose(lecture, p.detach(), rtol=1e-3)


@pytest.mark.parametrize(("betas", "eps"), [((0.9, 0.999), 1e-8), ((0.8, 0.99), 1e-6)])
def test_adam(betas: tuple[float, float], eps: float) -> None:
    make = lambda ps: torch.optim.Adam(ps, lr=0.01, betas=betas, eps=eps)  # noqa: E731
    for t, ((x, before), (p, after)) in enumerate(torch_steps(make), 1):
        zeros = torch.zeros_like(x)
        m, v = before.get("exp_avg", zeros), before.get("exp_avg_sq", zeros)
        new_x, new_m, new_v = ref.adam_step(x, gradient(x), m, v, t, 0.01, betas[0], betas[1], eps)
        assert int(after["step"]) == t
        torch.testing.assert_close(new_x, p, **TOL)
        torch.testing.assert_close(new_m, after["exp_avg"], **TOL)
        torch.testing.assert_close(new_v, after["exp_avg_sq"], **TOL)


def test_adamw() -> None:
    make = lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1)  # noqa: E731
    for t, ((x, before), (p, after)) in enumerate(torch_steps(make), 1):
        zeros = torch.zeros_like(x)
        m, v = before.get("exp_avg", zeros), before.get("exp_avg_sq", zeros)
        new_x, new_m, new_v = ref.adamw_step(x, gradient(x), m, v, t, lr=0.01, weight_decay=0.1)
        torch.testing.assert_close(new_x, p, **TOL)
        torch.testing.assert_close(new_m, after["exp_avg"], **TOL)
        torch.testing.assert_close(new_v, after["exp_avg_sq"], **TOL)
