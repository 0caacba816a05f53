import inspect
import shutil
from pathlib import Path

import pytest

import grader.suite.hidden.mutants as mutants
from grader.suite.contract import MODULE_OF
from grader.suite.engine import Suite
from grader.suite.registry import suite_properties

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo_class"
CORRECT = DEMO / "b11002001"


@pytest.fixture(scope="session")
def suite() -> Suite:
    return Suite(suite_properties(), examples_per_property=12)


def submission_with(tmp: Path, function: str, source: str) -> dict[str, Path]:
    """The correct demo student with ``function`` replaced by ``source`` (a def of that name)."""
    for f in CORRECT.glob("*.py"):  # (a __pycache__ beside them is not part of the submission)
        shutil.copy(f, tmp / f.name)
    target = tmp / f"{MODULE_OF[function]}.py"
    helpers = ("\nimport collections\nimport math\nimport typing\nimport torch\n"
               + inspect.getsource(mutants._adam) + inspect.getsource(mutants._adam_ref))
    target.write_text(target.read_text() + helpers + "\n" + source)
    return {p.stem: p for p in tmp.glob("*.py")}
