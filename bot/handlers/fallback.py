"""Catch-alls, registered last: no message and no button press goes unanswered."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

router = Router(name="fallback")


@router.message(F.chat.type == "private", F.text.startswith("/"))
async def unknown_command(message: Message) -> None:
    await message.answer(_("I don't know that command. /help shows what I can do."))


@router.message(F.chat.type == "private")
async def anything_else(message: Message) -> None:
    await message.answer(_("Sorry, I can't answer that yet. /help shows what I can do."))


@router.callback_query()
async def stale_button(query: CallbackQuery) -> None:
    await query.answer(_("This button is no longer active."), show_alert=True)
