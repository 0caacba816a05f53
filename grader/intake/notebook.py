"""Python modules from a submitted notebook's code cells, by parsing only: nothing in it is run.

A notebook is one namespace, run top to bottom; the modules written from it keep what that run would
leave for the graded functions, and nothing else:

* each graded function is its **last** definition (or other binding) in the notebook;
* top-level code a kept statement needs comes along: imports, constants, helpers, classes, found by
  the names it reads (``symtable``), transitively.  A name read when the statement runs takes the last
  binding before it; a name read inside a function body also the notebook's last one (functions look
  names up when called).  A binding inside ``if``/``try``/``for``/``with`` may not happen, so the one
  before it comes along too;
* everything else is left out: test calls, prints, plots, training loops, a cell that raised when the
  student ran it.  A failing cell costs nothing, and a needless statement cannot fail the import;
* IPython syntax is skipped: line magics and shell lines (``%time``, ``!pip install``, ``x = !ls``,
  ``obj?``) become ``pass``; a ``%%capture`` or ``%%time`` cell keeps its Python body; any other cell
  magic (``%%bash``, ``%%writefile``, ``%%html``) is not Python and is skipped;
* a cell that is not valid Python even then is skipped with a note (it could not have run either).

Each module gets the statements its own functions need, so a broken definition elsewhere in the
notebook cannot fail its import.  Stdlib only: :func:`extract_isolated` runs this file as a script in
a short-lived child (``python -I -S``, memory and CPU capped), so a hostile notebook (huge, deeply
nested, malformed, oddly encoded) can cost its own student a clear message and never the class run.
"""

from __future__ import annotations

import ast
import builtins
import functools
import json
import re
import subprocess
import symtable
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_NOTEBOOK_BYTES = 32 << 20  # outputs and images included
MAX_CODE_CHARS = 1 << 20  # all code cells together, before anything is left out (as a .py file's cap)
TIMEOUT_S = 30.0
MEMORY_BYTES = 2 << 30
FIX = "fix: save it again from Jupyter or Colab (File → Download → Download .ipynb) and submit that file"
# Cell magics whose body IPython runs as ordinary Python in the notebook's namespace.
PYTHON_CELL_MAGICS = ("capture", "time")
_LINE_MAGIC = re.compile(r"^(?P<indent>[ \t]*)(?:[%!?]|[\w.,\[\]\s]+=\s*[%!]|[\w.]+\?\??\s*$)")


class NotebookError(Exception):
    """The notebook cannot be read at all; the message names why and says what to do."""


@dataclass
class Statement:
    cell: int  # the cell's position in the notebook, 1-based (Jupyter and Colab show no numbers)
    text: str
    binds: frozenset[str]
    needs_now: frozenset[str]  # read when the statement runs
    needs_later: frozenset[str]  # read inside a function or lambda it defines: looked up when called
    conditional: bool  # a binding inside if/try/for/while/with/match may not happen
    star: bool = False  # from m import *: binds names nobody can list
    future: bool = False


@dataclass
class Notebook:
    statements: list[Statement]
    notes: list[str] = field(default_factory=list)

    @functools.cached_property
    def _index(self) -> dict[str, list[int]]:
        index: dict[str, list[int]] = defaultdict(list)
        for i, s in enumerate(self.statements):
            for name in s.binds:
                index[name].append(i)
        return index

    def bindings(self, name: str) -> list[int]:
        """The statements that bind ``name``, in notebook order."""
        return self._index.get(name, [])

    def source(self, roots: Iterable[str], title: str) -> str | None:
        """The module that leaves ``roots`` as the notebook would; None when it binds none of them."""
        keep: set[int] = set()
        todo: list[int] = []

        def add(i: int) -> None:
            if i not in keep:
                keep.add(i)
                todo.append(i)

        def bind_before(name: str, before: int) -> None:
            for i in reversed(self.bindings(name)):
                if i < before:
                    add(i)
                    if not self.statements[i].conditional:
                        return
            if not self.bindings(name) and name not in _BUILTINS:
                for i, s in enumerate(self.statements):  # the name may come from a star import
                    if s.star and i < before:
                        add(i)

        for name in roots:
            if self.bindings(name):
                bind_before(name, len(self.statements))
        if not keep:
            return None
        while todo:
            i = todo.pop()
            s = self.statements[i]
            for name in s.needs_now | s.needs_later:
                bind_before(name, i)
            for name in s.needs_later:
                bind_before(name, len(self.statements))
        future = sorted({s.text for s in self.statements if s.future})
        parts, cell = [f"# {title}\n", *(f"{f}\n" for f in future)], 0
        for i in sorted(keep):
            s = self.statements[i]
            if not s.future:
                parts.append(f"\n# cell {s.cell}\n{s.text}\n" if s.cell != cell else f"\n{s.text}\n")
                cell = s.cell
        return "".join(parts)


_BUILTINS = frozenset(dir(builtins))


def read(data: bytes, name: str) -> Notebook:
    """Parse the notebook ``data`` (the file ``name``); raise :class:`NotebookError` when it cannot be read."""
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"{name} is {len(data)} bytes; the limit is {MAX_NOTEBOOK_BYTES} bytes (clear the "
                            f"outputs: Edit → Clear all outputs, then save)")
    document = _json(data, name)
    notes: list[str] = []
    statements: list[Statement] = []
    total = 0
    for number, code in _code_cells(document, name, notes):
        total += len(code)
        if total > MAX_CODE_CHARS:
            raise NotebookError(f"{name} holds more than {MAX_CODE_CHARS} characters of code; the exercises "
                                f"need far less: submit the notebook with the exercise functions only")
        statements += _statements(number, code, name, notes)
    return Notebook(statements, notes)


def modules(notebook: Notebook, functions: Mapping[str, Sequence[str]], name: str
            ) -> dict[str, tuple[str, list[str]]]:
    """For each file of ``functions`` (file name → its graded functions) that the notebook defines any of:
    the module's source and the functions it defines."""
    out = {}
    for file, names in functions.items():
        source = notebook.source(names, f"{file}: taken from the code cells of {name} (parsed, not run)")
        if source is not None:
            out[file] = (source, [f for f in names if notebook.bindings(f)])
    for function in (f for names in functions.values() for f in names):
        cells = [notebook.statements[i].cell for i in notebook.bindings(function)]
        if len(cells) > 1:
            notebook.notes.append(f"{name}: {function} is defined {len(cells)} times (cells "
                                  f"{', '.join(map(str, cells))}); the last one, in cell {cells[-1]}, is graded, "
                                  f"as running the notebook top to bottom would leave it")
    return out


def _json(data: bytes, name: str) -> Any:
    encoding = json.detect_encoding(data)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        shown = "UTF-8" if encoding == "utf-8" else encoding.upper()
        raise NotebookError(f"{name} is not {shown} text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                            f"{FIX}") from None
    except LookupError:
        raise NotebookError(f"{name} is not a text file; {FIX}") from None
    try:
        return json.loads(text.removeprefix("\ufeff"))
    except json.JSONDecodeError as exc:
        raise NotebookError(f"{name} is not valid notebook JSON ({exc.msg} at line {exc.lineno}, column "
                            f"{exc.colno}); {FIX}") from None
    except (RecursionError, ValueError, MemoryError) as exc:
        raise NotebookError(f"{name} is not valid notebook JSON ({type(exc).__name__}); {FIX}") from None


def _code_cells(document: Any, name: str, notes: list[str]) -> list[tuple[int, str]]:
    """(cell number, code) of every code cell: nbformat 4 (``cells``) or 3 (``worksheets``)."""
    if not isinstance(document, dict):
        raise NotebookError(f"{name} is JSON but not a notebook (its top level is a {type(document).__name__}, "
                            f"expected an object with \"cells\"); {FIX}")
    language = _language(document.get("metadata"))
    if language and language not in ("python", "python3", "ipython", "ipython3"):
        raise NotebookError(f"{name} is a {language[:40]!r} notebook; the exercises are Python: write them in a "
                            f"Python notebook (Colab: Runtime → Change runtime type → Python 3)")
    cells = document.get("cells")
    if cells is None and isinstance(document.get("worksheets"), list):  # nbformat 3
        cells = [c for w in document["worksheets"] if isinstance(w, dict) and isinstance(w.get("cells"), list)
                 for c in w["cells"]]
    if not isinstance(cells, list):
        raise NotebookError(f"{name} has no list of cells (is it a Jupyter notebook?); {FIX}")
    found = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", cell.get("input", ""))
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        if not isinstance(source, str):
            notes.append(f"{name}: cell {number} has no readable source (a {type(source).__name__}); skipped")
            continue
        found.append((number, source))
    return found


def _language(metadata: Any) -> str:
    if not isinstance(metadata, dict):
        return ""
    for key, field_name in (("kernelspec", "language"), ("language_info", "name")):
        value = metadata.get(key)
        if isinstance(value, dict) and isinstance(value.get(field_name), str):
            return str(value[field_name]).strip().lower()
    return ""


def _statements(number: int, code: str, name: str, notes: list[str]) -> list[Statement]:
    code = code.replace("\r\n", "\n").replace("\r", "\n")
    try:
        code.encode("utf-8")
    except UnicodeEncodeError:
        notes.append(f"{name}: cell {number} holds characters that are not valid Unicode; skipped")
        return []
    magic = re.match(r"\s*%%(\w+)", code)
    if magic:
        if magic[1] not in PYTHON_CELL_MAGICS:
            if magic[1] == "writefile":
                notes.append(f"{name}: cell {number} is a %%writefile cell; its code is not taken (define the "
                             f"functions in ordinary code cells, or submit the file it writes)")
            return []
        code = code[magic.end():].split("\n", 1)[1] if "\n" in code[magic.end():] else ""
    tree = _parse(code)
    if not isinstance(tree, ast.Module):
        cleaned = _without_magics(code)
        if cleaned != code:
            retry = _parse(cleaned)
            code, tree = (cleaned, retry) if isinstance(retry, ast.Module) else (code, retry)
    if not isinstance(tree, ast.Module):
        notes.append(f"{name}: cell {number} is not valid Python ({tree}); its code is not taken (it could not "
                     f"have run either)")
        return []
    lines = code.encode("utf-8").split(b"\n")
    out = []
    for node in tree.body:
        text = _segment(lines, node)
        try:
            table = symtable.symtable(text, f"cell {number}", "exec")
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            notes.append(f"{name}: cell {number}, line {node.lineno} cannot be compiled "
                         f"({type(exc).__name__}); left out")
            continue
        now, later = _needs(table)
        binds = {s.get_name() for s in table.get_symbols()
                 if s.is_assigned() or s.is_imported() or s.is_namespace()}
        out.append(Statement(
            number, text, frozenset(binds), frozenset(now), frozenset(later),
            conditional=not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Assign
                                       | ast.AnnAssign | ast.AugAssign | ast.Import | ast.ImportFrom),
            star=isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names),
            future=isinstance(node, ast.ImportFrom) and node.module == "__future__",
        ))
    return out


def _parse(code: str) -> ast.Module | str:
    """The cell's syntax tree, or why it does not parse."""
    try:
        return ast.parse(code)
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
        return f"{type(exc).__name__}: {str(exc)[:80]}"


def _without_magics(code: str) -> str:
    """IPython-only lines become ``pass`` (indentation kept, so a block stays a block)."""
    out, indent, continued = [], "", False
    for line in code.split("\n"):
        match = _LINE_MAGIC.match(line)
        if continued or (match and line.strip()):
            indent = indent if continued else match["indent"] if match else ""
            out.append(f"{indent}pass")
            continued = line.endswith("\\")
        else:
            out.append(line)
    return "\n".join(out)


def _segment(lines: list[bytes], node: ast.stmt) -> str:
    """The statement's own text (decorators included); column offsets are UTF-8 byte offsets."""
    decorators = getattr(node, "decorator_list", [])
    first = min([node.lineno, *(d.lineno for d in decorators)])
    start = 0 if decorators else node.col_offset
    end_line, end_col = node.end_lineno or node.lineno, node.end_col_offset
    chunk = lines[first - 1:end_line]
    if end_col is not None:
        chunk[-1] = chunk[-1][:end_col]
    chunk[0] = chunk[0][start:]
    return b"\n".join(chunk).decode("utf-8")


def _needs(table: symtable.SymbolTable) -> tuple[set[str], set[str]]:
    """Global names read when the statement runs (its own level, class bodies, comprehensions) and names
    read inside function bodies and lambdas (when they are called)."""
    now = {s.get_name() for s in table.get_symbols() if s.is_referenced()}
    later: set[str] = set()

    def walk(t: symtable.SymbolTable, deferred: bool) -> None:
        for child in t.get_children():
            runs_later = deferred or (child.get_type() == "function"
                                      and child.get_name() not in ("listcomp", "setcomp", "dictcomp", "genexpr"))
            names = {s.get_name() for s in child.get_symbols() if s.is_global() and s.is_referenced()}
            (later if runs_later else now).update(names)
            walk(child, runs_later)

    walk(table, False)
    return now, later


# --- in a child process -------------------------------------------------------------------------------


def extract_isolated(data: bytes, name: str, functions: Mapping[str, Sequence[str]]
                     ) -> tuple[dict[str, tuple[str, list[str]]], list[str]]:
    """:func:`read` and :func:`modules` in a child process: (what :func:`modules` returns, notes).

    Raises :class:`NotebookError` with the reason when the notebook cannot be read, or the reader
    was stopped (time, memory) or crashed on it."""
    request = json.dumps({"name": name, "functions": {k: list(v) for k, v in functions.items()}})
    try:
        done = subprocess.run([sys.executable, "-I", "-S", __file__, request], input=data, capture_output=True,
                              timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise NotebookError(f"{name} could not be read within {TIMEOUT_S:g} s; {FIX}") from None
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        how = f"signal {-done.returncode}" if done.returncode < 0 else f"exit status {done.returncode}"
        raise NotebookError(f"{name} could not be read: the notebook reader stopped on it ({how}, probably out of "
                            f"memory); {FIX}") from None
    if answer.get("error"):
        raise NotebookError(str(answer["error"]))
    return {file: (source, list(found)) for file, (source, found) in answer["modules"].items()}, list(answer["notes"])


def _main() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
        resource.setrlimit(resource.RLIMIT_CPU, (int(TIMEOUT_S), int(TIMEOUT_S)))
    except (ImportError, ValueError, OSError):  # pragma: no cover - other platforms: the timeout still holds
        pass
    sys.setrecursionlimit(10_000)
    request = json.loads(sys.argv[1])
    data = sys.stdin.buffer.read(MAX_NOTEBOOK_BYTES + 1)
    try:
        notebook = read(data, request["name"])
        found = modules(notebook, request["functions"], request["name"])
        answer: dict[str, Any] = {"modules": found, "notes": notebook.notes}
    except NotebookError as exc:
        answer = {"error": str(exc)}
    except (RecursionError, MemoryError) as exc:
        answer = {"error": f"{request['name']} could not be read ({type(exc).__name__}); {FIX}"}
    sys.stdout.write(json.dumps(answer))


if __name__ == "__main__":
    _main()
