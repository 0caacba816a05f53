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


def test_staging_notes_quoting_huge_names_do_not_flood_the_feedback() -> None:
    """A zip's entry names are the student's: 250 entries named with 60,000 characters each (refused as
    pointing outside the archive) made 15 MB of results.json, feedback.md and feedback.html each."""
    import json

    from grader.grade.report import StudentReport, feedback_html, feedback_markdown, results_json

    name = "../" + "<script>alert(1)</script>\x1b[31m" + "A" * 60_000
    problems = [f"s.zip: entry {name + str(i)!r} points outside the archive; refused" for i in range(250)]
    report = StudentReport("s", "ok", [], {}, problems)
    for text in (json.dumps(results_json(report)), feedback_markdown(report), feedback_html(report)):
        assert len(text) < 300_000
        assert "more characters not shown" in text
        assert "200 more notes like these were left out" in text
        assert "\x1b" not in text
        assert "\\u001b" not in text
    assert "<script>" not in feedback_html(report)
    assert "<script>" not in feedback_markdown(report)
    honest = StudentReport("s", "ok", [], {}, ["optimizers (1).py was used as optimizers.py (there is no "
                                               "optimizers.py); name it optimizers.py"])
    assert "Note: optimizers (1).py was used as optimizers.py (there is no optimizers.py); name it optimizers.py" \
        in results_json(honest)["output"]


def test_showing_a_huge_answer_converts_only_what_is_shown() -> None:
    import torch

    from grader.grade.report import show

    huge = torch.arange(10**7, dtype=torch.float32)
    assert show(huge) == "[0, 1, 2, 3, 4, 5, 6, 7, …] (shape (10000000,))"
    assert show(torch.tensor([1.5, 2.0])) == "[1.5, 2] (shape (2,))"
    assert show(torch.tensor(0.25)) == "0.25"
