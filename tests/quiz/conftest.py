"""Shared fixtures: a small class roster and one quiz built from it (no PDFs: see test_browser.py)."""

from pathlib import Path

import pytest

from quiz_bank.build import BuildResult, build_quiz

ROSTER = "student_id,name\nB11001,王小明\nB11002,Alice Chen\nB11003,林美辰\nB11004,Brian Wu\n"
SEED = 20250924


@pytest.fixture(scope="session")
def roster_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("roster") / "roster.csv"
    path.write_text(ROSTER, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory, roster_file: Path) -> BuildResult:
    return build_quiz(roster_file, SEED, tmp_path_factory.mktemp("quiz"), pdf=False)
