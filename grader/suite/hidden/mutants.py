"""A catalogue of plausible student bugs, each a complete (wrong) implementation.

Two uses: feedback recognises a bug when the student's answer equals a mutant's
("your result is what Adam gives without bias correction"), and the test suite
proves every mutant loses marks on the function it breaks.  Each mutant is
self-contained (torch only) so a test can paste its source into a submission.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

Tensor = torch.Tensor


@dataclass(frozen=True)
class Mutant:
    function: str
    hint: str  # what the student probably did, and what the lecture says instead
    fn: Callable[..., object]
    answers: bool = True  # False: right answers, the bug is a side effect (never run to recognise an answer)

    def source(self, name: str | None = None) -> str:
        """The mutant's source as a def of ``name`` (default: the function it breaks), to paste into a file."""
        return inspect.getsource(self.fn).replace(self.fn.__name__, name or self.function)


# --- sgd_step --------------------------------------------------------------------------------------
def sgd_step__ascent(param, grad, lr):
    return param + lr * grad


def sgd_step__no_lr(param, grad, lr):
    return param - grad


def sgd_step__trailing_comma(param, grad, lr):
    return param - lr * grad,  # a 1-tuple, not a tensor


# --- momentum_step ---------------------------------------------------------------------------------
def momentum_step__torch_buffer(param, grad, velocity, lr, gamma=0.9):
    v = gamma * velocity + grad
    return param - lr * v, v


def momentum_step__dampened(param, grad, velocity, lr, gamma=0.9):
    v = gamma * velocity + (1 - gamma) * lr * grad
    return param - v, v


def momentum_step__plus(param, grad, velocity, lr, gamma=0.9):
    v = gamma * velocity + lr * grad
    return param + v, v


def momentum_step__old_velocity(param, grad, velocity, lr, gamma=0.9):
    v = gamma * velocity + lr * grad
    return param - velocity, v


def momentum_step__other_sign(param, grad, velocity, lr, gamma=0.9):
    v = gamma * velocity - lr * grad  # the v ← γv − ηg, x ← x + v convention of many notes
    return param + v, v


# --- nesterov_step ---------------------------------------------------------------------------------
def nesterov_step__no_look_ahead(param, velocity, grad_fn, lr, gamma=0.9):
    v = gamma * velocity + lr * grad_fn(param)
    return param - v, v


def nesterov_step__look_ahead_plus(param, velocity, grad_fn, lr, gamma=0.9):
    v = gamma * velocity + lr * grad_fn(param + gamma * velocity)
    return param - v, v


def nesterov_step__torch_form(param, velocity, grad_fn, lr, gamma=0.9):
    g = grad_fn(param)  # torch.optim.SGD(nesterov=True): gradient at x_t, step by γv_t + ηg
    v = gamma * velocity + lr * g
    return param - (gamma * v + lr * g), v


def nesterov_step__look_ahead_with_lr(param, velocity, grad_fn, lr, gamma=0.9):
    v = gamma * velocity + lr * grad_fn(param - lr * gamma * velocity)
    return param - v, v


# --- adagrad_step ----------------------------------------------------------------------------------
def adagrad_step__delta_inside(param, grad, r, lr, delta=1e-7):
    r = r + grad * grad
    return param - lr / torch.sqrt(delta + r) * grad, r


def adagrad_step__no_accumulation(param, grad, r, lr, delta=1e-7):
    r = grad * grad
    return param - lr / (delta + torch.sqrt(r)) * grad, r


def adagrad_step__old_r(param, grad, r, lr, delta=1e-7):
    new_r = r + grad * grad
    return param - lr / (delta + torch.sqrt(r)) * grad, new_r


def adagrad_step__no_sqrt(param, grad, r, lr, delta=1e-7):
    r = r + grad * grad
    return param - lr / (delta + r) * grad, r


def adagrad_step__no_delta(param, grad, r, lr, delta=1e-7):
    r = r + grad * grad
    return param - lr / torch.sqrt(r) * grad, r


# --- rmsprop_step ----------------------------------------------------------------------------------
def rmsprop_step__delta_outside(param, grad, r, lr, decay=0.9, delta=1e-6):
    r = decay * r + (1 - decay) * grad * grad
    return param - lr / (torch.sqrt(r) + delta) * grad, r


def rmsprop_step__no_one_minus_p(param, grad, r, lr, decay=0.9, delta=1e-6):
    r = decay * r + grad * grad
    return param - lr / torch.sqrt(delta + r) * grad, r


def rmsprop_step__swapped_decay(param, grad, r, lr, decay=0.9, delta=1e-6):
    r = (1 - decay) * r + decay * grad * grad
    return param - lr / torch.sqrt(delta + r) * grad, r


def rmsprop_step__no_sqrt(param, grad, r, lr, decay=0.9, delta=1e-6):
    r = decay * r + (1 - decay) * grad * grad
    return param - lr / (delta + r) * grad, r


def rmsprop_step__old_r(param, grad, r, lr, decay=0.9, delta=1e-6):
    new_r = decay * r + (1 - decay) * grad * grad
    return param - lr / torch.sqrt(delta + r) * grad, new_r


# --- adam_step -------------------------------------------------------------------------------------
def _adam(param, grad, m, v, t, lr, beta1, beta2, eps, *, bc1=True, bc2=True, t_shift=0, eps_inside=False,
          product=False, return_hat=False, no_square=False):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * (grad if no_square else grad * grad)
    tt = t + t_shift
    power = (lambda b: b ** (tt * (tt + 1) / 2)) if product else (lambda b: b**tt)
    m_hat = m / (1 - power(beta1)) if bc1 else m
    v_hat = v / (1 - power(beta2)) if bc2 else v
    denom = torch.sqrt(v_hat + eps) if eps_inside else torch.sqrt(v_hat) + eps
    new = param - lr * m_hat / denom
    return (new, m_hat, v_hat) if return_hat else (new, m, v)


def adam_step__no_bias_correction(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    return _adam(param, grad, m, v, t, lr, beta1, beta2, eps, bc1=False, bc2=False)


def adam_step__only_m_corrected(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    return _adam(param, grad, m, v, t, lr, beta1, beta2, eps, bc2=False)


def adam_step__only_v_corrected(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    return _adam(param, grad, m, v, t, lr, beta1, beta2, eps, bc1=False)


def adam_step__t_minus_one(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    return _adam(param, grad, m, v, t, lr, beta1, beta2, eps, t_shift=-1)


def adam_step__t_plus_one(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    return _adam(param, grad, m, v, t, lr, beta1, beta2, eps, t_shift=1)


def adam_step__eps_inside(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    return _adam(param, grad, m, v, t, lr, beta1, beta2, eps, eps_inside=True)


def adam_step__slide_product(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    return _adam(param, grad, m, v, t, lr, beta1, beta2, eps, product=True)


def adam_step__returns_corrected(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    return _adam(param, grad, m, v, t, lr, beta1, beta2, eps, return_hat=True)


def adam_step__no_square(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    return _adam(param, grad, m, v, t, lr, beta1, beta2, eps, no_square=True)


def adam_step__eps_outside_fraction(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    return param - (lr * (m / (1 - beta1**t)) / torch.sqrt(v / (1 - beta2**t)) + eps), m, v


def adam_step__efficient_raw_eps(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    alpha_t = lr * math.sqrt(1 - beta2**t) / (1 - beta1**t)  # Algorithm 1's note, but without ε̂
    return param - alpha_t * m / (torch.sqrt(v) + eps), m, v


def adam_step__m_weighted_by_beta2(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta2) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    return param - lr * (m / (1 - beta1**t)) / (torch.sqrt(v / (1 - beta2**t)) + eps), m, v


def adam_step__gradient_not_m(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    return param - lr * grad / (torch.sqrt(v / (1 - beta2**t)) + eps), m, v


# --- adamw_step ------------------------------------------------------------------------------------
def _adam_ref(param, grad, m, v, t, lr, beta1, beta2, eps):
    return _adam(param, grad, m, v, t, lr, beta1, beta2, eps)


def adamw_step__l2_in_gradient(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                               weight_decay=1e-2):
    return _adam_ref(param, grad + weight_decay * param, m, v, t, lr, beta1, beta2, eps)


def adamw_step__decay_without_lr(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                                 weight_decay=1e-2):
    return _adam_ref(param * (1 - weight_decay), grad, m, v, t, lr, beta1, beta2, eps)


def adamw_step__no_decay(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    return _adam_ref(param, grad, m, v, t, lr, beta1, beta2, eps)


def adamw_step__decay_after_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                                 weight_decay=1e-2):
    new, m, v = _adam_ref(param, grad, m, v, t, lr, beta1, beta2, eps)
    return new * (1 - lr * weight_decay), m, v


def adam_step__stops_correcting_late(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    if t > 10_000:  # "the correction has faded by now"
        return param - lr * m / (v.sqrt() + eps), m, v
    return param - lr * (m / (1 - beta1 ** t)) / ((v / (1 - beta2 ** t)).sqrt() + eps), m, v


def adamw_step__stops_correcting_late(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                                     weight_decay=1e-2):
    param = param * (1 - lr * weight_decay)  # AdamW's own copy of the Adam step, with adam's late-t shortcut
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    if t > 10_000:  # "the correction has faded by now"
        return param - lr * m / (v.sqrt() + eps), m, v
    return param - lr * (m / (1 - beta1 ** t)) / ((v / (1 - beta2 ** t)).sqrt() + eps), m, v


def adam_step__swapped_betas(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    return _adam(param, grad, m, v, t, lr, beta2, beta1, eps)


def momentum_step__swapped_outputs(param, grad, velocity, lr, gamma=0.9):
    v = gamma * velocity + lr * grad
    return v, param - v


def rmsprop_step__returns_old_r(param, grad, r, lr, decay=0.9, delta=1e-6):
    new_r = decay * r + (1 - decay) * grad * grad
    return param - lr * grad / torch.sqrt(delta + new_r), r


# --- bias_correction, epochs, regression -----------------------------------------------------------
def bias_correction__linear(beta, t):
    return 1 - beta * t


def total_steps__epochs_merged(num_examples, batch_size, epochs, drop_last=False):
    if drop_last:
        return num_examples * epochs // batch_size
    return math.ceil(num_examples * epochs / batch_size)


def batch_bounds__one_based(step, num_examples, batch_size):
    return (step - 1) * batch_size, min(step * batch_size, num_examples)


def bias_correction__power_only(beta, t):
    return beta**t


def bias_correction__slide_product(beta, t):
    return 1 - beta ** (t * (t + 1) / 2)


def bias_correction__t_minus_one(beta, t):
    return 1 - beta ** (t - 1)


def bias_correction__recursive(beta, t):
    # 1 − βᵗ = 1 − β(1 − (1 − βᵗ⁻¹)): right for small t, RecursionError after ~1000 steps
    return 1 - beta if t <= 1 else 1 - beta * (1 - bias_correction__recursive(beta, t - 1))


def steps_per_epoch__floor_always(num_examples, batch_size, drop_last=False):
    return num_examples // batch_size


def steps_per_epoch__ceil_always(num_examples, batch_size, drop_last=False):
    return math.ceil(num_examples / batch_size)


def steps_per_epoch__plus_one(num_examples, batch_size, drop_last=False):
    return num_examples // batch_size + (0 if drop_last else 1)


def steps_per_epoch__drop_last_as_ceil_minus_one(num_examples, batch_size, drop_last=False):
    full = -(-num_examples // batch_size)
    return full - 1 if drop_last else full


def total_steps__at_least_one_epoch(num_examples, batch_size, epochs, drop_last=False):
    return max(epochs, 1) * (num_examples // batch_size if drop_last else -(-num_examples // batch_size))


def total_steps__at_least_one_step_per_epoch(num_examples, batch_size, epochs, drop_last=False):
    per_epoch = num_examples // batch_size if drop_last else -(-num_examples // batch_size)
    return epochs * max(per_epoch, 1)  # "every epoch makes at least one update"


def steps_per_epoch__at_least_one(num_examples, batch_size, drop_last=False):
    return max(1, num_examples // batch_size if drop_last else math.ceil(num_examples / batch_size))


def steps_per_epoch__drop_last_by_default(num_examples, batch_size, drop_last=True):
    return num_examples // batch_size if drop_last else math.ceil(num_examples / batch_size)


def total_steps__drop_last_by_default(num_examples, batch_size, epochs, drop_last=True):
    return epochs * (num_examples // batch_size if drop_last else math.ceil(num_examples / batch_size))


def total_steps__returns_float(num_examples, batch_size, epochs, drop_last=False):
    return float(epochs * (num_examples // batch_size if drop_last else math.ceil(num_examples / batch_size)))


def steps_per_epoch__rounded(num_examples, batch_size, drop_last=False):
    return num_examples // batch_size if drop_last else round(num_examples / batch_size)


def total_steps__precedence(num_examples, batch_size, epochs, drop_last=False):
    return epochs * num_examples // batch_size


def total_steps__ignores_drop_last(num_examples, batch_size, epochs, drop_last=False):
    return epochs * math.ceil(num_examples / batch_size)


def batch_bounds__not_clipped(step, num_examples, batch_size):
    return step * batch_size, step * batch_size + batch_size


def batch_bounds__inclusive_end(step, num_examples, batch_size):
    return step * batch_size, min(step * batch_size + batch_size, num_examples) - 1


def batch_bounds__clipped_at_n_minus_one(step, num_examples, batch_size):
    return step * batch_size, min(step * batch_size + batch_size, num_examples - 1)


def mse_gradients__no_two(w, b, x, y):
    residual = y - (w * x + b)
    return (residual * -x).mean(), (-residual).mean()


def mse_gradients__sum_not_mean(w, b, x, y):
    residual = y - (w * x + b)
    return (2 * residual * -x).sum(), (-2 * residual).sum()


def mse_gradients__sign(w, b, x, y):
    residual = y - (w * x + b)
    return (2 * residual * x).mean(), (2 * residual).mean()


def mse_gradients__returns_floats(w, b, x, y):
    residual = y - (w * x + b)
    return float((-2 * residual * x).mean()), float((-2 * residual).mean())


def mse_gradients__swapped(w, b, x, y):
    residual = y - (w * x + b)
    return (-2 * residual).mean(), (-2 * residual * x).mean()


def mse_gradients__n_minus_one(w, b, x, y):
    residual = y - (w * x + b)
    n = max(x.numel() - 1, 1)
    return (-2 * residual * x).sum() / n, (-2 * residual).sum() / n


def mse_gradients__product_of_means(w, b, x, y):
    residual = y - (w * x + b)
    return -2 * residual.mean() * x.mean(), -2 * residual.mean()


def mse_gradients__float32_weights(w, b, x, y):
    w, b = torch.tensor(w), torch.tensor(b)  # float32 unless dtype= is given: w and b are rounded
    residual = y - (w * x + b)
    return (2 * residual * -x).mean(), (2 * residual * -1).mean()


# --- what real training code meets: layouts, parameters that require grad, large values ----------------
def sgd_step__view_flatten(param, grad, lr):
    flat = param.view(-1) - lr * grad.view(-1)  # view needs contiguous memory: a transposed param fails
    return flat.view(param.shape)


def sgd_step__numpy_without_detach(param, grad, lr):
    import numpy as np
    return torch.from_numpy(np.asarray(param.numpy() - lr * grad.numpy()))  # fails when param requires grad


def sgd_step__clipped_gradient(param, grad, lr):
    return param - lr * grad.clamp(-1e3, 1e3)


def steps_per_epoch__almost_ceiling(num_examples, batch_size, drop_last=False):
    return int(num_examples / batch_size) if drop_last else int(num_examples / batch_size + 0.999999)


# --- side effects: an input returned or modified, torch's global state left changed -------------------
def adagrad_step__returns_inputs_when_no_gradient(param, grad, r, lr, delta=1e-7):
    if not bool(grad.any()):
        return param, r  # the right values, but the caller's own tensors
    r = r + grad * grad
    return param - lr / (delta + torch.sqrt(r)) * grad, r


def sgd_step__returns_input_when_lr_zero(param, grad, lr):
    return param if lr == 0 else param - lr * grad


def mse_gradients__residual_in_y(w, b, x, y):
    residual = y.sub_(w * x + b)  # y is now the residual: the caller's labels are gone
    return (2 * residual * -x).mean(), (2 * residual * -1).mean()


def rmsprop_step__sets_default_dtype(param, grad, r, lr, decay=0.9, delta=1e-6):
    torch.set_default_dtype(param.dtype)
    r = decay * r + (1 - decay) * grad * grad
    return param - lr / torch.sqrt(delta + r) * grad, r


def momentum_step__grad_mode_left_off(param, grad, velocity, lr, gamma=0.9):
    torch.set_grad_enabled(False)
    v = gamma * velocity + lr * grad
    return param - v, v


def nesterov_step__reseeds(param, velocity, grad_fn, lr, gamma=0.9):
    torch.manual_seed(42)  # "for reproducibility": the training script's random stream restarts every step
    v = gamma * velocity + lr * grad_fn(param - gamma * velocity)
    return param - v, v


HINTS = {
    "sgd_step__ascent": "The update adds η·g: gradient *descent* subtracts it, x' = x − η∇f(x).",
    "sgd_step__no_lr": "The learning rate η is missing: x' = x − η∇f(x).",
    "momentum_step__torch_buffer": "Your velocity is v/η: that is torch.optim.SGD's momentum_buffer. The lecture's "
                                   "v_t = γv_{t−1} + η∇f(x_t) includes η.",
    "momentum_step__dampened": "There is a (1 − γ) factor on the gradient; the lecture's momentum has none.",
    "momentum_step__plus": "x_{t+1} = x_t − v_t: the velocity is subtracted.",
    "momentum_step__old_velocity": "The parameter moves by the old v_{t−1}; it should move by the new v_t.",
    "nesterov_step__no_look_ahead": "The gradient was taken at x_t; Nesterov takes it at the look-ahead point "
                                    "x_t − γ·v_{t−1}.",
    "nesterov_step__look_ahead_plus": "The look-ahead point is x_t − γ·v_{t−1} (minus, the way momentum moves x).",
    "adagrad_step__delta_inside": "δ went inside the square root; Adagrad has η/(δ + √r_t).",
    "adagrad_step__no_accumulation": "r_t must accumulate: r_t = r_{t−1} + g⊙g.",
    "adagrad_step__old_r": "Use the new r_t (including this step's g⊙g) in the update.",
    "adagrad_step__no_sqrt": "The denominator is δ + √r_t (a square root).",
    "rmsprop_step__delta_outside": "δ went outside the root (torch's eps placement); the lecture has "
                                   "η/√(δ + r_t).",
    "rmsprop_step__no_one_minus_p": "The new g⊙g is weighted by (1 − p): r_t = p·r_{t−1} + (1 − p)·g⊙g.",
    "rmsprop_step__swapped_decay": "p weights the old r_{t−1} and (1 − p) the new g⊙g, not the other way round.",
    "adam_step__no_bias_correction": "No bias correction: m̂_t = m_t/(1 − β₁ᵗ) and v̂_t = v_t/(1 − β₂ᵗ).",
    "adam_step__only_m_corrected": "Only m was bias-corrected; v̂_t = v_t/(1 − β₂ᵗ) too.",
    "adam_step__only_v_corrected": "Only v was bias-corrected; m̂_t = m_t/(1 − β₁ᵗ) too.",
    "adam_step__t_minus_one": "Bias correction used t − 1: the first step is t = 1, so 1 − β₁¹ = 0.1.",
    "adam_step__t_plus_one": "Bias correction used t + 1: t is already this step's number (t ← t + 1 came first).",
    "adam_step__eps_inside": "ε went inside the root: Algorithm 1 has √v̂_t + ε.",
    "adam_step__slide_product": "βᵗ is a power (β·β·…·β), not the slide's product β¹×β²×…×βᵗ.",
    "adam_step__returns_corrected": "The returned state is m̂, v̂; return the uncorrected m_t, v_t (the state).",
    "adam_step__no_square": "v is the moving average of g², the squared gradient.",
    "adamw_step__l2_in_gradient": "Weight decay was added to the gradient (L2, Adam's coupled form); AdamW decays "
                                  "the parameter directly: θ ← θ(1 − αλ).",
    "adamw_step__decay_without_lr": "The decay is multiplied by the learning rate: θ ← θ(1 − αλ), as in PyTorch.",
    "adamw_step__no_decay": "Weight decay is missing: θ ← θ(1 − αλ) before the Adam step.",
    "adamw_step__decay_after_step": "The decay comes first: θ ← θ(1 − αλ), then the Adam step on the decayed θ "
                                    "(as torch.optim.AdamW).",
    "adam_step__stops_correcting_late": "1 − β₂ᵗ is still far from 1 at large t when β₂ is close to 1 (β₂ = 0.9999: "
                                        "0.86 at t = 20,000): apply the bias correction at every t.",
    "adamw_step__stops_correcting_late": "1 − β₂ᵗ is still far from 1 at large t when β₂ is close to 1 (β₂ = "
                                         "0.9999: 0.86 at t = 20,000): AdamW's Adam step corrects at every t too.",
    "adam_step__swapped_betas": "β₁ belongs to m (the gradient's average) and β₂ to v (the squared gradient's).",
    "momentum_step__swapped_outputs": "Return (param, velocity): the new parameter first.",
    "rmsprop_step__returns_old_r": "Return the new accumulator r_t, the state the next step needs.",
    "bias_correction__linear": "βᵗ is a power, not β·t: 1 − 0.9² = 0.19, not 1 − 1.8.",
    "total_steps__epochs_merged": "Each epoch has its own short last batch: epochs × ⌈n/b⌉ (or ⌊n/b⌋ with "
                                  "drop_last), not ⌈epochs·n/b⌉.",
    "batch_bounds__one_based": "step counts from 0: the first batch is [0, b).",
    "bias_correction__power_only": "That is βᵗ; the correction term is 1 − βᵗ.",
    "bias_correction__slide_product": "βᵗ is a power, not the product β¹×β²×…×βᵗ.",
    "steps_per_epoch__floor_always": "Without drop_last the short last batch is still a step: ⌈n/b⌉.",
    "steps_per_epoch__ceil_always": "With drop_last the short last batch is dropped: ⌊n/b⌋.",
    "steps_per_epoch__plus_one": "When b divides n there is no extra short batch: use ⌈n/b⌉, not ⌊n/b⌋ + 1.",
    "total_steps__ignores_drop_last": "drop_last changes the steps in every epoch.",
    "batch_bounds__not_clipped": "The last batch ends at n: end = min(start + b, n).",
    "batch_bounds__inclusive_end": "end is exclusive, as in train_x[start:end].",
    "mse_gradients__no_two": "The derivative of (·)² brings a factor 2.",
    "mse_gradients__sum_not_mean": "L is a mean (1/n Σ), so its gradient is a mean too.",
    "mse_gradients__sign": "∂/∂w of (y − (wx + b))² is 2(y − (wx + b))·(−x): mind the minus sign.",
    "momentum_step__other_sign": "Your velocity has the opposite sign (v ← γv − ηg, x ← x + v). The contract "
                                 "returns the lecture's v_t = γv_{t−1} + η∇f(x_t), with x_{t+1} = x_t − v_t.",
    "nesterov_step__torch_form": "That is torch.optim.SGD(nesterov=True)'s rewritten form (gradient at x_t). The "
                                 "lecture takes g at the look-ahead point x_t − γ·v_{t−1} and moves by v_t.",
    "nesterov_step__look_ahead_with_lr": "The look-ahead point is x_t − γ·v_{t−1}: v already holds η, so no "
                                         "extra η.",
    "adagrad_step__no_delta": "δ is missing: η/(δ + √r_t) keeps the denominator from being 0.",
    "rmsprop_step__no_sqrt": "The denominator is √(δ + r_t) (a square root): η/√(δ + r_t).",
    "rmsprop_step__old_r": "Use the new r_t (including this step's g⊙g) in the update.",
    "adam_step__eps_outside_fraction": "ε belongs in the denominator: α·m̂_t/(√v̂_t + ε), not α·m̂_t/√v̂_t + ε.",
    "adam_step__efficient_raw_eps": "α_t = α√(1 − β₂ᵗ)/(1 − β₁ᵗ) with √v_t + ε is not the lecture's update: it "
                                    "needs ε̂ = ε√(1 − β₂ᵗ). Use m̂_t/(√v̂_t + ε).",
    "adam_step__m_weighted_by_beta2": "m_t = β₁m_{t−1} + (1 − β₁)g_t: both weights of m use β₁.",
    "adam_step__gradient_not_m": "The update uses m̂_t (the moving average of g), not this step's g_t.",
    "bias_correction__t_minus_one": "Use this step's t: the first step is t = 1, so 1 − 0.9¹ = 0.1.",
    "bias_correction__recursive": "Training runs for 10⁶ steps: a recursion t deep exceeds Python's limit. "
                                  "Compute the power directly: 1 − beta ** t.",
    "sgd_step__trailing_comma": "A trailing comma after the return value makes a 1-tuple; return the tensor.",
    "steps_per_epoch__drop_last_by_default": "drop_last defaults to False, as in DataLoader: by default the "
                                             "short last batch is a step.",
    "total_steps__drop_last_by_default": "drop_last defaults to False, as in DataLoader.",
    "total_steps__returns_float": "A number of steps is an int: keep to whole-number arithmetic (//, int).",
    "mse_gradients__returns_floats": "Return the gradients as 0-d tensors (e.g. the .mean() of a tensor), not floats.",
    "steps_per_epoch__drop_last_as_ceil_minus_one": "With drop_last the count is ⌊n/b⌋, which is ⌈n/b⌉ − 1 only when "
                                                    "b does not divide n (3,200 / 32 is 100 steps either way).",
    "total_steps__at_least_one_epoch": "0 epochs is 0 steps: total = epochs × steps per epoch, with no minimum.",
    "total_steps__at_least_one_step_per_epoch": "An epoch can have 0 steps (n = 0, or n < b with drop_last): then "
                                                "every epoch adds 0, total = epochs × ⌊n/b⌋.",
    "steps_per_epoch__at_least_one": "An epoch can have 0 steps: n = 0, or n < b with drop_last (⌊n/b⌋).",
    "steps_per_epoch__rounded": "round(n/b) rounds to the nearest; the count is ⌈n/b⌉ (⌊n/b⌋ with drop_last).",
    "total_steps__precedence": "epochs * n // b is (epochs·n)//b; count one epoch's steps first: epochs × ⌈n/b⌉.",
    "batch_bounds__clipped_at_n_minus_one": "end is exclusive: the last batch ends at n, end = min(start + b, n).",
    "mse_gradients__swapped": "Return (∂L/∂w, ∂L/∂b), in that order.",
    "mse_gradients__n_minus_one": "L is the mean over all n points: divide by n, not n − 1.",
    "mse_gradients__product_of_means": "A mean of products is not the product of means: "
                                       "∂L/∂w = (1/n) Σ 2(yᵢ − ŷᵢ)(−xᵢ).",
    "mse_gradients__float32_weights": "torch.tensor(w) is float32: pass dtype=x.dtype (or use w as the Python "
                                      "float it is), so a float64 computation stays float64.",
    "sgd_step__view_flatten": "view needs contiguous memory; a transposed or sliced parameter is not: use "
                              "reshape (or no reshaping at all: the formula works elementwise).",
    "sgd_step__numpy_without_detach": "param.numpy() fails when param requires grad (as every model parameter "
                                      "does): use param.detach().numpy(), or stay in torch.",
    "sgd_step__clipped_gradient": "The gradient was clipped at 10³: the lecture's step uses it as it is.",
    "steps_per_epoch__almost_ceiling": "int(n / b + 0.999999) is not ⌈n/b⌉ when n/b is within 10⁻⁶ of a whole "
                                       "number (large batches): use -(-n // b) or (n + b - 1) // b.",
    "adagrad_step__returns_inputs_when_no_gradient": "Return new tensors even when nothing changes (param.clone()).",
    "sgd_step__returns_input_when_lr_zero": "Return a new tensor even when η = 0 (param.clone()).",
    "mse_gradients__residual_in_y": "y.sub_(...) overwrites the caller's labels: compute y - (w * x + b).",
    "rmsprop_step__sets_default_dtype": "torch.set_default_dtype changes the whole program's default: leave it.",
    "momentum_step__grad_mode_left_off": "torch.set_grad_enabled(False) turns autograd off for the rest of the "
                                         "program: use `with torch.no_grad():`.",
    "nesterov_step__reseeds": "torch.manual_seed restarts the program's random stream at every step: leave it.",
}

SIDE_EFFECTS = {"adagrad_step__returns_inputs_when_no_gradient", "sgd_step__returns_input_when_lr_zero",
                "mse_gradients__residual_in_y", "rmsprop_step__sets_default_dtype",
                "momentum_step__grad_mode_left_off", "nesterov_step__reseeds"}
"""Mutants whose answers are right: their bug is what else they do (an input returned or changed, torch's
global state changed), so they are caught by the properties about that and never run by the grader."""

MUTANTS: dict[str, list[Mutant]] = {}
for _name, _fn in list(globals().items()):
    if "__" in _name and callable(_fn) and not _name.startswith("_"):
        _function = _name.split("__")[0]
        MUTANTS.setdefault(_function, []).append(Mutant(_function, HINTS[_name], _fn, _name not in SIDE_EFFECTS))
