"""Catch-alls, registered last: no message and no button press goes unanswered."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _


async def unknown_command(message: Message) -> None:
    await message.answer(_("I don't know that command. /help shows what I can do."))


async def anything_else(message: Message) -> None:
    await message.answer(_("Sorry, I can't answer that yet. /help shows what I can do."))


async def stale_button(query: CallbackQuery) -> None:
    await query.answer(_("This button is no longer active."), show_alert=True)


def build_router() -> Router:
    """The fallback router; a new one for every Dispatcher."""
    router = Router(name="fallback")
    router.message.register(unknown_command, F.chat.type == "private", F.text.startswith("/"))
    router.message.register(anything_else, F.chat.type == "private")
    router.callback_query.register(stale_button)
    return router
