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
CLOSE_S = 10  # how long a browser may take to shut down before it is killed


def find_chromium() -> str | None:
    """The Chromium to use: $OPTIGRADE_CHROMIUM, else the first candidate on PATH."""
    override = os.environ.get("OPTIGRADE_CHROMIUM")
    if override:
        return override if Path(override).is_file() or shutil.which(override) else None
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


_PDF_DATE = re.compile(rb"/(CreationDate|ModDate) \(D:\d{14}")


_STRUCT_ID = re.compile(rb"\(node(\d+)\)")


def reproducible_pdf(data: bytes) -> bytes:
    """The same page gives the same bytes: Chromium's two run-dependent stamps are normalized in place.

    * The print time (/CreationDate, /ModDate) becomes 1980-01-01.
    * Tagged PDFs name each structure element after its DOM node id, ``(node00000015)``.  Those ids
      count every node the renderer process has made so far, so they shift with what it did before
      this page (about:blank, the previous handout, timing under load): the cause of a build that
      was once not byte-identical under parallel load.  They are renumbered by rank, zero-padded to
      the same width, so the /IDTree stays sorted.

    Every replacement has the length of what it replaces, so the xref offsets stay valid.
    """
    data = _PDF_DATE.sub(lambda m: b"/" + m.group(1) + b" (D:19800101000000", data)
    found = set(_STRUCT_ID.findall(data))
    if len({len(n) for n in found}) != 1:  # none, or not zero-padded: renumbering could reorder the /IDTree
        return data
    rank = {n: str(i).zfill(len(n)).encode() for i, n in enumerate(sorted(found), start=1)}
    return _STRUCT_ID.sub(lambda m: b"(node" + rank[m.group(1)] + b")", data)


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


def print_pdf(chromium: str, html: Path, pdf: Path) -> Path:
    """One page to PDF (a class set goes through :func:`print_pdfs`)."""
    with DevToolsBrowser(chromium) as browser:
        return browser.print_pdf(html, pdf)


def screenshot(chromium: str, html: Path, png: Path, width: int = 900, height: int = 1400) -> Path:
    """One page to PNG, as laid out in a ``width`` × ``height`` window.

    Taken over DevTools after the load and ``document.fonts.ready``: Chromium's own ``--screenshot``
    with a fresh ``--user-data-dir`` captures before fallback fonts are in, so a Chinese-only line
    comes out blank.
    """
    with DevToolsBrowser(chromium) as browser:
        return browser.screenshot(html, png, width, height)


class DevToolsBrowser:
    """One headless Chromium driven over the DevTools protocol on a pipe (fds 3 and 4 of the child)."""

    def __init__(self, chromium: str) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="optigrade-chromium-", ignore_cleanup_errors=True)
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
            # Lifecycle events carry the loader id, so a page's load is never confused with an earlier one.
            self.call("Page.setLifecycleEventsEnabled", {"enabled": True}, self._session)
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

    def _wait_load(self, loader: str) -> None:
        """Wait for the load event of the navigation ``loader`` (not a late one of about:blank's)."""
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            for i, event in enumerate(self._events):
                params = event.get("params", {})
                if (event.get("method") == "Page.lifecycleEvent" and event.get("sessionId") == self._session
                        and params.get("name") == "load" and params.get("loaderId") == loader):
                    del self._events[i]
                    return
            self._events.append(self._message(deadline))

    def _open(self, html: Path) -> None:
        """Load a page and its fonts."""
        self._events.clear()
        navigation = self.call("Page.navigate", {"url": html.resolve().as_uri()}, self._session)
        if navigation.get("errorText"):
            raise QuizError(f"Chromium could not open {html}: {navigation['errorText']}. "
                            f"Fix: check that the file exists and is readable, or pass --no-pdf.")
        self._wait_load(navigation["loaderId"])
        self.call("Runtime.evaluate", {"expression": "document.fonts.ready.then(() => true)",
                                       "awaitPromise": True}, self._session)

    def screenshot(self, html: Path, png: Path, width: int, height: int) -> Path:
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, self._session)
        self._open(html)
        result = self.call("Page.captureScreenshot", {"format": "png"}, self._session)
        png.write_bytes(base64.b64decode(result["data"]))
        return png

    def print_pdf(self, html: Path, pdf: Path) -> Path:
        self._open(html)
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
            # Let Chromium shut down (it stops its renderer and utility processes, which still write
            # into the profile); kill it only if it hangs.  Removing the profile under a live child
            # failed with "Directory not empty" under load.
            if not self._exited(within=CLOSE_S):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self._pid, 9)
                with contextlib.suppress(ChildProcessError):  # already reaped
                    os.waitpid(self._pid, 0)
            for _ in range(50):  # a killed browser's orphans may write a little longer
                self._profile.cleanup()
                if not os.path.exists(self._profile.name):
                    break
                time.sleep(0.1)

    def _exited(self, within: float) -> bool:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                if os.waitpid(self._pid, os.WNOHANG)[0]:
                    return True
            except ChildProcessError:
                return True
            time.sleep(0.02)
        return False

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
