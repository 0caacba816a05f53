"""Test-wide settings: the thorough hypothesis profile unless HYPOTHESIS_PROFILE says otherwise."""

import os

import pytest
import torch
from hypothesis import settings

import grader.suite.strategies  # noqa: F401  (registers the settings profiles)

settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "instructor"))
torch.set_num_threads(1)

CUDA_SKIP_REASON = "no CUDA device: torch.cuda.is_available() is False on this machine (CI has no GPU)"


@pytest.fixture(scope="session", autouse=True)
def _example_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests share a cache of drawn examples of their own (keyed like any), never the user's."""
    if "OPTIGRADE_CACHE_DIR" not in os.environ:  # the parent of basetemp is shared by xdist workers
        os.environ["OPTIGRADE_CACHE_DIR"] = str(tmp_path_factory.getbasetemp().parent / "optigrade-examples")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip CUDA tests loudly, with the reason, where there is no GPU."""
    if torch.cuda.is_available():
        return
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=CUDA_SKIP_REASON))
