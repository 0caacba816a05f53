"""Real notebooks for the tests: the released edition, filled in by a student, executed headless by a
Jupyter kernel (nbclient + ipykernel), and saved as Jupyter or Colab save them."""

from __future__ import annotations

import ast
import copy
import json
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

from grader.release import release

ROOT = Path(__file__).resolve().parents[1]
CORRECT = ROOT / "examples" / "demo_class" / "b11002001"
NESTEROV_BUG = '''def nesterov_step(param, velocity, grad_fn, lr, gamma=0.9):
    v = gamma * velocity + lr * grad_fn(param)  # the gradient at x_t, not at the look-ahead point
    return param - v, v'''


def released(folder: Path) -> Any:
    """The notebook edition of a fresh release into ``folder``."""
    release(folder, notebook=True)
    return nbformat.read(folder / "exercises.ipynb", as_version=4)


def correct_functions() -> dict[str, str]:
    """Each function of the correct demo student, as source."""
    out = {}
    for path in sorted(CORRECT.glob("*.py")):
        text = path.read_text()
        for node in ast.parse(text).body:
            if isinstance(node, ast.FunctionDef):
                out[node.name] = ast.get_source_segment(text, node) or ""
    return out


def stub_cell(nb: Any, function: str) -> Any:
    return next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(f"def {function}("))


def check_cell(nb: Any, function: str) -> Any:
    return next(c for c in nb.cells if c.cell_type == "code" and c.source == f'check("{function}", globals())')


def solved(nb: Any, **overrides: str) -> Any:
    """``nb`` with every stub replaced by the correct student's function (``overrides``: function → source)."""
    nb = copy.deepcopy(nb)
    imports = next(c for c in nb.cells if c.cell_type == "code" and "import torch" in c.source)
    imports.source += "\nimport math"
    for function, source in {**correct_functions(), **overrides}.items():
        stub_cell(nb, function).source = source
    return nb


def execute(nb: Any, cwd: Path, *, allow_errors: bool = False) -> Any:
    """Run every cell in a fresh kernel, as "Run all" does; outputs land in the cells."""
    nb = copy.deepcopy(nb)
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=allow_errors,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def text(cell: Any) -> str:
    """What a cell printed (streams, results and error names)."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
        elif "text/plain" in out.get("data", {}):
            parts.append(out.data["text/plain"])
    return "".join(parts)


def colab_saved(nb: Any) -> bytes:
    """``nb`` as Colab saves it: its notebook and cell metadata, minor version 0, two-space JSON."""
    data = json.loads(nbformat.writes(nb))
    data["nbformat_minor"] = 0
    data["metadata"] = {
        "colab": {"provenance": [], "gpuType": "T4", "toc_visible": True},
        "kernelspec": {"name": "python3", "display_name": "Python 3"},
        "language_info": {"name": "python"},
        "accelerator": "GPU",
    }
    for i, cell in enumerate(data["cells"]):
        cell.pop("id", None)
        cell["metadata"] = {"id": f"c{i:04x}Xz", **({"colab": {"base_uri": "https://localhost:8080/"},
                                                      "outputId": f"{i:08x}-aa"} if cell.get("outputs") else {})}
    return json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")
