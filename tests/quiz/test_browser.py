"""A handout in a real browser: headless Chromium renders it to PNG and PDF, math laid out as MathML.

Skipped, with the reason, where no Chromium is installed (CI installs it through
the Makefile's SYSTEM_PACKAGES).
"""

from pathlib import Path

import pytest

from quiz_bank.browser import find_chromium, print_pdf, screenshot
from quiz_bank.build import BuildResult, build_quiz

CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on PATH (apt-get install chromium; CI installs it)"),
    pytest.mark.slow,
]


def test_handout_renders_to_png(built: BuildResult, tmp_path: Path) -> None:
    image = pytest.importorskip("PIL.Image")
    assert CHROMIUM is not None
    png = screenshot(CHROMIUM, built.handouts[0], tmp_path / "handout.png", width=900, height=1400)
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
