"""Deterministic example generation: the same seed always gives the same examples.

Hypothesis draws the examples once per grading run, with a fixed seed and no
example database, so every submission in a class meets exactly the same inputs
and a regrade reproduces the same grade.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from grader.suite.model import Example, Property

DEFAULT_SEED = 20250924  # the lecture's date; change per assignment with --seed
# Drawn examples per property, in grading and in the student's check alike: with fewer, check met only some of
# the examples grading judges a public property on, and passed bugs that only the others reveal.
DEFAULT_EXAMPLES = 20


@contextmanager
def _without_local_constants() -> Iterator[None]:
    """Hypothesis (≥ 6.131) mixes literals from every local module imported so far into its draws, so
    the examples would depend on what else the process had imported (the CLI, a test run, the student
    bundle): draw as if no local module were loaded.  A Hypothesis without that pool has nothing to undo."""
    try:
        from hypothesis.internal.conjecture import providers
        original, cache = providers._get_local_constants, providers.CONSTANTS_CACHE
        empty = providers.Constants()  # type: ignore[attr-defined]
    except (ImportError, AttributeError):
        yield
        return
    providers._get_local_constants = lambda: empty
    cache.cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = original
        cache.cache.clear()


def draw(strategy: st.SearchStrategy[Example], count: int, seed_value: int) -> list[Example]:
    """``count`` examples (fewer when the space is small) drawn reproducibly from ``strategy``."""
    found: list[Example] = []

    @seed(seed_value)
    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), derandomize=False)
    @given(strategy)
    def collect(example: Example) -> None:
        found.append(example)

    with _without_local_constants():
        collect()
    return found


def drawn_for(prop: Property, count: int, seed_value: int = DEFAULT_SEED) -> list[Example]:
    """The property's ``count`` drawn examples (at most ``prop.max_examples``), without its explicit ones."""
    salt = sum(map(ord, prop.name))  # different properties get different draws, reproducibly
    if prop.max_examples is not None:
        count = min(count, prop.max_examples)
    return draw(prop.examples, count, seed_value + salt)


def examples_for(prop: Property, count: int, seed_value: int = DEFAULT_SEED) -> list[Example]:
    """The property's explicit examples first, then ``count`` drawn ones (at most ``prop.max_examples``)."""
    return [*prop.explicit, *drawn_for(prop, count, seed_value)]
