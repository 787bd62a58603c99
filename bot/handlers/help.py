"""/help, different for each role."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.texts import help_for
from campus.models import Role


async def show_help(message: Message, roles: frozenset[Role]) -> None:
    await message.answer(help_for(roles))


def build_router() -> Router:
    """The help router; a new one for every Dispatcher."""
    router = Router(name="help")
    router.message.register(show_help, Command("help"))
    return router
