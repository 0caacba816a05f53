"""Message catalogs for the handouts: English msgids in the templates, Traditional Chinese in zh_TW.

The compiled ``.mo`` is committed beside its ``.po`` (so a clean ``pip install -e .``
works without a build step); ``tests/quiz/test_i18n.py`` checks that it is up to
date.  After editing a template run ``python -m quiz_bank.i18n`` to re-extract,
merge into the ``.po`` and recompile, then translate any new entries.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from quiz_bank.errors import QuizError

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE.parent / "templates"
DOMAIN = "quiz_bank"
# CLI language tag → catalog locale; English is the msgid language and needs no catalog.
LANGUAGES: dict[str, str | None] = {"zh-TW": "zh_TW", "en": None}
DEFAULT_LANGUAGE = "zh-TW"

# Must match quiz_bank.render's environment, or extraction would miss or mangle messages.
JINJA_OPTIONS = {
    "block_start_string": "<%", "block_end_string": "%>",
    "variable_start_string": "<<", "variable_end_string": ">>",
    "comment_start_string": "<#", "comment_end_string": "#>",
    "trim_blocks": "true", "lstrip_blocks": "true", "trimmed": "true", "silent": "false",
}


def po_path(locale: str) -> Path:
    return HERE / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(locale: str) -> Path:
    return po_path(locale).with_suffix(".mo")


def check_language(lang: str) -> str:
    """The language tag as the CLI spells it; ``zh_TW``, ``zh-tw`` and ``EN`` are read as zh-TW and en."""
    spelled = {tag.casefold(): tag for tag in LANGUAGES}.get(lang.strip().replace("_", "-").casefold())
    if spelled is None:
        hint = " (the Chinese handouts are in Traditional Chinese, zh-TW)" if lang[:2].lower() == "zh" else ""
        raise QuizError(f"--lang: {lang!r} is not a handout language{hint}; expected one of "
                        f"{', '.join(LANGUAGES)}. Fix: pass --lang zh-TW or --lang en.")
    return spelled


def translations(lang: str) -> gettext.NullTranslations:
    """The gettext translations for a handout language (a compiled catalog, or none for English)."""
    locale = LANGUAGES[check_language(lang)]
    if locale is None:
        return gettext.NullTranslations()
    path = mo_path(locale)
    if not path.is_file():
        raise QuizError(f"catalog {path} is missing; the {lang} handouts need it. "
                        f"Fix: run `python -m quiz_bank.i18n` to compile it from the .po file.")
    with path.open("rb") as f:
        return gettext.GNUTranslations(f)


def extract() -> Catalog:
    """Every translatable message in the templates."""
    catalog = Catalog(project="optigrade quiz_bank", charset="utf-8", fuzzy=False)
    messages: Iterator[tuple[str, int, str | tuple[str, ...], list[str], str | None]] = extract_from_dir(
        str(TEMPLATES), [("**.j2", "jinja2.ext:babel_extract")], {"**.j2": JINJA_OPTIONS})
    for filename, lineno, message, comments, context in messages:
        where = [(f"templates/{filename}", lineno)]
        catalog.add(message, None, where, auto_comments=comments, context=context)
    return catalog


def compile_catalog(locale: str) -> bytes:
    """The ``.mo`` bytes of a locale's ``.po``."""
    with po_path(locale).open("rb") as f:
        catalog = read_po(f, locale=locale)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def update() -> list[str]:
    """Re-extract, merge into every ``.po``, recompile the ``.mo``; return the msgids still untranslated."""
    template = extract()
    untranslated: list[str] = []
    for locale in filter(None, LANGUAGES.values()):
        path = po_path(locale)
        if path.is_file():
            with path.open("rb") as f:
                catalog = read_po(f, locale=locale)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=locale, project="optigrade quiz_bank", charset="utf-8")
        if {m.id for m in catalog} == {m.id for m in template}:
            template.creation_date = catalog.creation_date  # nothing new: rerunning changes no file
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        catalog.fuzzy = False  # a fuzzy header would keep gettext from reading the charset
        catalog.version, catalog.copyright_holder = "0.1", "the optigrade authors"
        catalog.last_translator = catalog.language_team = "optigrade course staff"
        catalog.msgid_bugs_address = ""
        with path.open("wb") as f:
            write_po(f, catalog, width=110, omit_header=False, sort_output=False)
        mo_path(locale).write_bytes(compile_catalog(locale))
        untranslated += [f"{locale}: {m.id!r}" for m in catalog if m.id and not m.string]
    return untranslated
