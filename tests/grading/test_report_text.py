"""What a student printed reaches feedback as inert text."""

from grader.grade.report import plain_text


def test_terminal_escapes_and_bidi_overrides_are_removed() -> None:
    printed = "\x1b[31mred\x1b[0m ok\r\nx\x07\u202eevil\x1b]0;title\x07 done\ttab\x1b[2J"
    assert plain_text(printed) == "red ok\nxevil done\ttab"


def test_ordinary_output_is_kept() -> None:
    printed = "=== 100/100 all tests passed ===\n步驟 3: loss = 0.25\n"
    assert plain_text(printed) == printed
