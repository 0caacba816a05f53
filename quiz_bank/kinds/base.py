"""What a question kind is: a parameter generator, answers from ``solutions/``, and a template.

A kind draws parameters from a student's own random stream, computes every
answer by calling the reference solutions, and rejects degenerate draws (an
answer that rounds to 0 or ±1, readings that agree, …) before a student sees
them.  The wording lives in ``templates/kinds/<id>.j2``.
"""

from __future__ import annotations

import hashlib
import random
import string
from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar, cast

import torch

from quiz_bank import numbers

# JSON-able parameter values, named like the contract's arguments (beta, t, lr, gamma, …).
Param = int | float | bool | str | list[float] | list[str]
Params = dict[str, Param]

MAX_DRAWS = 1000
LETTERS = string.ascii_uppercase


def student_rng(seed: int, student_id: str, kind_id: str) -> random.Random:
    """The random stream of one student and one kind: sha256 of (seed, id, kind), never ``hash()``.

    One stream per kind keeps a student's other questions unchanged when kinds are added or dropped.
    """
    digest = hashlib.sha256(f"{seed}\x1f{student_id}\x1f{kind_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def scalar(x: float) -> torch.Tensor:
    """A float64 0-d tensor, the form the reference solutions take."""
    return torch.tensor(x, dtype=torch.float64)


@dataclass(frozen=True)
class Part:
    """One asked quantity of a numeric kind: its id, its TeX symbol, whether it is a count."""

    name: str
    symbol: str
    integer: bool = False


@dataclass(frozen=True)
class NumericItem:
    """One numeric answer: the exact value from ``solutions/`` and the form it is asked in."""

    part: str
    symbol: str
    integer: bool
    value: Decimal  # unscaled, exactly as the reference computed it (float repr)
    scale_exp: int  # asked as value × 10^scale_exp

    @property
    def answer(self) -> Decimal:
        """The asked value without float noise; exactly the float the JSON key stores, so all targets agree."""
        if self.integer:
            return self.value
        return numbers.to_decimal(float(numbers.denoise(self.value.scaleb(self.scale_exp))))

    @property
    def tolerance(self) -> Decimal:
        return numbers.tolerance(self.answer, self.integer)

    @property
    def display(self) -> str:
        return numbers.fmt_answer(self.answer, self.integer)

    @property
    def asked_tex(self) -> str:
        """The TeX of what the student writes down, e.g. ``v_1 \\times 10^{3}``."""
        if not self.scale_exp:
            return self.symbol
        # (1 - \beta^{t}) \times 10^{3}, not 1 - \beta^{t} \times 10^{3}, which reads as 1 - (β^t·10³)
        symbol = f"({self.symbol})" if _has_top_level_sum(self.symbol) else self.symbol
        return f"{symbol} \\times 10^{{{self.scale_exp}}}"


def _has_top_level_sum(tex: str) -> bool:
    """Whether a TeX expression has a + or - outside braces (so a factor after it needs parentheses)."""
    depth = 0
    for ch in tex:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth == 0 and ch in "+-":
            return True
    return False


@dataclass(frozen=True)
class ChoiceItem:
    """One multiple-choice answer: option keys in this student's order and the correct key."""

    options: tuple[str, ...]
    correct: str

    @property
    def part(self) -> str:
        return "choice"

    @property
    def letter(self) -> str:
        return LETTERS[self.options.index(self.correct)]

    @property
    def display(self) -> str:
        return self.letter


Item = NumericItem | ChoiceItem


@dataclass(frozen=True)
class Variant:
    """One student's instance of a kind."""

    kind: str
    params: Params
    items: tuple[Item, ...]


class Kind(ABC):
    """A question kind; subclasses set ``id`` and implement drawing and answering."""

    id: ClassVar[str]
    title: ClassVar[str]  # English, for LMS categories and statistics tables

    @property
    def template(self) -> str:
        return f"kinds/{self.id}.j2"

    @abstractmethod
    def draw(self, rng: random.Random) -> Params:
        """One candidate parameter set."""

    @abstractmethod
    def items(self, params: Params) -> tuple[Item, ...]:
        """The answers for ``params``, computed by the reference solutions."""

    def problems(self, params: Params, items: tuple[Item, ...]) -> list[str]:
        """Why this draw must not be used (empty when it is fine)."""
        found = []
        for i in items:
            if isinstance(i, NumericItem) and numbers.is_degenerate(i.answer, i.integer):
                found.append(f"{i.part} = {i.display} rounds to 0 or ±1")
            if isinstance(i, NumericItem) and numbers.near_tie(i.answer, i.integer):
                found.append(f"{i.part} = {i.answer} is a rounding tie at 4 significant figures")
        return found + echoes(params, items)

    def display(self, params: Params) -> dict[str, str]:
        """Parameter values as the template shows them (exact decimals, no float noise)."""
        out: dict[str, str] = {}
        for name, value in params.items():
            if isinstance(value, list):
                out[name] = ", ".join(numbers.fmt_param(v) if isinstance(v, float) else str(v) for v in value)
            elif isinstance(value, bool | str):
                out[name] = str(value)
            else:
                out[name] = numbers.fmt_param(value)
        return out

    def variant(self, rng: random.Random) -> Variant:
        """Draw until a non-degenerate variant comes up."""
        for _ in range(MAX_DRAWS):
            params = self.draw(rng)
            items = self.items(params)
            if not self.problems(params, items):
                return Variant(self.id, params, items)
        raise RuntimeError(f"kind {self.id}: no usable variant in {MAX_DRAWS} draws; "
                           f"its generator is too narrow.")


class NumericKind(Kind):
    """A kind whose answers are numbers; ``solve`` returns one value per part."""

    parts: ClassVar[tuple[Part, ...]]

    @abstractmethod
    def solve(self, params: Params) -> dict[str, float | int]:
        """The exact answers, one per part name, from ``solutions/``."""

    def items(self, params: Params) -> tuple[Item, ...]:
        solved = self.solve(params)
        out: list[Item] = []
        for part in self.parts:
            value = numbers.to_decimal(solved[part.name])
            # Decide on the rounded value: 1 − 0.9 computes as 0.09999999999999998, and is 0.1000.
            scale = 0 if part.integer else numbers.scale_exponent(numbers.round_sig(value))
            out.append(NumericItem(part.name, part.symbol, part.integer, value, scale))
        return tuple(out)


def echoes(params: Params, items: tuple[Item, ...]) -> list[str]:
    """Answers a student could copy from the question: equal at 4 significant figures to a given value.

    Catches updates too small to show (x_{t+1} = x_t, v_t = v_{t-1}, r_t = r_{t-1}), m̂₁ = g₁, and
    chance coincidences.  Counts are exempt: 64 steps with batch_size 64 is no hint.
    """
    given = {numbers.round_sig(numbers.to_decimal(v)) for value in params.values()
             for v in (value if isinstance(value, list) else [value])
             if isinstance(v, int | float) and not isinstance(v, bool) and v != 0}
    return [f"{i.part} = {i.display} is a value given in the question" for i in items
            if isinstance(i, NumericItem) and not i.integer
            and given & {numbers.round_sig(i.answer), numbers.round_sig(i.value)}]


def steps_shown(shown: dict[str, str], params: Params) -> dict[str, str]:
    """For a gradient history: t, its length, and ts, the steps written out ("1, 2, 3", not "1, …, 2")."""
    t = len(cast(list[float], params["grads"]))
    shown["t"] = str(t)
    shown["ts"] = ", ".join(str(i) for i in range(1, t + 1))
    return shown


def pick_decimal(rng: random.Random, low: int, high: int, places: int = 1, nonzero: bool = True) -> float:
    """A value with ``places`` decimals in [low, high], drawn as an integer so it has no float noise."""
    scale = 10**places
    while True:
        k = rng.randint(low * scale, high * scale)
        if k or not nonzero:
            return float(numbers.to_decimal(k).scaleb(-places))
