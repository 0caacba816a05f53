import math


def steps_per_epoch(num_examples, batch_size, drop_last=False):
    if drop_last:
        return num_examples // batch_size
    return math.ceil(num_examples / batch_size)  # float division is exact for realistic sizes


def total_steps(num_examples, batch_size, epochs, drop_last=False):
    return epochs * steps_per_epoch(num_examples, batch_size, drop_last)


def batch_bounds(step, num_examples, batch_size):
    start = step * batch_size
    end = min(start + batch_size, num_examples)
    return (start, end)
