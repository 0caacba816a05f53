"""The values that cross the sandbox boundary, in both directions.

``Value`` is ``None | bool | int | float | str | tuple | list | dict[str, Value] | tensor | GradFn |
Opaque``.  The trusted side may send plain ``torch.Tensor`` objects (or :class:`TensorValue`); every
tensor that comes *back* from a worker is decoded as a :class:`TensorValue`: a plain CPU
``torch.Tensor`` with the original dtype plus the metadata the grader needs to judge it (the device
the student left it on, the exact type the student returned, ``requires_grad``).

This module runs on both sides (it is imported by the zygote), so it imports only torch and stdlib.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

import torch


@dataclass(frozen=True)
class TensorValue:
    """A tensor as the student returned it: data as a plain CPU tensor plus what it looked like.

    ``type_name`` is the exact type the student returned, e.g. ``"torch.Tensor"``,
    ``"torch.nn.parameter.Parameter"``, ``"numpy.ndarray"``, ``"numpy.float64"`` (numpy arrays and
    numpy scalars are carried as tensors too), or a student's own subclass such as
    ``"optimizers.Liar"``.  ``device`` is where it lived in the worker, e.g. ``"cpu"`` or ``"cuda:0"``.
    """

    tensor: torch.Tensor
    device: str = "cpu"
    type_name: str = "torch.Tensor"
    requires_grad: bool = False


@dataclass(frozen=True)
class GradFn:
    """A gradient function built inside the worker from a registered objective (see objectives.py)."""

    objective: str
    params: Mapping[str, torch.Tensor] = field(default_factory=dict)


@dataclass(frozen=True)
class Opaque:
    """Something the student returned that is not a wire type; ``repr`` is capped and may be a
    placeholder such as ``"<repr raised ValueError>"``."""

    type_name: str
    repr: str


Value: TypeAlias = (
    None
    | bool
    | int
    | float
    | str
    | tuple["Value", ...]
    | list["Value"]
    | dict[str, "Value"]
    | torch.Tensor
    | TensorValue
    | GradFn
    | Opaque
)
