"""The TeX → MathML converter: the lecture's notation converts, anything else is refused."""

import xml.etree.ElementTree as ET

import pytest

from quiz_bank.mathml import TexError, render_math, tex_to_mathml

FORMULAS = [
    r"x_{t+1} = x_t - \frac{\eta}{\delta + \sqrt{r_t}} \nabla_x f(x_t)",
    r"r_t = p\, r_{t-1} + (1 - p)\, g \odot g",
    r"\hat{m}_t \leftarrow m_t / (1 - \beta_1^t)",
    r"\theta_t \leftarrow \theta_{t-1} - \alpha \cdot \hat{m}_t / (\sqrt{\hat{v}_t} + \epsilon)",
    r"v_{1} \times 10^{6}",
    r"\text{total steps}",
    r"\mathcal{L} = \frac{1}{n} \sum_{i=1}^{n} (y_i - \hat{y}_i)^2",
]


@pytest.mark.parametrize("tex", FORMULAS)
def test_converts_to_well_formed_mathml(tex: str) -> None:
    root = ET.fromstring(tex_to_mathml(tex))
    assert root.tag == "math"
    assert root.get("display") == "inline"
    assert "\\" not in ET.tostring(root, encoding="unicode")


def test_structure() -> None:
    assert tex_to_mathml("x_t^2") == '<math display="inline"><msubsup><mi>x</mi><mi>t</mi><mn>2</mn></msubsup></math>'
    assert "<mfrac><mi>η</mi><mrow>" in tex_to_mathml(r"\frac{\eta}{\delta + 1}")
    assert "<mn>−3.5</mn>" in tex_to_mathml("-3.5")  # a real minus sign, set as part of the number
    assert "<mn>1.5</mn><mo>,</mo><mn>−1.4</mn>" in tex_to_mathml("1.5, -1.4")
    assert "<mi>x</mi><mo>−</mo><mn>1</mn>" in tex_to_mathml("x - 1")  # binary minus stays an operator
    assert "<mtext>total\u00a0steps</mtext>" in tex_to_mathml(r"\text{total steps}")
    assert tex_to_mathml(r"a {\displaystyle \frac{1}{2}} b") == (
        '<math display="inline"><mrow><mi>a</mi><mstyle displaystyle="true"><mfrac><mn>1</mn><mn>2</mn>'
        '</mfrac></mstyle><mi>b</mi></mrow></math>')


@pytest.mark.parametrize("tex", [r"\unknown{x}", r"x}", r"\frac{a}", r"\text{a"])
def test_refuses_what_it_does_not_know(tex: str) -> None:
    with pytest.raises(TexError, match="Fix:"):
        tex_to_mathml(tex)


def test_render_math_replaces_inline_and_display_and_decodes_entities() -> None:
    html = render_math(r"<p>a \(x &lt; y\) b</p>\[\beta\]")
    assert html == ('<p>a <math display="inline"><mrow><mi>x</mi><mo>&lt;</mo><mi>y</mi></mrow></math> b</p>'
                    '<math display="block"><mi>β</mi></math>')
