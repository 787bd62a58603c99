"""Every user-facing text exists in English and Simplified Chinese."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import LOCALES_DIR, build_i18n

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "__": None, "N_": None}


def _message_ids() -> set[str]:
    ids: set[str] = set()
    for package in ("bot", "dialogs"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / package, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            ids.add(message if isinstance(message, str) else message[0])
    return ids


def _placeholders(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


def test_sources_have_user_facing_texts() -> None:
    assert len(_message_ids()) > 30


def test_every_message_is_translated_to_chinese() -> None:
    with (LOCALES_DIR / "zh" / "LC_MESSAGES" / "messages.po").open("rb") as po_file:
        catalog = read_po(po_file, locale="zh")
    untranslated = sorted(
        msgid for msgid in _message_ids() if not (catalog.get(msgid) and catalog[msgid].string)
    )
    assert untranslated == [], "untranslated message ids (run `make i18n`, then translate)"
    mismatched = [
        msgid
        for msgid in _message_ids()
        if _placeholders(msgid) != _placeholders(str(catalog[msgid].string))
    ]
    assert mismatched == [], "placeholders differ between English and Chinese"


def test_fuzzy_entries_are_not_left_behind() -> None:
    with (LOCALES_DIR / "zh" / "LC_MESSAGES" / "messages.po").open("rb") as po_file:
        catalog = read_po(po_file, locale="zh")
    assert [message.id for message in catalog if message.id and message.fuzzy] == []


@pytest.mark.parametrize(("locale", "expected"), [("en", "Welcome back!"), ("zh", "欢迎回来！")])
def test_catalogs_compile_at_start_up(locale: str, expected: str) -> None:
    i18n = build_i18n()
    assert i18n.gettext("Welcome back!", locale=locale) == expected
