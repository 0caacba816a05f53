"""Every property of the suite, in a stable order: public first, then hidden, grouped by function."""

from __future__ import annotations

from grader.suite.contract import FUNCTIONS
from grader.suite.model import Property


def suite_properties(*, hidden: bool = True) -> list[Property]:
    from grader.suite import public

    props = public.properties()
    if hidden:
        from grader.suite import hidden as hidden_suite

        props += hidden_suite.properties()
    names = [p.name for p in props]
    duplicates = {n for n in names if names.count(n) > 1}
    assert not duplicates, f"property names must be unique: {sorted(duplicates)}"
    order = {f: i for i, f in enumerate(FUNCTIONS)}
    return sorted(props, key=lambda p: order[p.function])
