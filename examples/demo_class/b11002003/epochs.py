def steps_per_epoch(num_examples, batch_size, drop_last=False):
    return num_examples // batch_size  # the last, short batch is lost


def total_steps(num_examples, batch_size, epochs, drop_last=False):
    return epochs * steps_per_epoch(num_examples, batch_size, drop_last)


def batch_bounds(step, num_examples, batch_size):
    return step * batch_size, step * batch_size + batch_size
