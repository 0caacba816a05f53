"""Optimizers (最佳化方法): one update step of each optimizer in the lecture.

Every function is pure: it takes the parameter ``x_t`` (模型參數), its gradient
``g = ∇_x f(x_t)`` (梯度) and the optimizer's state, and returns *new* tensors of
the same shape, dtype and device.  What is graded, for every function:

* Inputs are as a training loop passes them.  Tensors are float32 or float64, on
  the CPU or on CUDA, of any shape (0-d included) and any memory layout: a
  transposed view or a strided slice is not contiguous, so use ``reshape``, not
  ``view``.  The parameter may require grad, as every model parameter does
  (``param.numpy()`` then fails: use ``param.detach()``).  Gradients may be as
  large as 10⁶ (exploding gradients: do not clip them), the accumulated squares
  r and v up to 10¹²; t goes up to 10⁶.  Hyperparameters are Python numbers,
  the learning rate η ≥ 0 (0 included).
* Results are new tensors: never an input itself or a view of its memory, even
  where nothing changes (return ``param.clone()`` then).  A plain
  ``torch.Tensor`` (a ``torch.nn.Parameter`` is accepted too); several results as
  a tuple (a ``NamedTuple`` is a tuple).
* Nothing else changes: no input is modified in place, and torch's global state
  is left as it was (default dtype, grad mode, the random generator): use
  ``with torch.no_grad():`` rather than ``torch.set_grad_enabled(False)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def sgd_step(param: torch.Tensor, grad: torch.Tensor, lr: float) -> torch.Tensor:
    r"""One step of gradient descent (梯度下降) / mini-batch SGD.

    .. math::  x' = x - \eta \nabla_x f(x)

    Args:
        param: the parameter x (any shape).
        grad: the gradient ∇ₓf(x) of the loss at x, same shape as ``param``.
        lr: the learning rate η (學習率, "eta"), how far each update moves.

    Returns:
        The updated parameter x' as a new tensor.

    Example (the lecture's f(x) = ½x², so ∇f(x) = x, with η = 0.1):
        >>> x = torch.tensor(2.0, dtype=torch.float64)
        >>> sgd_step(x, x, lr=0.1)
        tensor(1.8000, dtype=torch.float64)
    """
    # TODO: implement sgd_step (see the formula in the docstring above).
    raise NotImplementedError("TODO: implement sgd_step")


def momentum_step(
    param: torch.Tensor, grad: torch.Tensor, velocity: torch.Tensor, lr: float, gamma: float = 0.9
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""One step of SGD with Momentum (動量).

    Momentum remembers past gradients (將過去的梯度記錄下來): same direction, a
    bigger move; changing direction, a smaller one.

    .. math::
        v_t = \gamma v_{t-1} + \eta \nabla_x f(x_t) \\
        x_{t+1} = x_t - v_t

    Args:
        param: the parameter x_t.
        grad: the gradient ∇ₓf(x_t), same shape as ``param``.
        velocity: the previous velocity v_{t−1} (zeros before the first step).
        lr: the learning rate η.
        gamma: the momentum term γ (超參數, usually 0.9).

    Returns:
        ``(x_{t+1}, v_t)``: the new parameter and the new velocity.

    Note:
        ``torch.optim.SGD(momentum=γ)`` stores ``v_t / η`` instead (its
        ``momentum_buffer``); with a constant η both give the same parameters.

    Example (γ = 0.9, η = 0.1, v_{t−1} = −4, g = −3.5, like the lecture's point P1):
        >>> x, g, v = (torch.tensor(a, dtype=torch.float64) for a in (0.0, -3.5, -4.0))
        >>> momentum_step(x, g, v, lr=0.1)
        (tensor(3.9500, dtype=torch.float64), tensor(-3.9500, dtype=torch.float64))
    """
    # TODO: implement momentum_step (see the formula in the docstring above).
    raise NotImplementedError("TODO: implement momentum_step")


def nesterov_step(
    param: torch.Tensor,
    velocity: torch.Tensor,
    grad_fn: Callable[[torch.Tensor], torch.Tensor],
    lr: float,
    gamma: float = 0.9,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""One step of Nesterov Momentum: Momentum with a look-ahead gradient.

    The gradient is taken where momentum is about to carry the parameter
    (先沿著動量走一步，再計算梯度), not at x_t itself:

    .. math::
        g = \nabla_x f(x_t - \gamma v_{t-1}) \\
        v_t = \gamma v_{t-1} + \eta g \\
        x_{t+1} = x_t - v_t

    Args:
        param: the parameter x_t.
        velocity: the previous velocity v_{t−1} (zeros before the first step).
        grad_fn: returns the gradient ∇ₓf at a given point.  Use its value at
            the look-ahead point x_t − γ·v_{t−1} (one call there is all it
            takes; further calls are allowed but wasted).
        lr: the learning rate η.
        gamma: the momentum term γ (usually 0.9).

    Returns:
        ``(x_{t+1}, v_t)``: the new parameter and the new velocity.

    Note:
        ``torch.optim.SGD(momentum=γ, nesterov=True)`` evaluates the gradient at
        its own parameter, which is this function's look-ahead point x_t − γ·v_{t−1}.

    Example (f(x) = ½x², so grad_fn(x) = x; γ = 0.9, η = 0.1):
        >>> x, v = torch.tensor(1.0, dtype=torch.float64), torch.tensor(0.5, dtype=torch.float64)
        >>> nesterov_step(x, v, lambda p: p, lr=0.1)
        (tensor(0.4950, dtype=torch.float64), tensor(0.5050, dtype=torch.float64))
    """
    # TODO: implement nesterov_step (see the formula in the docstring above).
    raise NotImplementedError("TODO: implement nesterov_step")


def adagrad_step(
    param: torch.Tensor, grad: torch.Tensor, r: torch.Tensor, lr: float, delta: float = 1e-7
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""One step of Adagrad (Adaptive Gradient): each element gets its own learning rate.

    r accumulates the squared gradients (歷史梯度平方和), so large past gradients
    shrink the step (梯度大的學習率自動調小一點):

    .. math::
        r_t = r_{t-1} + g \odot g \\
        x_{t+1} = x_t - \frac{\eta}{\delta + \sqrt{r_t}} \odot g

    Args:
        param: the parameter x_t.
        grad: the gradient g = ∇ₓf(x_t), same shape as ``param``.
        r: the accumulated squared gradients r_{t−1} (zeros before the first step).
        lr: the learning rate η.
        delta: δ, a small number that keeps the denominator from being 0
            (outside the square root, as in ``torch.optim.Adagrad``'s ``eps``).

    Returns:
        ``(x_{t+1}, r_t)``: the new parameter and the new accumulator.

    Example (g = 3 from r = 0: the step is η·3/(δ + 3) ≈ η):
        >>> x, g, r = (torch.tensor(a, dtype=torch.float64) for a in (1.0, 3.0, 0.0))
        >>> adagrad_step(x, g, r, lr=0.1)
        (tensor(0.9000, dtype=torch.float64), tensor(9., dtype=torch.float64))
    """
    # TODO: implement adagrad_step (see the formula in the docstring above).
    raise NotImplementedError("TODO: implement adagrad_step")


def rmsprop_step(
    param: torch.Tensor,
    grad: torch.Tensor,
    r: torch.Tensor,
    lr: float,
    decay: float = 0.9,
    delta: float = 1e-6,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""One step of RMSProp (Root Mean Square Propagation).

    Like Adagrad, but r is a running (moving) average (移動平均) of g⊙g, so the
    learning rate does not keep shrinking:

    .. math::
        r_t = p\, r_{t-1} + (1 - p)\, g \odot g \\
        x_{t+1} = x_t - \frac{\eta}{\sqrt{\delta + r_t}} \odot g

    Args:
        param: the parameter x_t.
        grad: the gradient g = ∇ₓf(x_t), same shape as ``param``.
        r: the running average r_{t−1} (zeros before the first step).
        lr: the learning rate η.
        decay: the decay rate p (usually 0.9).
        delta: δ, inside the square root as in the lecture.  Note that
            ``torch.optim.RMSprop`` puts its ``eps`` *outside* the root
            (η/(√r_t + eps)); the two agree only when δ = eps = 0.

    Returns:
        ``(x_{t+1}, r_t)``: the new parameter and the new running average.

    Example (first step from r = 0 moves about η/√(1 − p) ≈ 3.16·η):
        >>> x, g, r = (torch.tensor(a, dtype=torch.float64) for a in (1.0, 2.0, 0.0))
        >>> rmsprop_step(x, g, r, lr=0.01, delta=0.0)
        (tensor(0.9684, dtype=torch.float64), tensor(0.4000, dtype=torch.float64))
    """
    # TODO: implement rmsprop_step (see the formula in the docstring above).
    raise NotImplementedError("TODO: implement rmsprop_step")


def adam_step(
    param: torch.Tensor,
    grad: torch.Tensor,
    m: torch.Tensor,
    v: torch.Tensor,
    t: int,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""One step of Adam (adaptive moment estimation), Kingma & Ba, Algorithm 1.

    m records the gradients (m 記錄梯度, like Momentum), v the squared gradients
    (v 記錄梯度平方, like RMSProp); both start at 0 and are bias-corrected
    (校正) because early on they are too small (訓練初期的問題):

    .. math::
        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        \hat{m}_t = m_t / (1 - \beta_1^t) \\
        \hat{v}_t = v_t / (1 - \beta_2^t) \\
        \theta_t = \theta_{t-1} - \alpha \cdot \hat{m}_t / (\sqrt{\hat{v}_t} + \epsilon)

    Args:
        param: the parameter θ_{t−1}.
        grad: the gradient g_t, same shape as ``param``.
        m: the first moment m_{t−1} (zeros before the first step).
        v: the second raw moment v_{t−1} (zeros before the first step).
        t: the number of this step, 1 for the first (t ← t + 1 happens *before*
            the update in Algorithm 1), up to 10⁶ in a long run.  β^t is a
            power, β·β·…·β (t times): compute it as one (``beta1 ** t``).
        lr: the step size α (learning rate).
        beta1: β₁, decay rate of m.
        beta2: β₂, decay rate of v.
        eps: ε, added after the square root of the corrected v̂_t.

    Returns:
        ``(θ_t, m_t, v_t)``; m_t and v_t are returned *uncorrected*, they are
        the state for the next step.

    Example (the lecture: β₁ = 0.9, g = 0.5 at t = 1 gives m₁ = 0.05, m̂₁ = 0.5):
        >>> zero = torch.tensor(0.0, dtype=torch.float64)
        >>> theta, m, v = adam_step(zero, torch.tensor(0.5, dtype=torch.float64), zero, zero, t=1)
        >>> m, m / bias_correction(0.9, 1)
        (tensor(0.0500, dtype=torch.float64), tensor(0.5000, dtype=torch.float64))
    """
    # TODO: implement adam_step (see the formula in the docstring above).
    raise NotImplementedError("TODO: implement adam_step")


def adamw_step(
    param: torch.Tensor,
    grad: torch.Tensor,
    m: torch.Tensor,
    v: torch.Tensor,
    t: int,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""One step of AdamW: Adam with decoupled weight decay (Loshchilov & Hutter), as torch.optim.AdamW.

    The weight decay λ shrinks the parameter directly instead of being added
    to the gradient, so it never enters m or v:

    .. math::
        \theta \leftarrow \theta_{t-1} (1 - \alpha \lambda) \\
        \theta_t = \theta - \alpha \cdot \hat{m}_t / (\sqrt{\hat{v}_t} + \epsilon)
        \quad\text{(then the Adam step, with } m_t, v_t, \hat{m}_t, \hat{v}_t \text{ as in adam\_step)}

    Args:
        param: the parameter θ_{t−1}.
        grad: the gradient g_t, same shape as ``param`` (of the loss alone).
        m: the first moment m_{t−1}.
        v: the second raw moment v_{t−1}.
        t: the number of this step, 1 for the first.
        lr: the step size α.
        beta1: β₁.
        beta2: β₂.
        eps: ε.
        weight_decay: λ, multiplied by the learning rate as in PyTorch.

    Returns:
        ``(θ_t, m_t, v_t)``, m_t and v_t uncorrected.

    Example (zero gradient from zero state: only the decay acts):
        >>> x, zero = torch.tensor(1.0, dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64)
        >>> adamw_step(x, zero, zero, zero, t=1, lr=0.1, weight_decay=0.5)[0]
        tensor(0.9500, dtype=torch.float64)
    """
    # TODO: implement adamw_step (see the formula in the docstring above).
    raise NotImplementedError("TODO: implement adamw_step")


def bias_correction(beta: float, t: int) -> float:
    r"""The bias-correction term (校正項) 1 − βᵗ of Adam.

    .. math::  1 - \beta^t

    βᵗ is β to the power t (β·β·…·β, t times), *not* the product
    β¹ × β² × … × βᵗ.  It approaches 1 as t grows, so late in training almost
    no correction is needed (越來越不需要校正).

    Args:
        beta: the decay rate β (β₁ or β₂), in [0, 1).
        t: the step number, an int ≥ 1, up to 10⁶ in a long run (so compute
            the power directly: a recursion t deep exceeds Python's limit).

    Returns:
        1 − βᵗ as a Python float.

    Example (the lecture's table for β₁ = 0.9):
        >>> [round(bias_correction(0.9, t), 6) for t in (1, 2, 3, 10, 100)]
        [0.1, 0.19, 0.271, 0.651322, 0.999973]
    """
    # TODO: implement bias_correction (see the formula in the docstring above).
    raise NotImplementedError("TODO: implement bias_correction")
