"""The note under an answer that exists only in another language for now (an entry
learned from an expert, not translated yet)."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _

from bot.texts import languages_text
from knowledge_base.entries import Entry, Lang


def translation_note(entry: Entry, lang: Lang) -> str | None:
    """In the reader's language ``lang``: the answer is in another language until it is
    translated; None when ``entry`` exists in ``lang``. Call inside the reader's locale."""
    shown = entry.text_language(lang)
    if shown == lang:
        return None
    return _(
        "This answer from the school's experts is only in {language} for now; a translation "
        "is on its way."
    ).format(language=languages_text([shown]))
