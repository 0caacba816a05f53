"""A handout in a real browser: headless Chromium renders it to PNG and PDF, math laid out as MathML.

Skipped, with the reason, where no Chromium is installed (CI installs it through
the Makefile's SYSTEM_PACKAGES).
"""

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from quiz_bank.browser import DevToolsBrowser, find_chromium, font_warning, print_pdf, screenshot
from quiz_bank.build import BuildResult, build_quiz
from quiz_bank.render import css

if TYPE_CHECKING:
    from PIL import Image

CHROMIUM = find_chromium()
ZH_FONT = bool(shutil.which("fc-list")) and bool(subprocess.run(
    ["fc-list", ":lang=zh-tw", "family"], capture_output=True, text=True, check=False).stdout.strip())
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on PATH (apt-get install chromium; CI installs it)"),
    pytest.mark.slow,
]


@pytest.mark.parametrize("lang", ["zh-TW", "en"])
def test_handout_renders_to_png(lang: str, built: BuildResult, roster_file: Path, tmp_path: Path) -> None:
    image = pytest.importorskip("PIL.Image")
    assert CHROMIUM is not None
    handout = built.handouts[0] if lang == "zh-TW" else build_quiz(roster_file, 1, tmp_path, lang="en",
                                                                    pdf=False).handouts[0]
    png = screenshot(CHROMIUM, handout, tmp_path / "handout.png", width=900, height=1400)
    with image.open(png) as im:
        assert im.size == (900, 1400)
        gray = im.convert("L")
        dark = sum(gray.histogram()[:128]) / (900 * 1400)
    assert 0.005 < dark < 0.3, f"page looks blank or solid ({dark:.3%} dark pixels)"


def test_mathml_is_laid_out_by_the_browser(tmp_path: Path) -> None:
    """A stacked fraction is taller than a line of text only if the browser really lays out MathML."""
    assert CHROMIUM is not None
    image = pytest.importorskip("PIL.Image")
    from quiz_bank.mathml import tex_to_mathml

    page = tmp_path / "frac.html"
    fraction = tex_to_mathml(r"\frac{\eta}{\delta + \sqrt{r_t}}", display=True)
    page.write_text(f"<!DOCTYPE html><meta charset=utf-8><body style='margin:0;font-size:40px'>{fraction}"
                    f"<div style='height:10px'></div><span>x</span></body>", encoding="utf-8")
    png = screenshot(CHROMIUM, page, tmp_path / "frac.png", width=400, height=400)
    with image.open(png) as im:
        gray = im.convert("L")
        rows = [y for y in range(gray.height) if any(gray.getpixel((x, y)) < 128 for x in range(gray.width))]
    fraction_rows = [y for y in rows if y < rows[-1] - 60]  # above the trailing "x" line
    assert fraction_rows
    assert fraction_rows[-1] - fraction_rows[0] > 60, "the fraction is not stacked: MathML not rendered"


def test_handout_prints_to_pdf(built: BuildResult, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    pdf = print_pdf(CHROMIUM, built.handouts[0], tmp_path / "handout.pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    assert data.count(b"/Type /Page") - data.count(b"/Type /Pages") >= 1


def test_build_writes_reproducible_pdfs_when_asked(roster_file: Path, tmp_path: Path) -> None:
    result = build_quiz(roster_file, 3, tmp_path / "a", kinds=["bias_correction"], pdf=True)
    assert sorted(p.name for p in result.pdfs) == sorted([*(h.with_suffix(".pdf").name for h in result.handouts),
                                                          "answer_key.pdf"])
    assert all(p.read_bytes().startswith(b"%PDF-") for p in result.pdfs)
    again = build_quiz(roster_file, 3, tmp_path / "b", kinds=["bias_correction"], pdf=True)
    for first, second in zip(result.pdfs, again.pdfs, strict=True):
        assert first.read_bytes() == second.read_bytes(), first.name  # print dates are normalized
        assert b"(D:19800101000000" in first.read_bytes()


def test_pdf_bytes_do_not_depend_on_what_the_browser_printed_before(built: BuildResult) -> None:
    """Why the reproducibility test above was once flaky under load, made deterministic.

    A tagged PDF names its structure elements after the renderer's DOM node ids, which count every
    node made before the page.  One browser prints the page first, another after a different page.
    """
    assert CHROMIUM is not None
    page, other = built.handouts[0], built.handouts[1]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        with DevToolsBrowser(CHROMIUM) as fresh:
            first = fresh.print_pdf(page, out / "first.pdf").read_bytes()
        with DevToolsBrowser(CHROMIUM) as used:
            used.print_pdf(other, out / "other.pdf")
            used.print_pdf(built.key_html, out / "key.pdf")  # type: ignore[arg-type]
            second = used.print_pdf(page, out / "second.pdf").read_bytes()
    assert b"/StructTreeRoot" in first  # still a tagged (accessible) PDF
    assert first == second


def _glyph(gray: "Image.Image", box: tuple[int, int, int, int]) -> bytes:
    return gray.crop(box).tobytes()


@pytest.mark.skipif(not ZH_FONT, reason="no Traditional Chinese font (apt-get install fonts-noto-cjk; CI installs "
                                       "it through the Makefile's SYSTEM_PACKAGES)")
def test_chinese_renders_as_glyphs_not_boxes(tmp_path: Path) -> None:
    """With the handout's font stack two different characters look different; missing glyphs are equal boxes."""
    assert CHROMIUM is not None
    image = pytest.importorskip("PIL.Image")
    page = tmp_path / "zh.html"
    page.write_text(f"<!DOCTYPE html><meta charset=utf-8><style>{css()}</style>"
                    "<body style='margin:0;padding:0'><div style='font-size:60px;line-height:80px'>"
                    "<span style='display:inline-block;width:100px'>最</span>"
                    "<span style='display:inline-block;width:100px'>佳</span></div></body>", encoding="utf-8")
    png = screenshot(CHROMIUM, page, tmp_path / "zh.png", width=300, height=100)
    with image.open(png) as im:
        gray = im.convert("L")
        left, right = _glyph(gray, (0, 0, 100, 80)), _glyph(gray, (100, 0, 200, 80))
    assert min(left) < 128, "nothing drawn"
    assert left != right, "both characters render as the same box: no font for Traditional Chinese"


def test_font_warning_matches_the_fonts_installed() -> None:
    assert bool(font_warning("zh-TW")) == (not ZH_FONT)
    assert font_warning("en") == ""
