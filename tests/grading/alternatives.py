"""Correct solutions written differently from solutions/: each must keep every mark.

One entry per way of writing it: in-place ops on clones, torch's fused ops (addcdiv, lerp, addcmul),
** 0.5 / rsqrt / pow, PyTorch's algebraic form of Adam, Algorithm 1's "efficient" ordering with ε̂,
autograd, numpy round trips, loops instead of powers, float division where sizes are realistic.
Each source is a def of the contract function, pasted into the correct demo student.
"""

ALTERNATIVES: dict[str, tuple[str, str]] = {
    "adagrad_div_form": ("adagrad_step", '''
def adagrad_step(param, grad, r, lr, delta=1e-7):
    r_new = r + grad ** 2
    return param - lr * grad / (r_new.sqrt() + delta), r_new
'''),
    "adagrad_pow_half": ("adagrad_step", '''
def adagrad_step(param, grad, r, lr, delta=1e-7):
    r_new = r + grad.pow(2)
    step = lr * grad / (delta + r_new ** 0.5)
    return param - step, r_new
'''),
    "adagrad_addcmul_addcdiv": ("adagrad_step", '''
def adagrad_step(param, grad, r, lr, delta=1e-7):
    new_r = torch.addcmul(r, grad, grad)
    return torch.addcdiv(param, grad, new_r.sqrt().add(delta), value=-lr), new_r
'''),
    "adam_efficient_eps_hat": ("adam_step", '''
def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    alpha_t = lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    eps_hat = eps * math.sqrt(1 - beta2 ** t)
    return param - alpha_t * m / (v.sqrt() + eps_hat), m, v
'''),
    "adam_loop_power": ("adam_step", '''
def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    b1t = 1.0
    b2t = 1.0
    for _ in range(t):
        b1t *= beta1
        b2t *= beta2
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    return param - lr * (m / (1 - b1t)) / ((v / (1 - b2t)).sqrt() + eps), m, v
'''),
    "adam_own_bc_pow": ("adam_step", '''
def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m_new = m * beta1 + grad * (1 - beta1)
    v_new = v * beta2 + torch.square(grad) * (1 - beta2)
    mh = m_new / (1 - math.pow(beta1, t))
    vh = v_new / (1 - math.pow(beta2, t))
    return param - lr * mh / (torch.sqrt(vh) + eps), m_new, v_new
'''),
    "adam_inplace_on_clones": ("adam_step", '''
def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = m.clone(); v = v.clone()
    m.mul_(beta1).add_((1 - beta1) * grad)
    v.mul_(beta2).add_((1 - beta2) * grad ** 2)
    m_hat = m / (1 - torch.tensor(beta1, dtype=torch.float64) ** t).item()
    v_hat = v / (1 - beta2 ** t)
    return param - lr * m_hat / (v_hat ** 0.5 + eps), m, v
'''),
    "adam_tensor_beta_f64": ("adam_step", '''
def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    b1 = torch.tensor(beta1, dtype=torch.float64); b2 = torch.tensor(beta2, dtype=torch.float64)
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad * grad
    m_hat = m / (1 - b1 ** t)
    v_hat = v / (1 - b2 ** t)
    out = param - lr * m_hat / (v_hat.sqrt() + eps)
    return out.to(param.dtype), m.to(param.dtype), v.to(param.dtype)
'''),
    "adam_torch_form": ("adam_step", '''
def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = m.mul(beta1).add(grad, alpha=1 - beta1)
    v = v.mul(beta2).addcmul(grad, grad.conj(), value=1 - beta2)
    bc1 = 1 - beta1 ** t
    bc2 = 1 - beta2 ** t
    step_size = lr / bc1
    denom = (v.sqrt() / math.sqrt(bc2)).add(eps)
    return param.addcdiv(m, denom, value=-step_size), m, v
'''),
    "adamw_calls_adam": ("adamw_step", '''
def adamw_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    return adam_step(param - lr * weight_decay * param, grad, m, v, t, lr=lr, beta1=beta1, beta2=beta2, eps=eps)
'''),
    "adamw_lerp_addcdiv": ("adamw_step", '''
def adamw_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    param = param - lr * weight_decay * param
    m = torch.lerp(grad, m, beta1)
    v = beta2 * v + (1 - beta2) * grad * grad
    denom = (v / (1 - beta2 ** t)).sqrt() + eps
    return torch.addcdiv(param, m / (1 - beta1 ** t), denom, value=-lr), m, v
'''),
    "adamw_torch_style": ("adamw_step", '''
def adamw_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    p = param.clone()
    p.mul_(1 - lr * weight_decay)
    m = m.clone().lerp_(grad, 1 - beta1)
    v = v.clone().mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    bc1 = 1 - beta1 ** t
    bc2 = 1 - beta2 ** t
    denom = (v.sqrt() / math.sqrt(bc2)).add_(eps)
    p.addcdiv_(m, denom, value=-lr / bc1)
    return p, m, v
'''),
    "batch_bounds_as_list": ("batch_bounds", '''
def batch_bounds(step, num_examples, batch_size):
    start = step * batch_size
    return [start, min(start + batch_size, num_examples)]
'''),
    "batch_bounds_tuple_numpy": ("batch_bounds", '''
def batch_bounds(step, num_examples, batch_size):
    start = step * batch_size
    end = start + batch_size
    if end > num_examples:
        end = num_examples
    return (start, end)
'''),
    "bias_correction_int_beta_ok": ("bias_correction", '''
def bias_correction(beta, t):
    return float(1 - beta ** t)
'''),
    "bias_correction_loop": ("bias_correction", '''
def bias_correction(beta, t):
    p = 1.0
    for _ in range(t):
        p *= beta
    return 1 - p
'''),
    "bias_correction_math_pow": ("bias_correction", '''
def bias_correction(beta, t):
    return 1.0 - math.pow(beta, t)
'''),
    "bias_correction_numpy": ("bias_correction", '''
def bias_correction(beta, t):
    import numpy as np
    return 1 - np.power(beta, t)  # a numpy.float64, which is a Python float
'''),
    "momentum_buffer_times_lr": ("momentum_step", '''
def momentum_step(param, grad, velocity, lr, gamma=0.9):
    # torch's buffer b = v/lr, converted back
    if lr == 0:
        v = gamma * velocity
        return param - v, v
    buf = velocity / lr
    buf = gamma * buf + grad
    v = lr * buf
    return param - v, v
'''),
    "momentum_neg_form": ("momentum_step", '''
def momentum_step(param, grad, velocity, lr, gamma=0.9):
    new_v = velocity.mul(gamma).add(grad, alpha=lr)
    new_p = param.clone()
    new_p -= new_v
    return new_p, new_v
'''),
    "momentum_lerp": ("momentum_step", '''
def momentum_step(param, grad, velocity, lr, gamma=0.9):
    v = torch.lerp(lr / (1 - gamma) * grad, velocity, gamma) if gamma != 1 else velocity + lr * grad
    return param.sub(v), v
'''),
    "mse_autograd": ("mse_gradients", '''
def mse_gradients(w, b, x, y):
    wt = torch.tensor(w, dtype=x.dtype, device=x.device, requires_grad=True)
    bt = torch.tensor(b, dtype=x.dtype, device=x.device, requires_grad=True)
    loss = ((y - (wt * x + bt)) ** 2).mean()
    gw, gb = torch.autograd.grad(loss, (wt, bt))
    return gw, gb
'''),
    "mse_expanded": ("mse_gradients", '''
def mse_gradients(w, b, x, y):
    n = x.shape[0]
    pred = w * x + b
    dw = (-2.0 / n) * torch.sum(x * (y - pred))
    db = (-2.0 / n) * torch.sum(y - pred)
    return dw, db
'''),
    "mse_minus_two_x": ("mse_gradients", '''
def mse_gradients(w, b, x, y):
    residual = y - (w * x + b)
    return torch.mean(-2 * x * residual), torch.mean(-2 * residual)
'''),
    "mse_pred_minus_y": ("mse_gradients", '''
def mse_gradients(w, b, x, y):
    err = (w * x + b) - y
    return 2 * (err * x).mean(), 2 * err.mean()
'''),
    "nesterov_clone_inplace": ("nesterov_step", '''
def nesterov_step(param, velocity, grad_fn, lr, gamma=0.9):
    look = param.clone()
    look.sub_(gamma * velocity)
    g = grad_fn(look)
    v = velocity.clone().mul_(gamma).add_(g * lr)
    return param.sub(v), v
'''),
    "nesterov_float_gamma_np": ("nesterov_step", '''
def nesterov_step(param, velocity, grad_fn, lr, gamma=0.9):
    import numpy as np
    gamma = np.float64(gamma); lr = np.float64(lr)
    g = grad_fn(param - float(gamma) * velocity)
    v = float(gamma) * velocity + float(lr) * g
    return param - v, v
'''),
    "nesterov_extra_gradient_call": ("nesterov_step", '''
def nesterov_step(param, velocity, grad_fn, lr, gamma=0.9):
    _ = grad_fn(param)  # a wasted look at x_t: not wrong, the look-ahead gradient is what is used
    ahead = param - gamma * velocity
    velocity = gamma * velocity + lr * grad_fn(ahead)
    return param - velocity, velocity
'''),
    "rmsprop_addcmul": ("rmsprop_step", '''
def rmsprop_step(param, grad, r, lr, decay=0.9, delta=1e-6):
    r = r.mul(decay).addcmul(grad, grad, value=1 - decay)
    return param.addcdiv(grad, (r + delta).sqrt(), value=-lr), r
'''),
    "rmsprop_lerp": ("rmsprop_step", '''
def rmsprop_step(param, grad, r, lr, decay=0.9, delta=1e-6):
    r = torch.lerp(grad * grad, r, decay)
    return param - lr * grad / (r + delta).sqrt(), r
'''),
    "rmsprop_rsqrt": ("rmsprop_step", '''
def rmsprop_step(param, grad, r, lr, decay=0.9, delta=1e-6):
    r = r * decay + grad.square() * (1 - decay)
    return param - lr * grad * torch.rsqrt(r + delta), r
'''),
    "sgd_clone_sub_": ("sgd_step", '''
def sgd_step(param, grad, lr):
    out = param.clone()
    out.sub_(lr * grad)
    return out
'''),
    "sgd_lr_tensor": ("sgd_step", '''
def sgd_step(param, grad, lr):
    return param - torch.tensor(lr, dtype=param.dtype) * grad
'''),
    "sgd_no_grad_detach": ("sgd_step", '''
def sgd_step(param, grad, lr):
    with torch.no_grad():
        return param - grad * lr
'''),
    "sgd_numpy_roundtrip": ("sgd_step", '''
def sgd_step(param, grad, lr):
    import numpy as np
    p = param.detach().numpy()  # a parameter that requires grad has no .numpy() of its own
    out = np.asarray(p - lr * grad.numpy(), dtype=p.dtype)
    return torch.from_numpy(out.copy()).reshape(param.shape)
'''),
    "sgd_add_alpha": ("sgd_step", '''
def sgd_step(param, grad, lr):
    return torch.add(param, grad, alpha=-lr)
'''),
    "sgd_sub_alpha": ("sgd_step", '''
def sgd_step(param, grad, lr):
    return torch.sub(param, grad, alpha=lr)
'''),
    "steps_add_minus_one": ("steps_per_epoch", '''
def steps_per_epoch(num_examples, batch_size, drop_last=False):
    return num_examples // batch_size if drop_last else (num_examples + batch_size - 1) // batch_size
'''),
    "steps_bool_add": ("steps_per_epoch", '''
def steps_per_epoch(num_examples, batch_size, drop_last=False):
    return num_examples // batch_size + (not drop_last and num_examples % batch_size != 0)
'''),
    "steps_dataloader": ("steps_per_epoch", '''
def steps_per_epoch(num_examples, batch_size, drop_last=False):
    from torch.utils.data import DataLoader
    return len(DataLoader(range(num_examples), batch_size=batch_size, drop_last=drop_last))
'''),
    "steps_len_range": ("steps_per_epoch", '''
def steps_per_epoch(num_examples, batch_size, drop_last=False):
    if drop_last:
        return len(range(0, num_examples - batch_size + 1, batch_size)) if num_examples >= batch_size else 0
    return len(range(0, num_examples, batch_size))
'''),
    "steps_divmod": ("steps_per_epoch", '''
def steps_per_epoch(num_examples, batch_size, drop_last=False):
    full, rest = divmod(num_examples, batch_size)
    return int(full + (1 if rest and not drop_last else 0))
'''),
    "total_steps_loop": ("total_steps", '''
def total_steps(num_examples, batch_size, epochs, drop_last=False):
    total = 0
    for _ in range(epochs):
        total += steps_per_epoch(num_examples, batch_size, drop_last)
    return total
'''),
    "total_steps_math_ceil": ("total_steps", '''
def total_steps(num_examples, batch_size, epochs, drop_last=False):
    per_epoch = num_examples // batch_size if drop_last else math.ceil(num_examples / batch_size)
    return epochs * per_epoch
'''),
    "steps_numpy_int64": ("steps_per_epoch", '''
def steps_per_epoch(num_examples, batch_size, drop_last=False):
    import numpy as np
    return np.floor_divide(num_examples, batch_size) if drop_last else -np.floor_divide(-num_examples, batch_size)
'''),
    "total_steps_numpy": ("total_steps", '''
def total_steps(num_examples, batch_size, epochs, drop_last=False):
    import numpy as np
    per = np.floor_divide(num_examples, batch_size) if drop_last else -np.floor_divide(-num_examples, batch_size)
    return epochs * per
'''),
    "batch_bounds_numpy": ("batch_bounds", '''
def batch_bounds(step, num_examples, batch_size):
    import numpy as np
    start = np.multiply(step, batch_size)
    return start, np.minimum(start + batch_size, num_examples)
'''),
    "sgd_reshape_flat": ("sgd_step", '''
def sgd_step(param, grad, lr):
    flat = param.reshape(-1) - lr * grad.reshape(-1)  # reshape copies where view cannot
    return flat.reshape(param.shape)
'''),
    "sgd_torch_optim_parameter": ("sgd_step", '''
def sgd_step(param, grad, lr):
    p = torch.nn.Parameter(param.detach().clone())  # what torch.optim updates; returned as it is
    p.grad = grad.detach().clone()
    torch.optim.SGD([p], lr=lr).step()
    return p
'''),
    "sgd_no_grad_restored": ("sgd_step", '''
def sgd_step(param, grad, lr):
    previous = torch.is_grad_enabled()
    torch.set_grad_enabled(False)
    try:
        return param - lr * grad
    finally:
        torch.set_grad_enabled(previous)
'''),
    "momentum_namedtuple": ("momentum_step", '''
class MomentumResult(typing.NamedTuple):
    param: torch.Tensor
    velocity: torch.Tensor


def momentum_step(param, grad, velocity, lr, gamma=0.9):
    v = gamma * velocity + lr * grad
    return MomentumResult(param - v, v)
'''),
    "adam_namedtuple": ("adam_step", '''
AdamState = collections.namedtuple("AdamState", "param m v")


def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    return AdamState(param - lr * (m / (1 - beta1 ** t)) / ((v / (1 - beta2 ** t)).sqrt() + eps), m, v)
'''),
    "batch_bounds_namedtuple": ("batch_bounds", '''
class Bounds(typing.NamedTuple):
    start: int
    end: int


def batch_bounds(step, num_examples, batch_size):
    return Bounds(step * batch_size, min(step * batch_size + batch_size, num_examples))
'''),
    "mse_namedtuple": ("mse_gradients", '''
class Gradients(typing.NamedTuple):
    dw: torch.Tensor
    db: torch.Tensor


def mse_gradients(w, b, x, y):
    residual = y - (w * x + b)
    return Gradients((-2 * residual * x).mean(), (-2 * residual).mean())
'''),
    "adagrad_clone_when_no_gradient": ("adagrad_step", '''
def adagrad_step(param, grad, r, lr, delta=1e-7):
    if not bool(grad.any()):
        return param.clone(), r.clone()  # nothing moves, but the results are still new tensors
    r = r + grad * grad
    return param - lr / (delta + torch.sqrt(r)) * grad, r
'''),
    "rmsprop_own_generator": ("rmsprop_step", '''
def rmsprop_step(param, grad, r, lr, decay=0.9, delta=1e-6):
    g = torch.Generator().manual_seed(0)  # a generator of its own leaves the global one alone
    _ = torch.rand(1, generator=g)
    r = decay * r + (1 - decay) * grad * grad
    return param - lr / torch.sqrt(delta + r) * grad, r
'''),
    "steps_modulo": ("steps_per_epoch", '''
def steps_per_epoch(num_examples, batch_size, drop_last=False):
    full = num_examples // batch_size
    return full + (1 if num_examples % batch_size and not drop_last else 0)
'''),
    "mse_reshape_column": ("mse_gradients", '''
def mse_gradients(w, b, x, y):
    xs, ys = x.reshape(-1, 1), y.reshape(-1, 1)  # a column, as a design matrix would be
    residual = ys - (w * xs + b)
    return (-2 * residual * xs).mean(), (-2 * residual).mean()
'''),
    # From a hunt for grades that go wrong (session 6): more ways of writing each function.
    "adam_resets_state_at_t1": ("adam_step", '''
def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    if t == 1:  # Algorithm 1: m_0 = v_0 = 0 (the contract: "zeros before the first step")
        m, v = torch.zeros_like(m), torch.zeros_like(v)
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    return param - lr * (m / (1 - beta1 ** t)) / ((v / (1 - beta2 ** t)).sqrt() + eps), m, v
'''),
    "adam_torch_optim": ("adam_step", '''
def adam_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    p = torch.nn.Parameter(param.detach().clone())
    p.grad = grad.detach().clone()
    opt = torch.optim.Adam([p], lr=lr, betas=(beta1, beta2), eps=eps, foreach=False)
    opt.state[p]["step"] = torch.tensor(float(t - 1))
    opt.state[p]["exp_avg"] = m.detach().clone()
    opt.state[p]["exp_avg_sq"] = v.detach().clone()
    opt.step()
    s = opt.state[p]
    return p.detach(), s["exp_avg"].detach(), s["exp_avg_sq"].detach()
'''),
    "adamw_paper_form": ("adamw_step", '''
def adamw_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return param - lr * (m_hat / (v_hat.sqrt() + eps) + weight_decay * param), m, v
'''),
    "bias_correction_square_and_multiply": ("bias_correction", '''
def bias_correction(beta, t):
    result, base, e = 1.0, float(beta), t
    while e:
        if e & 1:
            result *= base
        base *= base
        e >>= 1
    return 1.0 - result
'''),
    "batch_bounds_slice_indices": ("batch_bounds", '''
def batch_bounds(step, num_examples, batch_size):
    start, stop, _ = slice(step * batch_size, (step + 1) * batch_size).indices(num_examples)
    return start, stop
'''),
    "mse_closed_form_sums": ("mse_gradients", '''
def mse_gradients(w, b, x, y):
    n = x.shape[0]
    sx, sy, sxx, sxy = x.sum(), y.sum(), (x * x).sum(), (x * y).sum()
    return 2 * (w * sxx + b * sx - sxy) / n, 2 * (w * sx + b * n - sy) / n
'''),
    # From a third hunt (epochs, bias correction, Adagrad, AdamW, regression; torch.optim inside).
    "steps_minus_one_plus_one": ("steps_per_epoch", '''
def steps_per_epoch(num_examples, batch_size, drop_last=False):
    return num_examples // batch_size if drop_last else (num_examples - 1) // batch_size + 1  # 0 at n = 0 too
'''),
    "steps_numpy_ceil_astype": ("steps_per_epoch", '''
def steps_per_epoch(num_examples, batch_size, drop_last=False):
    import numpy as np
    q = np.float64(num_examples) / batch_size
    return (np.floor(q) if drop_last else np.ceil(q)).astype(np.int64)
'''),
    "steps_fraction": ("steps_per_epoch", '''
def steps_per_epoch(num_examples, batch_size, drop_last=False):
    from fractions import Fraction
    q = Fraction(num_examples, batch_size)
    return math.floor(q) if drop_last else math.ceil(q)
'''),
    "total_steps_numpy_int64_product": ("total_steps", '''
def total_steps(num_examples, batch_size, epochs, drop_last=False):
    import numpy as np
    return np.int64(epochs) * np.int64(steps_per_epoch(num_examples, batch_size, drop_last=drop_last))
'''),
    "batch_bounds_range_slice": ("batch_bounds", '''
def batch_bounds(step, num_examples, batch_size):
    r = range(num_examples)[step * batch_size:(step + 1) * batch_size]
    return r.start, r.stop
'''),
    "batch_bounds_torch_ints": ("batch_bounds", '''
def batch_bounds(step, num_examples, batch_size):
    start = torch.tensor(step) * batch_size  # int64 tensors slice like ints
    return start, torch.clamp(start + batch_size, max=num_examples)
'''),
    "bias_correction_expm1": ("bias_correction", '''
def bias_correction(beta, t):
    return -math.expm1(t * math.log(beta)) if beta > 0 else 1.0
'''),
    "bias_correction_decimal": ("bias_correction", '''
def bias_correction(beta, t):
    from decimal import Decimal
    return float(1 - Decimal(beta) ** t)
'''),
    "adagrad_torch_optim": ("adagrad_step", '''
def adagrad_step(param, grad, r, lr, delta=1e-7):
    p = torch.nn.Parameter(param.detach().clone())
    p.grad = grad.detach().clone()
    opt = torch.optim.Adagrad([p], lr=lr, eps=delta)  # eps outside the root, as the lecture's δ
    opt.state[p]["sum"] = r.detach().clone()
    opt.step()
    return p.detach(), opt.state[p]["sum"]
'''),
    "adagrad_float64_inside": ("adagrad_step", '''
@torch.no_grad()
def adagrad_step(param, grad, r, lr, delta=1e-7):
    p, g, rr = param.double(), grad.double(), r.double() + grad.double() ** 2
    return (p - lr / (delta + rr.sqrt()) * g).to(param.dtype), rr.to(r.dtype)
'''),
    "adamw_torch_optim": ("adamw_step", '''
def adamw_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    p = torch.nn.Parameter(param.detach().clone())
    p.grad = grad.detach().clone()
    opt = torch.optim.AdamW([p], lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)
    opt.state[p] = {"step": torch.tensor(float(t - 1)), "exp_avg": m.detach().clone(),
                    "exp_avg_sq": v.detach().clone()}
    opt.step()
    return p.detach(), opt.state[p]["exp_avg"], opt.state[p]["exp_avg_sq"]
'''),
    "adamw_float64_inside": ("adamw_step", '''
def adamw_step(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    p, g, m64, v64 = (a.detach().double() for a in (param, grad, m, v))
    p = p * (1 - lr * weight_decay)
    m64 = beta1 * m64 + (1 - beta1) * g
    v64 = beta2 * v64 + (1 - beta2) * g * g
    p = p - lr * (m64 / (1 - beta1 ** t)) / ((v64 / (1 - beta2 ** t)).sqrt() + eps)
    return p.to(param.dtype), m64.to(m.dtype), v64.to(v.dtype)
'''),
    "mse_design_matrix": ("mse_gradients", '''
def mse_gradients(w, b, x, y):
    X = torch.stack([x, torch.ones_like(x)], dim=1)
    theta = torch.tensor([w, b], dtype=x.dtype, device=x.device)
    g = 2.0 / x.shape[0] * X.T @ (X @ theta - y)
    return g[0], g[1]
'''),
    "mse_loss_backward": ("mse_gradients", '''
def mse_gradients(w, b, x, y):
    wt = torch.tensor(w, dtype=x.dtype, device=x.device, requires_grad=True)
    bt = torch.tensor(b, dtype=x.dtype, device=x.device, requires_grad=True)
    torch.nn.functional.mse_loss(wt * x + bt, y).backward()
    return wt.grad, bt.grad
'''),
    "mse_torch_func_grad": ("mse_gradients", '''
def mse_gradients(w, b, x, y):
    def loss(p):
        return ((y - (p[0] * x + p[1])) ** 2).mean()
    g = torch.func.grad(loss)(torch.tensor([w, b], dtype=x.dtype, device=x.device))
    return g[0], g[1]
'''),
    "mse_numpy_float64": ("mse_gradients", '''
def mse_gradients(w, b, x, y):
    import numpy as np
    xn, yn = x.numpy().astype(np.float64), y.numpy().astype(np.float64)
    r = yn - (w * xn + b)
    return (torch.tensor(np.mean(-2 * r * xn), dtype=x.dtype), torch.tensor(np.mean(-2 * r), dtype=x.dtype))
'''),
}
