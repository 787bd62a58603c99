"""/lang: switch between English and Simplified Chinese."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands import set_chat_commands
from bot.keyboards import LanguageChoice, language_keyboard
from campus.models import Person, Role
from campus.services.people import set_language


async def choose_language(message: Message) -> None:
    await message.answer(_("Choose your language:"), reply_markup=language_keyboard())


async def language_chosen(
    query: CallbackQuery,
    callback_data: LanguageChoice,
    session: AsyncSession,
    person: Person | None,
    roles: frozenset[Role],
    i18n: I18n,
    bot: Bot,
) -> None:
    if person is None or not isinstance(query.message, Message):
        await query.answer()
        return
    await set_language(session, person, callback_data.code)
    await session.commit()
    with i18n.use_locale(callback_data.code.value):
        await query.message.edit_text(_("Language set to English."))
        await query.answer()
    await set_chat_commands(bot, i18n, query.message.chat.id, callback_data.code.value, roles)


def build_router() -> Router:
    """The language router; a new one for every Dispatcher."""
    router = Router(name="language")
    router.message.register(choose_language, Command("lang", "language"))
    router.callback_query.register(language_chosen, LanguageChoice.filter())
    return router
