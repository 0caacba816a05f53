"""What a student printed reaches feedback as inert text."""

from grader.grade.report import plain_text


def test_terminal_escapes_and_bidi_overrides_are_removed() -> None:
    printed = "\x1b[31mred\x1b[0m ok\r\nx\x07\u202eevil\x1b]0;title\x07 done\ttab\x1b[2J"
    assert plain_text(printed) == "red ok\nxevil done\ttab"


def test_ordinary_output_is_kept() -> None:
    printed = "=== 100/100 all tests passed ===\n步驟 3: loss = 0.25\n"
    assert plain_text(printed) == printed


def test_expected_and_returned_never_read_the_same_when_they_differ() -> None:
    import torch

    from grader.grade.report import digits_to_tell_apart, show

    e, g = torch.tensor(-0.09999995, dtype=torch.float64), torch.tensor(-0.09999999, dtype=torch.float64)
    digits = digits_to_tell_apart(e, g)
    assert show(e, digits=digits) != show(g, digits=digits)
    assert digits_to_tell_apart(e, e.clone()) == 6
    assert digits_to_tell_apart(1.0, 3.16) == 6


def test_a_noise_sized_parameter_shrinks_to_zero() -> None:
    import torch

    from grader.suite.shrink import simpler_examples

    ex = {"dtype": torch.float64, "param": torch.tensor(2.3e-301, dtype=torch.float64),
          "grad": torch.tensor(4.6e-7, dtype=torch.float64), "lr": 0.0123}
    rounded = simpler_examples(ex)[0]
    assert rounded["param"].item() == 0.0
    assert rounded["grad"].item() == 4.6e-7  # tiny gradients matter (δ placement): kept
