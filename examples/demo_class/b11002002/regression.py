def mse_gradients(w, b, x, y):
    n = x.shape[0]
    error = (w * x + b) - y
    return (2.0 / n) * (error * x).sum(), (2.0 / n) * error.sum()
