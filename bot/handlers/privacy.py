"""/privacy: what is stored, who sees it, how long."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.texts import privacy_notice

router = Router(name="privacy")


@router.message(Command("privacy"))
async def show_privacy(message: Message) -> None:
    await message.answer(privacy_notice())
