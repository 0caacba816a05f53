"""Catalogs: every template message is in the .po, translated, and the committed .mo is up to date."""

import gettext
import io
import re

import pytest

from quiz_bank import i18n
from quiz_bank.render import environment


def _po_ids(locale: str) -> dict[str, str]:
    from babel.messages.pofile import read_po

    with i18n.po_path(locale).open("rb") as f:
        return {m.id: m.string for m in read_po(f, locale=locale) if m.id}  # type: ignore[misc]


@pytest.mark.parametrize("locale", [loc for loc in i18n.LANGUAGES.values() if loc])
def test_po_matches_the_templates_and_is_fully_translated(locale: str) -> None:
    extracted = {m.id for m in i18n.extract() if m.id}
    po = _po_ids(locale)
    missing = extracted - set(po)
    stale = set(po) - extracted
    assert not missing, f"run `python -m quiz_bank.i18n`, then translate: {sorted(missing)[:3]}"
    assert not stale, f"obsolete entries; run `python -m quiz_bank.i18n`: {sorted(stale)[:3]}"
    untranslated = [m for m, s in po.items() if not s]
    assert not untranslated, f"untranslated: {untranslated[:3]}"
    for msgid, msgstr in po.items():  # placeholders survive translation
        assert sorted(re.findall(r"%\((\w+)\)s", msgid)) == sorted(
            re.findall(r"%\((\w+)\)s", msgstr)), msgid


@pytest.mark.parametrize("locale", [loc for loc in i18n.LANGUAGES.values() if loc])
def test_committed_mo_is_compiled_from_the_po(locale: str) -> None:
    def messages(mo: bytes) -> dict[str, str]:
        catalog = dict(gettext.GNUTranslations(io.BytesIO(mo))._catalog)  # type: ignore[attr-defined]
        header = catalog.pop("")  # stamped with the Babel version that compiled it: compare the rest
        catalog[""] = re.sub(r"(?m)^Generated-By: .*\n", "", header)
        return catalog

    assert messages(i18n.mo_path(locale).read_bytes()) == messages(i18n.compile_catalog(locale)), (
        "stale .mo: run `python -m quiz_bank.i18n`")


def test_zh_tw_uses_the_lectures_wording() -> None:
    zh = _po_ids("zh_TW")
    assert zh["How many steps does 1 epoch have?"] == "1 個 epoch 有幾個 steps?"
    assert "校正項" in zh["Compute the bias-correction term."]
    assert "容易跑到 local minimum" in "".join(zh.values())  # Question #1's answer, in its own words


def test_environment_is_strict() -> None:
    from jinja2 import UndefinedError

    env = environment("en")
    template = env.from_string("<< missing >>")
    with pytest.raises(UndefinedError):
        template.render()
    assert env.from_string("<% trans %>Name<% endtrans %>").render() == "Name"
    assert environment("zh-TW").from_string("<% trans %>Name<% endtrans %>").render() == "姓名"
