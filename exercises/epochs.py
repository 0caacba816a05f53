"""Epochs and steps (Epoch 與 Step): how many updates one pass over the data makes.

An *epoch* is one pass of the model over the whole training set; a *step* is
one forward and backward pass on one mini-batch, i.e. one update of the
weights (一次更新權重).  The counts match ``torch.utils.data.DataLoader``.

Datasets can be large: n up to 10¹² examples, batches of 1 to 10⁹ examples.
Compute with whole-number arithmetic (``//``, ``%``): a loop over the batches
never finishes for n = 10¹², and float tricks such as ``int(n / b + 0.999)`` are
wrong when n/b is within 0.001 of a whole number.  Counts and bounds are whole
numbers: a Python int (a numpy integer is accepted too).  Torch's global state
is left as it was.
"""

from __future__ import annotations


def steps_per_epoch(num_examples: int, batch_size: int, drop_last: bool = False) -> int:
    r"""Number of steps (mini-batches) in one epoch.

    .. math::
        \text{steps} = \lceil n / b \rceil \quad\text{(the last batch may be short)} \\
        \text{steps} = \lfloor n / b \rfloor \quad\text{(with drop\_last: the short batch is dropped)}

    This equals ``len(DataLoader(range(n), batch_size=b, drop_last=drop_last))``.

    Args:
        num_examples: n, the number of training examples (0 ≤ n ≤ 10¹²).
        batch_size: b, the examples per mini-batch (1 ≤ b ≤ 10⁹).
        drop_last: drop the last, incomplete batch as ``DataLoader`` does.

    Returns:
        The number of steps, a whole number (a Python int; a numpy integer is
        accepted too).

    Example (the lecture: 3,200 examples with batch_size 32 give 100 steps):
        >>> steps_per_epoch(3200, 32)
        100
        >>> steps_per_epoch(3201, 32), steps_per_epoch(3201, 32, drop_last=True)
        (101, 100)
    """
    # TODO: implement steps_per_epoch (see the formula in the docstring above).
    raise NotImplementedError("TODO: implement steps_per_epoch")


def total_steps(num_examples: int, batch_size: int, epochs: int, drop_last: bool = False) -> int:
    r"""Number of parameter updates over all epochs.

    .. math::  \text{total} = \text{epochs} \times \text{steps per epoch}

    Args:
        num_examples: n, the number of training examples (0 ≤ n ≤ 10¹²).
        batch_size: b, the examples per mini-batch (1 ≤ b ≤ 10⁹).
        epochs: how many passes over the training set (0 to 1,000).
        drop_last: drop each epoch's incomplete last batch.

    Returns:
        The total number of steps (updates), a whole number (a Python int; a
        numpy integer is accepted too).

    Example (the lecture: 5,000,000 examples, batch_size 1,000, one epoch):
        >>> total_steps(5_000_000, 1_000, epochs=1)
        5000
    """
    # TODO: implement total_steps (see the formula in the docstring above).
    raise NotImplementedError("TODO: implement total_steps")


def batch_bounds(step: int, num_examples: int, batch_size: int) -> tuple[int, int]:
    r"""The slice ``[start, end)`` of the step-th mini-batch of an epoch (0-based).

    As in the lecture's pseudo-code, with the last batch cut short at n:

    .. math::
        \text{start} = i \times b, \qquad \text{end} = \min(\text{start} + b,\ n)

    Args:
        step: i, the index of the mini-batch in this epoch, 0 ≤ i < ⌈n / b⌉.
        num_examples: n, the number of training examples (1 ≤ n ≤ 10¹²).
        batch_size: b, the examples per mini-batch (1 ≤ b ≤ 10⁹).

    Returns:
        ``(start, end)`` such that ``train_x[start:end]`` is the batch: a tuple
        (a list or a ``NamedTuple`` is accepted) of whole numbers.

    Example (5,000,000 examples, batch_size 1,000):
        >>> batch_bounds(0, 5_000_000, 1_000), batch_bounds(4999, 5_000_000, 1_000)
        ((0, 1000), (4999000, 5000000))
        >>> batch_bounds(3, 10, 3)
        (9, 10)
    """
    # TODO: implement batch_bounds (see the formula in the docstring above).
    raise NotImplementedError("TODO: implement batch_bounds")
