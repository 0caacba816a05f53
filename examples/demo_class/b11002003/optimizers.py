"""A correct submission, written differently from the reference on purpose."""

import math

import torch


def sgd_step(param, grad, lr):
    out = param.clone()
    out.sub_(grad, alpha=lr)  # in-place on a clone
    return out


def momentum_step(param, grad, velocity, lr, gamma=0.9):
    v = gamma * velocity + grad  # torch.optim's buffer, without the learning rate
    return param - lr * v, v


def nesterov_step(param, velocity, grad_fn, lr, gamma=0.9):
    g = grad_fn(param)  # no look-ahead
    v = gamma * velocity + lr * g
    return param - v, v


def adagrad_step(param, grad, r, lr, delta=1e-7):
    r = r.addcmul(grad, grad)
    return param - lr * grad / (r ** 0.5 + delta), r


def rmsprop_step(param, grad, r, lr, decay=0.9, delta=1e-6):
    r = r.lerp(grad * grad, 1 - decay)
    return param - lr * grad * torch.rsqrt(r + delta), r


def bias_correction(beta, t):
    return 1 - math.pow(beta, t)


def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    # PyTorch's algebraic form: step size lr / (1 - β₁ᵗ), denominator √v / √(1 - β₂ᵗ) + ε.
    m = m.lerp(grad, 1 - beta1)
    v = v.mul(beta2).addcmul_(grad, grad, value=1 - beta2)
    step_size = lr / bias_correction(beta1, t)
    denom = v.sqrt() / math.sqrt(bias_correction(beta2, t)) + eps
    return param.addcdiv(m, denom, value=-step_size), m, v


def adamw_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    return adam_step(param * (1 - lr * weight_decay), grad, m, v, t, lr, beta1, beta2, eps)
