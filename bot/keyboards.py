"""Inline keyboards and the callback data they carry."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from campus.settings import Language

LANGUAGE_NAMES = {Language.EN: "English", Language.ZH: "简体中文"}


class LanguageChoice(CallbackData, prefix="lang"):
    code: Language


class JoinAnswer(CallbackData, prefix="join"):
    code: str
    accept: bool


class FaqAction(CallbackData, prefix="faq"):
    """A button under an answer: ``act`` is one of topic, more, helpful, unhelpful, expert."""

    act: str
    question: int
    entry: str = ""


def language_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for language, name in LANGUAGE_NAMES.items():
        builder.button(text=name, callback_data=LanguageChoice(code=language))
    return builder.as_markup()


def join_keyboard(code: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("Yes, this is my child"), callback_data=JoinAnswer(code=code, accept=True)
    )
    builder.button(text=_("No, cancel"), callback_data=JoinAnswer(code=code, accept=False))
    builder.adjust(1)
    return builder.as_markup()
