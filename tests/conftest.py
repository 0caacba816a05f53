"""Test-wide settings: the thorough hypothesis profile unless HYPOTHESIS_PROFILE says otherwise."""

import os

import pytest
import torch
from hypothesis import settings

import grader.suite.strategies  # noqa: F401  (registers the settings profiles)

settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "instructor"))
torch.set_num_threads(1)

CUDA_SKIP_REASON = "no CUDA device: torch.cuda.is_available() is False on this machine (CI has no GPU)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip CUDA tests loudly, with the reason, where there is no GPU."""
    if torch.cuda.is_available():
        return
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=CUDA_SKIP_REASON))
