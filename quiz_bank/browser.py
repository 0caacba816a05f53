"""Headless Chromium: HTML handouts to PDF (and PNG for the tests), when a Chromium is installed.

Each call uses a fresh profile directory and no network services, so printing
is offline and reproducible; ``--no-sandbox`` is added only when running as
root, where Chromium refuses to start otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from quiz_bank.errors import QuizError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
TIMEOUT_S = 120


def find_chromium() -> str | None:
    """The Chromium to use: $OPTIGRADE_CHROMIUM, else the first candidate on PATH."""
    override = os.environ.get("OPTIGRADE_CHROMIUM")
    if override:
        return override if Path(override).is_file() or shutil.which(override) else None
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


def _run(chromium: str, html: Path, args: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="optigrade-chromium-") as profile:
        cmd = [chromium, "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--hide-scrollbars",
               f"--user-data-dir={profile}", *args, html.resolve().as_uri()]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.insert(2, "--no-sandbox")
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise QuizError(f"Chromium took over {TIMEOUT_S} s on {html}. Fix: run the build again, "
                            f"or pass --no-pdf and print the HTML handouts from a browser.") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise QuizError(f"Chromium ({chromium}) failed on {html} with exit code {done.returncode}: "
                        f"{' / '.join(tail)}. Fix: check the Chromium install, or pass --no-pdf.")


def print_pdf(chromium: str, html: Path, pdf: Path) -> Path:
    _run(chromium, html, ["--no-pdf-header-footer", f"--print-to-pdf={pdf.resolve()}"])
    if not pdf.is_file():
        raise QuizError(f"Chromium wrote no PDF for {html}. "
                        f"Fix: check the Chromium install, or pass --no-pdf.")
    return pdf


def screenshot(chromium: str, html: Path, png: Path, width: int = 900, height: int = 1400) -> Path:
    _run(chromium, html, [f"--window-size={width},{height}", f"--screenshot={png.resolve()}"])
    if not png.is_file():
        raise QuizError(f"Chromium wrote no screenshot for {html}. Fix: check the Chromium install.")
    return png


def print_pdfs(chromium: str, pages: list[Path], workers: int | None = None) -> list[Path]:
    """Print many pages, a few Chromium processes at a time (each is single-threaded most of the time)."""
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda page: print_pdf(chromium, page, page.with_suffix(".pdf")), pages))
