r"""A small TeX → MathML converter for the formulas the quiz templates use, so handouts render offline.

Handouts must show math without a CDN script; browsers render MathML Core
natively.  Templates write math as TeX between ``\( … \)`` (inline) or
``\[ … \]`` (display) because the LMS exports keep that TeX for the LMS's own
MathJax.  This module covers the lecture's notation only (Greek letters,
sub/superscripts, ``\hat``, ``\frac``, ``\sqrt``, ``\odot``, ``\nabla``,
``\lceil``/``\lfloor``, ``\text``, ``\mathcal``) and raises on anything else, so
a template can never ship raw TeX by accident.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

_GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ϵ", "varepsilon": "ε",
    "eta": "η", "theta": "θ", "lambda": "λ", "mu": "μ", "rho": "ρ", "sigma": "σ", "nabla": "∇",
    "partial": "∂", "ell": "ℓ",
}
_OPERATORS = {
    "odot": "⊙", "times": "×", "cdot": "·", "approx": "≈", "leftarrow": "←", "rightarrow": "→",
    "to": "→", "le": "≤", "ge": "≥", "ll": "≪", "neq": "≠", "pm": "±", "lceil": "⌈", "rceil": "⌉",
    "lfloor": "⌊", "rfloor": "⌋", "ldots": "…", "sum": "∑", "in": "∈",
}
_SPACES = {",": "0.1667em", ";": "0.2778em", " ": "0.25em", "quad": "1em", "qquad": "2em"}
_FENCES = set("()[]|⌈⌉⌊⌋")
_TOKEN = re.compile(r"\\([A-Za-z]+|.)|(\d+(?:\.\d+)?)|(\s+)|(.)", re.S)
_MATH = re.compile(r"\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)


class TexError(ValueError):
    """A formula uses TeX this converter does not know."""


_PREFIX_MINUS_AFTER = {None, ("chr", "="), ("chr", ","), ("chr", "("), ("chr", "+"), ("cmd", "times")}


def _tokens(tex: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for m in _TOKEN.finditer(tex):
        command, number, space, char = m.groups()
        if command is not None:
            out.append(("cmd", command))
        elif number is not None:
            solid = [t for t in out if t[0] != "sp"]
            # "g = -1.4" and "0.5, -1.4": a negative number, set tight, not a binary minus
            if solid and solid[-1] == ("chr", "-") and (solid[-2] if len(solid) > 1 else None) in _PREFIX_MINUS_AFTER:
                while out[-1][0] == "sp":
                    out.pop()
                out[-1] = ("num", "−" + number)
            else:
                out.append(("num", number))
        elif space is not None:
            out.append(("sp", " "))  # only \text{} keeps spaces; math skips them
        else:
            out.append(("chr", char))
    return out


class _Parser:
    def __init__(self, tex: str) -> None:
        self.tex = tex
        self.toks = _tokens(tex)
        self.i = 0

    def error(self, what: str) -> TexError:
        return TexError(f"TeX formula {self.tex!r}: {what}; the handout converter supports the lecture's "
                        f"notation only. Fix: rewrite the formula or extend quiz_bank/mathml.py.")

    def peek(self) -> tuple[str, str] | None:
        while self.i < len(self.toks) and self.toks[self.i][0] == "sp":
            self.i += 1
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise self.error("unexpected end")
        self.i += 1
        return tok

    def row(self, stop: str | None = None) -> str:
        items: list[str] = []
        while (tok := self.peek()) is not None and tok != ("chr", stop):
            if tok == ("chr", "}"):
                raise self.error("unbalanced '}'")
            if tok == ("cmd", "displaystyle"):  # the rest of the group, set full size (fractions)
                self.next()
                items.append(f'<mstyle displaystyle="true">{self.row(stop)}</mstyle>')
                return items[0] if len(items) == 1 else "<mrow>" + "".join(items) + "</mrow>"
            items.append(self.scripted())
        if stop is not None:
            self.next()
        return items[0] if len(items) == 1 else "<mrow>" + "".join(items) + "</mrow>"

    def group(self) -> str:
        """A braced group, or a single atom as TeX allows for ``x^2``."""
        if self.peek() == ("chr", "{"):
            self.next()
            return self.row("}")
        return self.atom()

    def scripted(self) -> str:
        base = self.atom()
        sub = sup = None
        while (tok := self.peek()) in (("chr", "_"), ("chr", "^")):
            self.next()
            if tok == ("chr", "_"):
                sub = self.group()
            else:
                sup = self.group()
        if sub is not None and sup is not None:
            return f"<msubsup>{base}{sub}{sup}</msubsup>"
        if sub is not None:
            return f"<msub>{base}{sub}</msub>"
        if sup is not None:
            return f"<msup>{base}{sup}</msup>"
        return base

    def text_arg(self) -> str:
        if self.next() != ("chr", "{"):
            raise self.error("expected '{' after \\text")
        start = self.i
        depth = 1
        while depth:  # raw walk: spaces inside \text{} are kept
            if self.i >= len(self.toks):
                raise self.error("unclosed \\text{")
            kind, value = self.toks[self.i]
            self.i += 1
            depth += (kind, value) == ("chr", "{")
            depth -= (kind, value) == ("chr", "}")
        raw = "".join(v if k != "cmd" else "\\" + v for k, v in self.toks[start : self.i - 1])
        return html.escape(raw).replace(" ", "\u00a0")  # MathML trims plain spaces at the ends

    def atom(self) -> str:
        kind, value = self.next()
        if kind == "num":
            return f"<mn>{value}</mn>"
        if kind == "chr":
            if value == "{":
                return self.row("}")
            if value.isalpha():
                return f"<mi>{html.escape(value)}</mi>"
            if value == "'":
                return "<mo>′</mo>"
            if value == "-":
                return "<mo>−</mo>"
            stretch = ' stretchy="false"' if value in _FENCES else ""
            return f"<mo{stretch}>{html.escape(value)}</mo>"
        return self.command(value)

    def command(self, name: str) -> str:
        if name in _GREEK:
            tag = "mo" if name == "nabla" else "mi"
            return f"<{tag}>{_GREEK[name]}</{tag}>"
        if name in _OPERATORS:
            stretch = ' stretchy="false"' if _OPERATORS[name] in _FENCES else ""
            return f"<mo{stretch}>{_OPERATORS[name]}</mo>"
        if name in _SPACES:
            return f'<mspace width="{_SPACES[name]}"/>'
        if name in ("{", "}", "%", "_", "#", "&"):
            return f"<mo>{html.escape(name)}</mo>"
        if name == "frac":
            return f"<mfrac>{self.group()}{self.group()}</mfrac>"
        if name == "sqrt":
            return f"<msqrt>{self.group()}</msqrt>"
        if name == "hat":
            return f'<mover accent="true">{self.group()}<mo>^</mo></mover>'
        if name in ("text", "mathrm"):
            return f"<mtext>{self.text_arg()}</mtext>"
        if name == "mathcal":
            inner = self.group()
            return f'<mstyle mathvariant="script">{inner}</mstyle>'
        raise self.error(f"unknown command \\{name}")


@lru_cache(maxsize=65536)
def tex_to_mathml(tex: str, display: bool = False) -> str:
    r"""One TeX formula as a ``<math>`` element.

    >>> tex_to_mathml(r"\hat{m}_t = m_t / (1 - \beta_1^t)")  # doctest: +ELLIPSIS
    '<math display="inline"><mrow><msub><mover accent="true"><mi>m</mi><mo>^</mo></mover><mi>t</mi></msub>...'
    """
    parser = _Parser(tex)
    body = parser.row()
    if parser.peek() is not None:
        raise parser.error("unbalanced '}'")
    mode = "block" if display else "inline"
    return f'<math display="{mode}">{body}</math>'


def render_math(fragment: str) -> str:
    r"""Replace every ``\( … \)`` and ``\[ … \]`` in an HTML fragment by MathML.

    The TeX sits in HTML, so entities (``&lt;``) are decoded before converting.
    """
    def convert(m: re.Match[str]) -> str:
        inline, block = m.groups()
        return tex_to_mathml(html.unescape(inline if inline is not None else block), block is not None)

    return _MATH.sub(convert, fragment)
