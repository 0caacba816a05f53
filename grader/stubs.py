"""Generate the student stubs in ``exercises/`` from the reference in ``solutions/``.

A stub keeps the module docstring, the imports its signatures need, and every
public function's signature and docstring verbatim; the body becomes a TODO and
``raise NotImplementedError``.  Because stubs are derived, they cannot drift
from the reference; ``tests/test_stubs.py`` checks the committed files.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
MODULES = ("optimizers.py", "epochs.py", "regression.py")

_EXERCISES_INIT = '"""Your exercises: fill in every function that raises NotImplementedError."""\n'


def stub_source(solution_source: str) -> str:
    """Return the stub module for one solution module's source text."""
    tree = ast.parse(solution_source)
    lines = solution_source.splitlines()
    header: list[str] = []
    if ast.get_docstring(tree) is not None:
        doc = tree.body[0]
        header.append("\n".join(lines[doc.lineno - 1 : doc.end_lineno]))

    functions: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            doc_end = node.body[0].end_lineno if ast.get_docstring(node) is not None else node.lineno
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            signature_and_doc = "\n".join(lines[start - 1 : doc_end])
            functions.append(
                f"{signature_and_doc}\n"
                f"    # TODO: implement {node.name} (see the formula in the docstring above).\n"
                f'    raise NotImplementedError("TODO: implement {node.name}")'
            )
    body = "\n\n\n".join(functions)

    imports: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [(a.asname or a.name).split(".")[0] for a in node.names]
            is_future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
            if is_future or any(re.search(rf"\b{re.escape(n)}\b", body) for n in names):
                imports.append("\n".join(lines[node.lineno - 1 : node.end_lineno]))
    # isort sections, as ruff wants them: __future__, standard library, third party.
    def section(statement: str) -> int:
        module = statement.split()[1].split(".")[0]
        return 0 if module == "__future__" else 1 if module in sys.stdlib_module_names else 2

    groups = ["\n".join(i for i in imports if section(i) == k) for k in range(3)]
    import_block = "\n\n".join(g for g in groups if g)
    return "\n\n".join([*header, import_block]) + "\n\n\n" + body + "\n"


def expected_stubs() -> dict[Path, str]:
    """Every file of ``exercises/`` as generated from ``solutions/``."""
    stubs = {EXERCISES / "__init__.py": _EXERCISES_INIT}
    for name in MODULES:
        stubs[EXERCISES / name] = stub_source((SOLUTIONS / name).read_text(encoding="utf-8"))
    return stubs


def write_stubs() -> list[Path]:
    """Regenerate ``exercises/``; return the files that changed."""
    changed = []
    for path, text in expected_stubs().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


if __name__ == "__main__":
    for p in write_stubs():
        print(f"wrote {p.relative_to(ROOT)}")
