"""``python -m quiz_bank.i18n``: re-extract, merge, recompile; list what is still untranslated."""

from quiz_bank.i18n import update

missing = update()
print("\n".join(missing) if missing else "all messages translated")
