"""The notebook edition of the student bundle: ``exercises.ipynb``, built with nbformat.

One notebook for all three exercise files, not one per file: Colab opens one notebook at a time, the
functions call each other (``adamw_step`` → ``adam_step``, ``total_steps`` → ``steps_per_epoch``,
anything → ``sgd_step``), which in one notebook is just a call, one setup cell serves every check,
and a student submits one file.  The grader splits it back into the three files by the contract
(``grader/intake/notebook.py``), taking only definitions, so test calls and plots in it cost nothing.

Cells: an introduction; a setup cell that installs only what is missing (nothing on Colab or a
course machine, so it works offline) and unpacks the public checks it carries; the imports; then per
exercise file its lecture context, and per function its documentation as Markdown (formulas as
``$$…$$``, which Jupyter's MathJax and Colab's KaTeX both render), the stub as a code cell, and a
check cell.  Helpers come before the functions that may use them (``bias_correction`` before Adam).
"""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib
import io
import re
import textwrap
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grader.errors import UsageError
from grader.suite.contract import HELPERS, MODULE_OF

NAME = "exercises.ipynb"
MODULES = ("optimizers", "epochs", "regression")
# What the check cells import; installed only where missing (Colab has all but maybe hypothesis).
PACKAGES = {"torch": "torch", "numpy": "numpy", "hypothesis": "hypothesis", "rich": "rich"}

INTRO = """# 最佳化方法 — optimizer exercises (notebook edition)

1. Run the **Setup** cell first. It installs only what this machine lacks (nothing on Colab or a course
   machine) and unpacks the public checks it carries, so it also works offline.
2. Fill in every function that raises `NotImplementedError`, run its cell, then the **check** cell
   below it: it runs that function's public checks here and shows a failing input, shrunk to simple
   numbers, with what was expected.
3. Submit this notebook (Colab: File → Download → Download .ipynb), under any name.

The grader reads your code cells without running them: each function's **last** definition counts,
with the imports, constants and helpers it uses. Test calls, prints and plots are fine and are left out;
`!pip` and `%` lines are skipped. Hidden tests (many more inputs, float32, long runs, CUDA) also count.
"""

SUBMIT = """## Before you submit

Run the cell below: it checks every function again. Then save and submit this notebook (`.ipynb`).
Hidden tests compare your functions with the reference on many more inputs, so a function that passes
here can still lose marks there; the public checks catch the most common mistakes."""


def notebook_cells(stubs: dict[str, str], checks_zip: bytes) -> list[Any]:
    """The notebook's cells, from the stub modules' sources (module name → source)."""
    v4: Any = importlib.import_module("nbformat.v4")  # optional dependency (untyped): only for --notebook
    trees = {m: ast.parse(stubs[m]) for m in MODULES}
    functions = {node.name: (m, node) for m in MODULES for node in trees[m].body if isinstance(node, ast.FunctionDef)}
    cells = [v4.new_markdown_cell(INTRO), _setup_cell(v4, checks_zip), v4.new_code_cell(_imports(stubs, trees))]
    for module in MODULES:
        cells.append(v4.new_markdown_cell(f"## `{module}.py` — {_markdown(ast.get_docstring(trees[module]) or '')}"))
        for name in _helpers_first([f for f, (m, _) in functions.items() if m == module]):
            node = functions[name][1]
            cells.append(v4.new_markdown_cell(f"### `{name}`\n\n{_markdown(ast.get_docstring(node) or '')}"))
            cells.append(v4.new_code_cell(_stub_without_docstring(stubs[module], node)))
            cells.append(v4.new_code_cell(f'check("{name}", globals())'))
    cells += [v4.new_markdown_cell(SUBMIT), v4.new_code_cell("check_all(globals())")]
    for i, cell in enumerate(cells):
        cell["id"] = f"optigrade-{i:02d}"  # stable ids: the same release gives the same file
    return cells


def write_notebook(out: Path, stubs: dict[str, str], checks: dict[str, bytes]) -> Path:
    """Write ``out / NAME``: the notebook edition of ``stubs``, carrying the ``checks`` files (path → bytes)."""
    nbformat = require_nbformat()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = notebook_cells(stubs, deterministic_zip(checks))
    notebook.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "colab": {"provenance": [], "toc_visible": True},
    }
    nbformat.validate(notebook)
    target = out / NAME
    target.write_text(nbformat.writes(notebook) + "\n", encoding="utf-8")
    return target


def require_nbformat() -> Any:
    """nbformat, or a usage error saying how to install it (checked before anything is written)."""
    try:
        return importlib.import_module("nbformat")
    except ImportError:
        raise UsageError("--notebook needs nbformat, which is not installed; fix: pip install 'optigrade[notebook]' "
                         "(or pip install nbformat)") from None


def deterministic_zip(files: dict[str, bytes]) -> bytes:
    """A zip of ``files`` whose bytes depend on their names and contents only (fixed dates, sorted)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name])
    return buf.getvalue()


def _setup_cell(v4: Any, checks_zip: bytes) -> Any:
    encoded = base64.b64encode(checks_zip).decode()
    digest = hashlib.sha256(checks_zip).hexdigest()[:12]
    chunks = "\n".join(f'    "{encoded[i:i + 100]}"' for i in range(0, len(encoded), 100))
    source = f'''# @title Setup: run this cell first {{ display-mode: "form" }}
# Installs only what this machine lacks (nothing on Colab or a course machine: then it works offline),
# and unpacks the public checks carried below into a temporary folder.
import base64, importlib.util, io, os, subprocess, sys, tempfile, zipfile

_missing = [pip for module, pip in {PACKAGES!r}.items() if importlib.util.find_spec(module) is None]
if _missing:
    print("Installing", ", ".join(_missing), "...")
    try:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", *_missing])
    except (OSError, subprocess.CalledProcessError) as _exc:
        raise RuntimeError("could not install " + " ".join(_missing) + " (offline?): install them in this "
                           "Python yourself, e.g. pip install " + " ".join(_missing)) from _exc
    importlib.invalidate_caches()

_CHECKS = (
{chunks}
)
_folder = os.path.join(tempfile.gettempdir(), "optigrade-checks-{digest}")
if not os.path.isfile(os.path.join(_folder, "grader", "check", "notebook.py")):
    zipfile.ZipFile(io.BytesIO(base64.b64decode(_CHECKS))).extractall(_folder)
if _folder not in sys.path:
    sys.path.insert(0, _folder)
from grader.check.notebook import check, check_all

print("Ready: the public checks are loaded.")'''
    cell = v4.new_code_cell(source)
    # Collapsed: Colab shows the form title only, Jupyter hides the input.
    cell.metadata = {"cellView": "form", "jupyter": {"source_hidden": True}}
    return cell


def _imports(stubs: dict[str, str], trees: dict[str, ast.Module]) -> str:
    """Every import the stubs need, once, ``__future__`` first."""
    seen: list[str] = []
    for module in MODULES:
        lines = stubs[module].splitlines()
        for node in trees[module].body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                text = "\n".join(lines[node.lineno - 1:node.end_lineno])
                if text not in seen:
                    seen.append(text)
    seen.sort(key=lambda t: (not t.startswith("from __future__"), t))
    return "\n".join(seen)


def _helpers_first(names: Sequence[str]) -> list[str]:
    """``names`` in contract order, each after the helpers it may call (``HELPERS``)."""
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order or name not in names:
            return
        for helper in HELPERS.get(name, ()):
            visit(helper)
        order.append(name)

    for name in sorted(names, key=list(MODULE_OF).index):
        visit(name)
    return order


def _stub_without_docstring(source: str, node: ast.FunctionDef) -> str:
    """The stub's signature and body: its documentation is the Markdown cell above."""
    lines = source.splitlines()
    doc = node.body[0]
    body = lines[doc.end_lineno or doc.lineno:node.end_lineno]
    return "\n".join(lines[node.lineno - 1:doc.lineno - 1]
                     + [line.replace("the docstring above", "the cell above") for line in body])


# --- docstring (Google style with reST math) to Markdown -------------------------------------------------

_SECTION = re.compile(r"^(Args|Returns|Note|Example[^:]*):\s*(.*)$")


def _markdown(doc: str) -> str:
    """Markdown for a docstring: ``.. math::`` blocks become one ``$$…$$`` per formula line, ``Args:`` a list,
    doctest examples a code block."""
    out: list[str] = []
    lines = doc.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip().startswith(".. math::"):
            block = [line.strip().removeprefix(".. math::")]
            i += 1
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith((" ", "\t"))):
                block.append(lines[i])
                i += 1
            for formula in _formulas(block):  # a paragraph each: display math on its own line everywhere
                out += ["", f"$${formula}$$", ""]
            continue
        section = _SECTION.match(line)
        if section:
            body = []
            i += 1
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith((" ", "\t"))):
                body.append(lines[i])
                i += 1
            out += _section(section[1], section[2], textwrap.dedent("\n".join(body)).strip("\n").splitlines())
            continue
        out.append(_prose(line))
        i += 1
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip() + "\n"


def _formulas(block: list[str]) -> list[str]:
    """The formula lines of a math block: ``\\\\`` at a line's end separates them; indented lines continue one."""
    text = " ".join(part.strip() for part in block if part.strip())
    return [f.strip() for f in re.split(r"\\\\(?=\s|$)", text) if f.strip()]


def _section(title: str, rest: str, body: list[str]) -> list[str]:
    if title == "Args":
        items: list[str] = []
        for line in body:
            match = re.match(r"^(\w+):\s*(.*)$", line)
            if match:
                items.append(f"- `{match[1]}`: {_prose(match[2])}")
            elif items:
                items[-1] += " " + _prose(line.strip())
        return ["**Arguments**", "", *items, ""]
    if title.startswith("Example"):
        return [f"**{_prose(title)}**", "", "```python", *body, "```", ""]
    text = " ".join(_prose(t.strip()) for t in [rest, *body] if t.strip())
    return [f"**{title}:** {text}", ""]


def _prose(text: str) -> str:
    """reST ``code`` to Markdown `code`; underscores and angle brackets outside code made literal, so that
    ``x_t … m_t`` is not read as emphasis and ``<`` not as HTML."""
    parts = re.split(r"(``[^`]+``)", text)
    return "".join(f"`{p[2:-2]}`" if p.startswith("``") else p.replace("_", r"\_").replace("<", "&lt;")
                   for p in parts)
