"""/privacy: what is stored, who sees it, how long."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.texts import privacy_notice


async def show_privacy(message: Message) -> None:
    await message.answer(privacy_notice())


def build_router() -> Router:
    """The privacy router; a new one for every Dispatcher."""
    router = Router(name="privacy")
    router.message.register(show_privacy, Command("privacy"))
    return router
