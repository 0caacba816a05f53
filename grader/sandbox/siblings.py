"""A submission's files can import each other, as they do on the student's machine.

A student's ``regression.py`` may reuse their own ``sgd_step`` with ``from optimizers import sgd_step``
(or ``from exercises.optimizers import …``, the package the stubs came in).  That is correct code, so
the graded module must find its siblings: the other files *of the same submission*, and nothing else.
Used inside a sandbox worker (the box holds exactly those files) and, scoped to one load or call, by
the in-process runner of ``optigrade check``.  Stdlib only: the zygote and the student bundle import it.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Iterator, Mapping, Sequence
from types import ModuleType

PACKAGE = "exercises"  # the folder the stubs are released in: `from exercises.epochs import …` works too


class SiblingFinder(importlib.abc.MetaPathFinder):
    """Finds ``name`` and ``exercises.name`` for each sibling ``name`` → its file."""

    def __init__(self, files: Mapping[str, str]) -> None:
        self.files = dict(files)

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname == PACKAGE:
            spec = importlib.machinery.ModuleSpec(PACKAGE, None, is_package=True)
            spec.submodule_search_locations = []  # a namespace package whose modules only this finder knows
            return spec
        name = fullname[len(PACKAGE) + 1:] if fullname.startswith(PACKAGE + ".") else fullname
        if name not in self.files:
            return None
        return importlib.util.spec_from_file_location(fullname, self.files[name])


def install(files: Mapping[str, str]) -> None:
    """For a worker: siblings take precedence over everything else for their names, for the whole job."""
    sys.meta_path.insert(0, SiblingFinder(files))


@contextlib.contextmanager
def importable(files: Mapping[str, str], cache: dict[str, ModuleType]) -> Iterator[None]:
    """In-process: the siblings are importable inside the block only.  The modules they load are kept in
    ``cache`` (one per submission) and taken out of ``sys.modules`` again, so the next submission graded
    in this process gets its own, and a sibling is executed once per submission, not once per call."""
    finder = SiblingFinder(files)
    names = {PACKAGE, *files, *(f"{PACKAGE}.{n}" for n in files)}
    saved = {n: sys.modules[n] for n in names if n in sys.modules}
    for n in names:
        sys.modules.pop(n, None)
    sys.modules.update(cache)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(finder)
        for n in names:
            module = sys.modules.pop(n, None)
            if module is not None:
                cache[n] = module
        sys.modules.update(saved)
