"""`make gpu-check` says FAIL, with the reason, where it cannot prove CUDA grading (here: no GPU)."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "gpu_check.py"


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU machine, run `make gpu-check` itself")
def test_without_a_gpu_it_fails_and_says_why() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert "gpu-check: FAIL" in done.stdout
    assert "sees no CUDA device" in done.stdout
