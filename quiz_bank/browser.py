"""Headless Chromium: HTML handouts to PDF (and PNG for the tests), when a Chromium is installed.

Each browser uses a fresh profile directory and no network services, so printing
is offline and reproducible; ``--no-sandbox`` is added only when running as
root, where Chromium refuses to start otherwise.  A class set is printed through
one long-lived browser per worker, driven over the DevTools protocol on a pipe
(``--remote-debugging-pipe``): starting Chromium once per page costs ~1.5 s each.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

from quiz_bank.errors import QuizError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
TIMEOUT_S = 120


def find_chromium() -> str | None:
    """The Chromium to use: $OPTIGRADE_CHROMIUM, else the first candidate on PATH."""
    override = os.environ.get("OPTIGRADE_CHROMIUM")
    if override:
        return override if Path(override).is_file() or shutil.which(override) else None
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


_PDF_DATE = re.compile(rb"/(CreationDate|ModDate) \(D:\d{14}")


def reproducible_pdf(data: bytes) -> bytes:
    """Chromium stamps the print time into a PDF; set it to 1980-01-01 (same length: offsets stay valid).

    Apart from these dates Chromium's PDFs are deterministic, so the same build gives the same bytes.
    """
    return _PDF_DATE.sub(lambda m: b"/" + m.group(1) + b" (D:19800101000000", data)


def font_warning(lang: str) -> str:
    """Why PDFs in this language would show empty boxes (no font for its script), or ""."""
    if lang != "zh-TW" or not shutil.which("fc-list"):
        return ""
    found = subprocess.run(["fc-list", ":lang=zh-tw", "family"], capture_output=True, text=True, timeout=60,
                           check=False).stdout.strip()
    return "" if found else ("warning: no Traditional Chinese font is installed (fc-list :lang=zh-tw is empty), "
                             "so the PDFs show boxes for Chinese text. Fix: apt-get install fonts-noto-cjk.")


def _flags(profile: str) -> list[str]:
    flags = ["--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        flags.insert(1, "--no-sandbox")
    return flags


def _run(chromium: str, html: Path, args: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="optigrade-chromium-") as profile:
        cmd = [chromium, *_flags(profile), *args, html.resolve().as_uri()]
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
    pdf.write_bytes(reproducible_pdf(pdf.read_bytes()))
    return pdf


def screenshot(chromium: str, html: Path, png: Path, width: int = 900, height: int = 1400) -> Path:
    _run(chromium, html, [f"--window-size={width},{height}", f"--screenshot={png.resolve()}"])
    if not png.is_file():
        raise QuizError(f"Chromium wrote no screenshot for {html}. Fix: check the Chromium install.")
    return png


class DevToolsBrowser:
    """One headless Chromium driven over the DevTools protocol on a pipe (fds 3 and 4 of the child)."""

    def __init__(self, chromium: str) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="optigrade-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        devnull = os.open(os.devnull, os.O_RDWR)
        path = shutil.which(chromium) or chromium
        # posix_spawn's dup2 puts the pipes on fds 3/4 without touching this process's own fds.
        self._pid = os.posix_spawn(path, [path, *_flags(self._profile.name), "--remote-debugging-pipe",
                                          "about:blank"], os.environ, file_actions=[
            (os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1),
            (os.POSIX_SPAWN_DUP2, devnull, 2), (os.POSIX_SPAWN_DUP2, to_child_r, 3),
            (os.POSIX_SPAWN_DUP2, from_child_w, 4)])
        for fd in (to_child_r, from_child_w, devnull):
            os.close(fd)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self._session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            self.call("Page.enable", session=self._session)
        except BaseException:
            self.close()
            raise

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_child], [], [], left)[0]:
                raise QuizError(f"Chromium did not answer within {TIMEOUT_S} s. "
                                f"Fix: run the build again, or pass --no-pdf.")
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise QuizError("Chromium exited while printing. Fix: check the Chromium install, or pass --no-pdf.")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        self._next_id += 1
        request: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            request["sessionId"] = session
        data = json.dumps(request).encode() + b"\0"
        while data:
            data = data[os.write(self._to_child, data):]
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            message = self._message(deadline)
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise QuizError(f"Chromium refused {method}: {message['error'].get('message')}. "
                                    f"Fix: check the Chromium install, or pass --no-pdf.")
                return message.get("result", {})
            self._events.append(message)

    def _wait_event(self, method: str) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            for i, event in enumerate(self._events):
                if event.get("method") == method and event.get("sessionId") == self._session:
                    del self._events[i]
                    return
            self._events.append(self._message(deadline))

    def print_pdf(self, html: Path, pdf: Path) -> Path:
        self._events.clear()
        self.call("Page.navigate", {"url": html.resolve().as_uri()}, self._session)
        self._wait_event("Page.loadEventFired")
        self.call("Runtime.evaluate", {"expression": "document.fonts.ready.then(() => true)",
                                       "awaitPromise": True}, self._session)
        result = self.call("Page.printToPDF", {"printBackground": True, "preferCSSPageSize": True},
                           self._session)
        pdf.write_bytes(reproducible_pdf(base64.b64decode(result["data"])))
        return pdf

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (QuizError, OSError):
            pass
        finally:
            for fd in (self._to_child, self._from_child):
                os.close(fd)
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, 9)
            with contextlib.suppress(ChildProcessError):  # already reaped
                os.waitpid(self._pid, 0)
            self._profile.cleanup()

    def __enter__(self) -> DevToolsBrowser:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def print_pdfs(chromium: str, pages: list[Path], workers: int | None = None) -> list[Path]:
    """Print many pages to PDF beside them: one browser per worker, each printing its share in turn."""
    workers = max(1, min(workers or os.cpu_count() or 1, 4, len(pages)))
    shares = [pages[i::workers] for i in range(workers)]

    def run(share: list[Path]) -> list[Path]:
        done: list[Path] = []
        for attempt in (1, 2):  # a browser that dies mid-way is replaced once, keeping what it printed
            try:
                with DevToolsBrowser(chromium) as browser:
                    for page in share[len(done):]:
                        done.append(browser.print_pdf(page, page.with_suffix(".pdf")))
                return done
            except (QuizError, OSError) as e:
                if attempt == 2:
                    raise QuizError(f"printing PDFs with {chromium} failed twice ({type(e).__name__}: {e}). "
                                    f"Fix: check the Chromium install, or pass --no-pdf.") from e
        return done

    with ThreadPoolExecutor(max_workers=workers) as pool:
        printed = {pdf for share in pool.map(run, shares) for pdf in share}
    return [pdf for pdf in (page.with_suffix(".pdf") for page in pages) if pdf in printed]
