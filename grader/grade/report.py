"""Turn one student's property results into results.json (Gradescope's schema) and feedback."""

from __future__ import annotations

import dataclasses
import html
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from grader.suite.contract import FUNCTIONS, HELPERS
from grader.suite.engine import PropertyResult


@dataclass
class StudentReport:
    student: str
    status: str  # ok | student_error | grader_error
    results: Sequence[PropertyResult]
    points: Mapping[str, float]
    problems: Sequence[str] = ()
    backend: str = ""
    fingerprint: str = ""

    def function_scores(self) -> dict[str, tuple[float, float]]:
        """(score, max) per contract function; skipped properties count for neither."""
        scores = {f: [0.0, 0.0] for f in FUNCTIONS}
        for r in self.results:
            if r.status == "skipped":
                continue
            pts = self.points[r.prop.name]
            scores[r.prop.function][1] += pts
            if r.status == "passed":
                scores[r.prop.function][0] += pts
        return {f: (round(s, 2), round(m, 2)) for f, (s, m) in scores.items()}

    @property
    def total(self) -> tuple[float, float]:
        s = self.function_scores().values()
        return round(sum(x for x, _ in s), 2), round(sum(m for _, m in s), 2)


def show(value: Any, limit: int = 8, digits: int = 6) -> str:
    """A compact, readable rendering of an input or output value."""
    if isinstance(value, torch.Tensor):
        flat = value.detach().reshape(-1)  # only the elements shown are converted (an answer may hold millions)
        body = (", ".join(f"{x:.{digits}g}" for x in flat[:limit].double().tolist())
                + (", …" if flat.numel() > limit else ""))
        return f"{body}" if value.dim() == 0 else f"[{body}] (shape {tuple(value.shape)})"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    if isinstance(value, torch.dtype):
        return str(value).removeprefix("torch.")
    return repr(value)


_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")


def plain_text(printed: str) -> str:
    """Student text (output, exception messages) made inert: terminal escapes, and control, format
    (bidi override, zero-width) and unassigned characters removed, newlines and tabs kept — so it cannot
    recolour, hide or reorder the feedback around it."""
    text = _ANSI.sub("", printed.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.translate(_ASCII_CONTROLS)  # ASCII's category-C characters are its controls
    return text if text.isascii() else _NON_ASCII.sub(_unless_control, text)


_ASCII_CONTROLS = {i: None for i in (*range(32), 127) if chr(i) not in "\n\t"}
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _unless_control(match: re.Match[str]) -> str:
    c = match.group()
    return "" if unicodedata.category(c).startswith("C") else c


MAX_PROBLEM_CHARS = 4000  # an honest note (a few file names) is a few hundred characters
MAX_PROBLEMS = 50  # an honest submission has a handful


def shown_problems(problems: Sequence[str]) -> list[str]:
    """The staging notes as shown (made inert, each and their number capped).  They quote the names a student
    chose: a zip of 250 entries named with 60,000 characters each made 15 MB of each feedback file."""
    shown = []
    for p in problems[:MAX_PROBLEMS]:
        text = plain_text(p)
        shown.append(text if len(text) <= MAX_PROBLEM_CHARS else
                     f"{text[:MAX_PROBLEM_CHARS]}… ({len(text) - MAX_PROBLEM_CHARS} more characters not shown)")
    if len(problems) > MAX_PROBLEMS:
        shown.append(f"{len(problems) - MAX_PROBLEMS} more notes like these were left out; fix the submission "
                     f"as the notes above say and resubmit")
    return shown


def digits_to_tell_apart(expected: Any, got: Any) -> int:
    """Significant digits (6 at least) so that a wrong answer never reads the same as the expected one."""
    digits = 6
    if show(expected, digits=17) != show(got, digits=17):
        while digits < 17 and show(expected, digits=digits) == show(got, digits=digits):
            digits += 2
    return digits


def failure_text(r: PropertyResult) -> str:
    """What failed, on which (shrunk) inputs, the lecture formula, and a hint."""
    if r.status == "skipped":
        return f"Skipped: {r.reason}. Not counted in the score or the maximum."
    note = f"\n{r.note}" if r.note else ""
    if r.status == "passed":
        return f"Passed on {r.cases} examples.{note}"
    assert r.failure is not None
    lines = [f"Failed: {r.failure.message}"]
    inputs = r.failure.inputs or r.example
    if inputs:
        shown = {k: v for k, v in inputs.items() if not k.startswith("_")}
        lines.append("Inputs: " + "; ".join(f"{k} = {show(v)}" for k, v in shown.items()))
    expected, got = r.failure.expected, r.failure.got
    digits = digits_to_tell_apart(expected, got) if expected is not None and got is not None else 6
    if expected is not None:
        lines.append(f"Expected: {show(expected, digits=digits)}")
    if got is not None:
        lines.append(f"Returned: {show(got, digits=digits)}")
    if r.prop.formula:
        lines.append(f"Lecture formula: {r.prop.formula}")
    if r.failure.hint:
        lines.append(f"Hint: {r.failure.hint}")
    printed = plain_text(r.stdout).strip()
    if printed:
        lines.append("Your code printed (truncated): " + printed[:500])
    # The failure message quotes the student's exception, repr or class name: made inert like printed text.
    return plain_text("\n".join(lines) + note)


HIDDEN_NOTE = "Hidden tests also count towards your grade; they are shown after grades are published."
# The hidden suite's multi-step property (grader/suite/hidden/steps.py): the plot shows the same comparison.
TRAJECTORY_TITLE = "multi-step trajectory"


def caption_holders(results: Sequence[PropertyResult], captions: Mapping[str, str]) -> dict[int, str]:
    """Index of the result whose output carries each function's plot caption: its trajectory property,
    else its first property (so the caption is shown when the comparison it describes is)."""
    holders: dict[int, str] = {}
    for function, caption in captions.items():
        mine = [i for i, r in enumerate(results) if r.prop.function == function]
        trajectory = [i for i in mine if results[i].prop.title.startswith(TRAJECTORY_TITLE)]
        if mine:
            holders[(trajectory or mine)[0]] = caption
    return holders


def hidden_failure_notes(results: Sequence[PropertyResult]) -> set[str]:
    """Functions whose stand-in note ("yours failed its own tests") may stand for a helper that failed only
    hidden properties: on a public test, shown at once on Gradescope, it would give away a hidden result
    before grades are published.  Their public tests are shown without it; their hidden tests keep it."""
    failed = {r.prop.function for r in results if r.status == "failed"}
    failed_in_public = {r.prop.function for r in results if r.status == "failed" and r.prop.public}
    return {f for f, helpers in HELPERS.items() if any(h in failed - failed_in_public for h in helpers)}


def results_json(report: StudentReport, captions: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Gradescope's results.json: one test per property; public tests visible, hidden after publishing.
    ``captions`` (function -> trajectory plot caption) are added to the outputs (``caption_holders``)."""
    tests = []
    holders = caption_holders(report.results, captions or {})
    quiet = hidden_failure_notes(report.results)
    for i, r in enumerate(report.results):
        output = failure_text(dataclasses.replace(r, note="") if r.prop.function in quiet and r.prop.public else r)
        if i in holders:
            output += f"\nTrajectory plot (in your feedback): {plain_text(holders[i])}"
        test: dict[str, Any] = {
            "name": r.prop.name,
            "score": round(report.points[r.prop.name], 4) if r.status == "passed" else 0.0,
            "max_score": 0.0 if r.status == "skipped" else round(report.points[r.prop.name], 4),
            "visibility": "visible" if r.prop.public else "after_published",
            "output": output,
            "tags": [r.prop.function],
        }
        if r.status != "skipped":
            test["status"] = r.status
        else:
            test["extra_data"] = {"skipped": True}
        tests.append(test)
    score, maximum = report.total
    sandboxed = report.backend != "unsafe"
    notes = [f"Graded by optigrade ({report.backend or 'sandbox'})." if sandboxed else
             "UNSANDBOXED: graded with --unsafe-no-sandbox (student code ran without isolation)."]
    notes += [f"Note: {p}" for p in shown_problems(report.problems)]
    notes.append(HIDDEN_NOTE)
    return {"score": score, "output": "\n".join(notes), "visibility": "visible", "stdout_visibility": "hidden",
            "tests": tests, "extra_data": {"max_score": maximum, "status": report.status,
                                           "fingerprint": report.fingerprint, "sandboxed": sandboxed,
                                           "backend": report.backend}}


def feedback_markdown(report: StudentReport, plots: Mapping[str, str] | None = None,
                      captions: Mapping[str, str] | None = None) -> str:
    """feedback.md; ``plots`` maps a function to its trajectory plot's path relative to the file."""
    score, maximum = report.total
    out = [f"# Feedback for {report.student}", "", f"**Score: {score:g} / {maximum:g}**", ""]
    out += [f"> {_md_escape(p)}" for p in shown_problems(report.problems)]  # they quote submitted file names
    scores = report.function_scores()
    for function in FUNCTIONS:
        s, m = scores[function]
        out += ["", f"## `{function}` — {s:g} / {m:g}", ""]
        out += [f"> {_md_escape(n)}\n" for n in _notes(report, function)]
        for r in (r for r in report.results if r.prop.function == function):
            mark = {"passed": "✅", "failed": "❌", "skipped": "⏭️"}[r.status]
            kind = "public" if r.prop.public else "hidden"
            out.append(f"- {mark} {r.prop.title} ({kind}, {report.points[r.prop.name]:.2f} pts)")
            if r.status != "passed":
                text = failure_text(r)
                fence = _fence(text)
                out += ["", "  " + fence, *("  " + line for line in text.splitlines()), "  " + fence, ""]
        if plots and function in plots:
            out += ["", f"![trajectory of {function}]({plots[function]})"]
            if captions and function in captions:
                out += ["", f"*{_md_escape(captions[function])}*"]
    return "\n".join(out) + "\n"


def _notes(report: StudentReport, function: str) -> list[str]:
    """How ``function`` was graded, where that is not the obvious way (e.g. a helper's stand-in), once each."""
    return list(dict.fromkeys(r.note for r in report.results if r.prop.function == function and r.note))


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in ``text`` (a student's exception message can hold
    a line of ``` that would otherwise close the block and turn the rest into markdown of its making)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _md_escape(text: str) -> str:
    """Text that may quote a student's exception, safe inside emphasis (no markup, links or HTML)."""
    return "".join("\\" + c if c in "\\`*_[]<>" else c for c in text.replace("\n", " "))


def feedback_html(report: StudentReport, plots: Mapping[str, str] | None = None,
                  captions: Mapping[str, str] | None = None) -> str:
    """A self-contained page (no external resources) with the same content as feedback.md; ``plots``
    maps a function to its trajectory plot as a ``data:`` URI."""
    score, maximum = report.total
    esc = html.escape
    parts = [f"<!doctype html><html lang='en'><meta charset='utf-8'><title>Feedback {esc(report.student)}</title>",
             "<style>body{font-family:system-ui,'Noto Sans TC',sans-serif;max-width:60rem;margin:2rem auto;"
             "line-height:1.45}pre{background:#f6f6f6;padding:.6rem;white-space:pre-wrap}.pass{color:#176317}"
             ".fail{color:#a11}.skip{color:#777}img{max-width:100%}figure{margin:1rem 0}"
             "figcaption{font-size:.9rem;color:#444}</style>",
             f"<h1>Feedback for {esc(report.student)}</h1><p><b>Score: {score:g} / {maximum:g}</b></p>"]
    parts += [f"<p class='fail'>{esc(p)}</p>" for p in shown_problems(report.problems)]
    scores = report.function_scores()
    for function in FUNCTIONS:
        s, m = scores[function]
        parts.append(f"<h2><code>{function}</code> — {s:g} / {m:g}</h2>")
        parts += [f"<p><i>{esc(n)}</i></p>" for n in _notes(report, function)]
        parts.append("<ul>")
        for r in (r for r in report.results if r.prop.function == function):
            cls = {"passed": "pass", "failed": "fail", "skipped": "skip"}[r.status]
            parts.append(f"<li class='{cls}'>{esc(r.status)}: {esc(r.prop.title)}"
                         f" ({'public' if r.prop.public else 'hidden'}, {report.points[r.prop.name]:.2f} pts)")
            if r.status != "passed":
                parts.append(f"<pre>{esc(failure_text(r))}</pre>")
            parts.append("</li>")
        parts.append("</ul>")
        if plots and function in plots:
            caption = f"<figcaption>{esc(captions[function])}</figcaption>" if captions and function in captions else ""
            parts.append(f"<figure><img alt='trajectory of {function}' src='{esc(plots[function])}'>{caption}</figure>")
    parts.append("</html>")
    return "\n".join(parts)


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n"
