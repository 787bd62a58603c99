"""Translations: English message ids, Simplified Chinese from a gettext catalog.

The ``.po`` catalogs are the source of truth. They are compiled at start-up into a
temporary directory that aiogram's ``I18n`` reads once, so no compiled ``.mo`` file is kept
in the repository or can go stale.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from aiogram.types import TelegramObject
from aiogram.utils.i18n import I18n, I18nMiddleware
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark a text for translation without translating it yet."""
    return message


def build_i18n(default_locale: str = "en") -> I18n:
    """aiogram's I18n loaded with the catalogs shipped with the bot."""
    with tempfile.TemporaryDirectory(prefix="safecampus-locales-") as compiled:
        for po_path in LOCALES_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"):
            locale = po_path.parent.parent.name
            mo_path = Path(compiled, locale, "LC_MESSAGES", f"{DOMAIN}.mo")
            mo_path.parent.mkdir(parents=True)
            with po_path.open("rb") as po_file, mo_path.open("wb") as mo_file:
                write_mo(mo_file, read_po(po_file, locale=locale))
        # I18n reads every catalog in its constructor; the directory may go afterwards.
        return I18n(path=compiled, default_locale=default_locale, domain=DOMAIN)


class PersonLocaleMiddleware(I18nMiddleware):
    """Uses the locale the person middleware chose for this update."""

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        locale = data.get("locale")
        return locale if isinstance(locale, str) else self.i18n.default_locale
