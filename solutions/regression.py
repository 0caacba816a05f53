"""Linear regression recap ([Recap] Minimize a Regression Model): gradients of the MSE loss."""

from __future__ import annotations

import torch

from solutions import _validate


def mse_gradients(w: float, b: float, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Gradients of the mean squared error (均方誤差) of the model ŷ = w·x + b.

    .. math::
        \mathcal{L} = \frac{1}{n} \sum_{i=1}^{n} (y_i - (w x_i + b))^2 \\
        \frac{\partial \mathcal{L}}{\partial w}
            = \frac{1}{n} \sum_{i=1}^{n} 2 (y_i - (w x_i + b)) \cdot (-x_i) \\
        \frac{\partial \mathcal{L}}{\partial b}
            = \frac{1}{n} \sum_{i=1}^{n} 2 (y_i - (w x_i + b)) \cdot (-1)

    Args:
        w: the weight w, a Python float.
        b: the bias b (偏置項), a Python float.
        x: the inputs x₁ … xₙ, a 1-D tensor (n ≥ 1), perhaps a strided slice
            of a larger batch (not contiguous: use ``reshape``, not ``view``).
        y: the ground truth y₁ … yₙ, a 1-D tensor of the same shape, dtype and device.

    Returns:
        ``(∂L/∂w, ∂L/∂b)`` as 0-d tensors of x's dtype and device (a
        ``NamedTuple`` is a tuple too).  Neither x nor y is modified, and
        torch's global state is left as it was.

    Example (one point x = 1, y = 3 with w = 1, b = 0: the residual is 2):
        >>> one = torch.tensor([1.0], dtype=torch.float64)
        >>> mse_gradients(1.0, 0.0, one, 3 * one)
        (tensor(-4., dtype=torch.float64), tensor(-4., dtype=torch.float64))
    """
    _validate.tensors("mse_gradients", x=x, y=y)
    _validate.number("mse_gradients", "w", w, low=-float("inf"))
    _validate.number("mse_gradients", "b", b, low=-float("inf"))
    if x.dim() != 1 or x.numel() == 0:
        raise ValueError(
            f"mse_gradients: x has shape {tuple(x.shape)}; expected a non-empty 1-D tensor of inputs. "
            f"Fix: flatten it with x.reshape(-1)."
        )
    residual = y - (w * x + b)
    return (2 * residual * -x).mean(), (2 * residual * -1).mean()
