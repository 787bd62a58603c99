"""Outer middlewares: one database transaction per update, and who is talking."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Chat, TelegramObject, User
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campus.services.people import (
    TelegramIdentity,
    get_or_create_person,
    language_from_telegram,
    roles_of,
)
from campus.settings import Language

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class OnePersonAtATimeMiddleware(BaseMiddleware):
    """Handles one person's updates in the order they came, each after the previous one
    committed: a tap on "Yes" followed at once by /help must see the link it made.
    Different people are still handled concurrently."""

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None:
            return await handler(event, data)
        lock = self._locks.setdefault(user.id, asyncio.Lock())
        self._waiting[user.id] = self._waiting.get(user.id, 0) + 1
        try:
            async with lock:
                return await handler(event, data)
        finally:
            self._waiting[user.id] -= 1
            if not self._waiting[user.id]:
                del self._waiting[user.id], self._locks[user.id]


class DbSessionMiddleware(BaseMiddleware):
    """One session and transaction per update, committed only if handling succeeded.

    A handler that confirms a change to the user ("Done", "Recorded") commits first, so the
    confirmation never precedes the write; anything after that is committed here.
    """

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with self.sessionmaker() as session:
            data["session"] = session
            try:
                result = await handler(event, data)
            except BaseException:
                await session.rollback()
                raise
            await session.commit()
            return result


class PersonMiddleware(BaseMiddleware):
    """Loads (or creates on first contact) the person behind a private-chat user, their roles
    and their language. In groups nobody is registered."""

    def __init__(self, default_language: Language) -> None:
        self.default_language = default_language

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        chat: Chat | None = data.get("event_chat")
        data["person"] = None
        data["roles"] = frozenset()
        if user is None or user.is_bot:
            data["locale"] = self.default_language.value
            return await handler(event, data)
        data["locale"] = language_from_telegram(user.language_code, self.default_language).value
        if chat is None or chat.type == "private":
            identity = TelegramIdentity(user.id, user.full_name, user.language_code)
            person = await get_or_create_person(data["session"], identity, self.default_language)
            data["person"] = person
            data["roles"] = roles_of(person)
            data["locale"] = person.language
        return await handler(event, data)
