"""A notebook's code cells become modules by parsing alone: last definitions, what they need, no magics,
and a clear message (never a crash) for a notebook that cannot be read."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from grader.intake.notebook import MAX_NOTEBOOK_BYTES, NotebookError, extract_isolated, modules, read

FUNCTIONS = {"optimizers.py": ["sgd_step", "momentum_step", "adagrad_step"],
             "epochs.py": ["steps_per_epoch", "total_steps"], "regression.py": ["mse_gradients"]}


def notebook(*cells: str | Sequence[str], metadata: dict[str, Any] | None = None, **extra: Any) -> bytes:
    return json.dumps({
        "nbformat": 4, "nbformat_minor": 5, "metadata": metadata or {},
        "cells": [{"cell_type": "code", "source": c, "metadata": {}, "outputs": [], "execution_count": None}
                  for c in cells], **extra,
    }).encode()


def extract(data: bytes, name: str = "hw.ipynb") -> tuple[dict[str, str], list[str]]:
    nb = read(data, name)
    found = modules(nb, FUNCTIONS, name)
    return {file: source for file, (source, _) in found.items()}, nb.notes


def run(source: str) -> dict[str, Any]:
    """Execute extracted source (test-written code only) and return its namespace."""
    namespace: dict[str, Any] = {}
    exec(compile(source, "extracted", "exec"), namespace)  # noqa: S102 - our own test code
    return namespace


def test_the_last_definition_counts_with_what_it_needs_and_nothing_else() -> None:
    data = notebook(
        "!pip install -q torch\n%matplotlib inline\nimport math\nimport matplotlib.pyplot as plt\n"
        "from google.colab import drive\ndrive.mount('/content/drive')",
        ["SCALE = 2.0\n", "def sgd_step(param, grad, lr):\n", "    return param + lr * grad  # wrong sign\n"],
        "print(sgd_step(1.0, 1.0, 0.1))\nraise ValueError('a cell that failed when the student ran it')",
        "def _half(x):\n    return x / SCALE\n\ndef sgd_step(param, grad, lr):\n    return param - lr * grad\n\n"
        "def momentum_step(param, grad, velocity, lr, gamma=0.9):\n    v = gamma * velocity + lr * grad\n"
        "    return sgd_step(param, _half(v * SCALE), 1.0), v",
        "%%time\nimport time\nfor _ in range(10 ** 9):\n    time.sleep(1)",  # a long loop in a timed cell
        "def steps_per_epoch(n, b, drop_last=False):\n    return n // b if drop_last else math.ceil(n / b)\n"
        "plt.plot([1, 2])",
    )
    sources, notes = extract(data)
    assert set(sources) == {"optimizers.py", "epochs.py"}
    optimizers = run(sources["optimizers.py"])
    assert optimizers["sgd_step"](1.0, 1.0, 0.1) == 0.9  # the last definition
    assert optimizers["momentum_step"](0.0, 1.0, 0.0, 0.1) == (-0.1, 0.1)  # with _half and SCALE
    for absent in ("plt", "drive", "time", "math"):
        assert absent not in optimizers
    assert "raise ValueError" not in sources["optimizers.py"]
    assert run(sources["epochs.py"])["steps_per_epoch"](10, 3) == 4  # math came along
    assert any("sgd_step is defined 2 times (cells 2, 4); the last one, in cell 4, is graded" in n for n in notes)


def test_magics_and_shell_lines_are_skipped_and_blocks_stay_blocks() -> None:
    data = notebook(
        "import math\nfiles = !ls\n%time x = 1\nfor i in range(2):\n    !echo {i}\n    %time y = i\n"
        "math?\n?math.ceil\n%env A=\\\n  1\n"
        "def steps_per_epoch(n, b, drop_last=False):\n    return math.ceil(n / b)",
        "%%capture\ndef total_steps(n, b, epochs, drop_last=False):\n    return epochs * steps_per_epoch(n, b)",
        "%%bash\ndef mse_gradients(w, b, x, y): this is shell\n",
        "%%writefile regression.py\ndef mse_gradients(w, b, x, y):\n    return 0, 0\n",
    )
    sources, notes = extract(data)
    epochs = run(sources["epochs.py"])
    assert epochs["total_steps"](10, 3, 2) == 8  # the %%capture cell's body is Python
    assert "regression.py" not in sources  # %%bash and %%writefile are not Python cells
    assert any("%%writefile" in n for n in notes)


def test_a_cell_that_is_not_python_is_skipped_as_it_could_not_have_run() -> None:
    data = notebook("def sgd_step(param, grad, lr):\n    return param - lr * grad",
                    "def sgd_step(param, grad, lr):\n    return param - lr *\n")
    sources, notes = extract(data)
    assert run(sources["optimizers.py"])["sgd_step"](1.0, 1.0, 0.5) == 0.5
    assert any("cell 2 is not valid Python (line 2" in n for n in notes)


def test_conditional_bindings_keep_the_one_before_and_star_imports_serve_unknown_names() -> None:
    data = notebook(
        "import math as m\ntry:\n    import numpy as m\nexcept ImportError:\n    pass",
        "from math import *\ndef steps_per_epoch(n, b, drop_last=False):\n    return int(m.ceil(n / b)) + 0 * floor(1)",
    )
    sources, _ = extract(data)
    text = sources["epochs.py"]
    assert "import math as m" in text
    assert "import numpy as m" in text
    assert "from math import *" in text
    assert run(text)["steps_per_epoch"](7, 2) == 4


def test_a_helper_defined_after_its_caller_is_found_as_a_call_would() -> None:
    data = notebook("def sgd_step(param, grad, lr):\n    return param - lr * scaled(grad)",
                    "def scaled(g):\n    return g\nresult = sgd_step(1.0, 1.0, 0.1)")
    sources, _ = extract(data)
    assert "result =" not in sources["optimizers.py"]
    assert run(sources["optimizers.py"])["sgd_step"](1.0, 1.0, 0.1) == 0.9


def test_nbformat_3_and_cells_given_as_lists_of_lines() -> None:
    data = json.dumps({"nbformat": 3, "worksheets": [{"cells": [
        {"cell_type": "code", "input": ["def sgd_step(param, grad, lr):\n", "    return param - lr * grad"]},
        {"cell_type": "markdown", "source": "def momentum_step(): no"}]}]}).encode()
    sources, _ = extract(data)
    assert set(sources) == {"optimizers.py"}


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32"])
def test_other_unicode_encodings_are_read(encoding: str) -> None:
    text = notebook("def sgd_step(param, grad, lr):\n    # 梯度下降\n    return param - lr * grad").decode()
    sources, _ = extract(text.encode(encoding))
    assert "梯度下降" in sources["optimizers.py"]


@pytest.mark.parametrize(("data", "message"), [
    (b"\xff\xfe\x00", "is not UTF-16 text"),
    (b"{\"cells\": [\xc3\x28]}", "is not UTF-8 text (byte 0xc3 at offset 11)"),
    (b"{\"cells\": [", "is not valid notebook JSON (Expecting value at line 1, column 12)"),
    (b"[1, 2]", "is JSON but not a notebook (its top level is a list"),
    (b"{\"nbformat\": 4}", "has no list of cells"),
    (b"[" * 200_000 + b"]" * 200_000, "is not valid notebook JSON"),
    (notebook("x <- 1", metadata={"kernelspec": {"language": "R"}}), "is a 'r' notebook; the exercises are Python"),
])
def test_unreadable_notebooks_get_a_message_naming_the_reason_and_the_fix(data: bytes, message: str) -> None:
    with pytest.raises(NotebookError) as caught:
        read(data, "hw.ipynb")
    assert str(caught.value).startswith("hw.ipynb ")
    assert message in str(caught.value)


def test_odd_cells_are_skipped_with_a_note_not_a_crash() -> None:
    data = json.dumps({"nbformat": 4, "cells": [
        "not a cell", {"cell_type": "code", "source": 42}, {"cell_type": "code", "source": ["a", 1]},
        {"cell_type": "code", "source": "def sgd_step(p, g, lr):\n    return p\x00"},
        {"cell_type": "code", "source": "s = '\ud800'\ndef momentum_step(): pass"},
        {"cell_type": "code", "source": "x = " + "(" * 5000 + ")" * 5000},
        {"cell_type": "code", "source": "def sgd_step(param, grad, lr):\n    return param - lr * grad"},
    ]}).encode()
    sources, notes = extract(data)
    assert run(sources["optimizers.py"])["sgd_step"](1.0, 1.0, 0.5) == 0.5
    joined = "\n".join(notes)
    for cell in (2, 3, 4, 5, 6):
        assert f"cell {cell} " in joined


def test_a_huge_notebook_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(NotebookError, match=f"the limit is {MAX_NOTEBOOK_BYTES} bytes"):
        read(b" " * (MAX_NOTEBOOK_BYTES + 1), "big.ipynb")
    code = "x = 1\n" * 800_000
    with pytest.raises(NotebookError, match="characters of code"):
        read(notebook(code), "big.ipynb")


def test_the_isolated_reader_gives_the_same_answer_and_survives_what_would_hurt_the_grader() -> None:
    data = notebook("import math", "def steps_per_epoch(n, b, drop_last=False):\n    return math.ceil(n / b)")
    found, notes = extract_isolated(data, "hw.ipynb", FUNCTIONS)
    direct = modules(read(data, "hw.ipynb"), FUNCTIONS, "hw.ipynb")
    assert found == direct
    assert notes == []
    nested = notebook("x = " + "-" * 200_000 + "1\ndef sgd_step(p, g, lr):\n    return p")
    found, notes = extract_isolated(nested, "deep.ipynb", FUNCTIONS)  # a parser stack this deep: not our crash
    assert "optimizers.py" not in found
    assert any("deep.ipynb: cell 1" in n for n in notes)
    with pytest.raises(NotebookError, match="is not valid notebook JSON"):
        extract_isolated(b"[" * 1_000_000, "deep.ipynb", FUNCTIONS)


def test_the_module_says_where_each_statement_came_from(tmp_path: Path) -> None:
    sources, _ = extract(notebook("import math", "def steps_per_epoch(n, b, drop_last=False):\n"
                                                 "    return math.ceil(n / b)"))
    text = sources["epochs.py"]
    assert text.startswith("# epochs.py: taken from the code cells of hw.ipynb (parsed, not run)")
    assert "# cell 1\nimport math" in text
    assert "# cell 2\ndef steps_per_epoch" in text
