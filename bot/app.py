"""The composition root: builds the Bot, Dispatcher, engine and middlewares; nothing is created
at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.commands import set_default_commands
from bot.flood import RetryAfterMiddleware
from bot.handlers import get_routers
from bot.i18n import PersonLocaleMiddleware, build_i18n
from bot.middlewares import DbSessionMiddleware, OnePersonAtATimeMiddleware, PersonMiddleware
from bot.throttling import FloodGuard, ThrottlingMiddleware
from campus.db import create_sessionmaker, current_revision, open_database
from campus.settings import Settings
from knowledge_base.engine import FaqEngine

log = logging.getLogger(__name__)


@dataclass
class Application:
    """Everything one running bot process holds."""

    settings: Settings
    bot: Bot
    dispatcher: Dispatcher
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    i18n: I18n
    faq: FaqEngine


def build_bot(token: str, api_url: str | None) -> Bot:
    """A Bot talking to Telegram, a self-hosted Bot API server or the emulator."""
    session = (
        AiohttpSession(api=TelegramAPIServer.from_base(api_url)) if api_url else AiohttpSession()
    )
    session.middleware(RetryAfterMiddleware())
    return Bot(token=token, session=session, default=DefaultBotProperties(parse_mode=None))


def build_storage(settings: Settings) -> BaseStorage:
    """Conversation state: in memory for one process, Redis when several share the work."""
    if settings.redis_url:
        from aiogram.fsm.storage.redis import RedisStorage

        return RedisStorage.from_url(settings.redis_url)
    return MemoryStorage()


def build_faq_engine(settings: Settings) -> FaqEngine:
    """The knowledge base with its models and index; slow the first time (see docs)."""
    return FaqEngine.create(cache_dir=settings.kb_cache_dir)


def build_dispatcher(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    i18n: I18n,
    faq: FaqEngine,
) -> Dispatcher:
    """The Dispatcher with middlewares in order: flood guard, one update per person at a time,
    transaction, person, locale; then the routers."""
    dispatcher = Dispatcher(storage=build_storage(settings), settings=settings, faq=faq)
    guard = FloodGuard(
        rate=settings.flood_rate_per_s,
        burst=settings.flood_burst,
        mute_seconds=settings.flood_mute_seconds,
    )
    dispatcher.update.outer_middleware(ThrottlingMiddleware(guard, i18n, settings.default_language))
    dispatcher.update.outer_middleware(OnePersonAtATimeMiddleware())
    dispatcher.update.outer_middleware(DbSessionMiddleware(sessionmaker))
    dispatcher.update.outer_middleware(PersonMiddleware(settings.default_language))
    PersonLocaleMiddleware(i18n).setup(dispatcher)
    dispatcher.include_routers(*get_routers())
    return dispatcher


@asynccontextmanager
async def open_application(
    settings: Settings, *, token: str, faq: FaqEngine | None = None
) -> AsyncIterator[Application]:
    """Check and migrate the database, build everything, and close it all on exit.

    ``faq`` lets a caller share one loaded knowledge base between applications (tests).
    """
    async with open_database(settings.effective_database_url) as engine:
        log.info("database is at revision %s", await current_revision(engine))
        if faq is None:
            log.info("loading the knowledge base (the first start embeds it: about a minute)")
            faq = await asyncio.to_thread(build_faq_engine, settings)
            log.info("knowledge base ready: %d topics", len(faq.knowledge_base))
        i18n = build_i18n(settings.default_language.value)
        sessionmaker = create_sessionmaker(engine)
        bot = build_bot(token, settings.telegram_api_url)
        dispatcher = build_dispatcher(settings, sessionmaker, i18n, faq)
        try:
            yield Application(settings, bot, dispatcher, engine, sessionmaker, i18n, faq)
        finally:
            await dispatcher.storage.close()
            await bot.session.close()


async def run_polling(app: Application, *, handle_signals: bool = True) -> None:
    """Serve updates by long polling until stopped."""
    me = await app.bot.get_me()
    log.info("SafeCampus is running as @%s", me.username)
    await set_default_commands(app.bot, app.i18n)
    await app.dispatcher.start_polling(
        app.bot, handle_signals=handle_signals, close_bot_session=False, polling_timeout=10
    )


@asynccontextmanager
async def polling_in_background(
    settings: Settings, *, token: str, faq: FaqEngine | None = None
) -> AsyncIterator[Application]:
    """The real bot polling in a background task, for the demo and end-to-end tests."""
    async with open_application(settings, token=token, faq=faq) as app:
        task = asyncio.create_task(run_polling(app, handle_signals=False))
        try:
            yield app
        finally:
            if not task.done():
                try:
                    await app.dispatcher.stop_polling()
                except RuntimeError:  # polling had not started yet
                    task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
