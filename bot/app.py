"""The composition root: builds the Bot, Dispatcher, engine and middlewares; nothing is created
at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.utils.i18n import I18n
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.cases_setup import case_times
from bot.commands import set_default_commands
from bot.delivery import DeliveryWorker
from bot.flood import RetryAfterMiddleware
from bot.handlers import get_routers
from bot.i18n import PersonLocaleMiddleware, build_i18n
from bot.middlewares import DbSessionMiddleware, OnePersonAtATimeMiddleware, PersonMiddleware
from bot.throttling import FloodGuard, ThrottlingMiddleware
from campus.db import create_sessionmaker, current_revision, open_database
from campus.settings import ConfigError, NluBackend, Settings
from knowledge_base.engine import FaqEngine
from knowledge_base.nlu_backend import BuiltinNlu, Nlu, RasaBackedNlu
from knowledge_base.rasa_nlu import RasaNlu
from scheduler.clock import build_scheduler

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
    delivery: DeliveryWorker
    scheduler: AsyncIOScheduler


@dataclass
class Worker:
    """Everything a sending-only process holds: the delivery worker and the clock, no
    Dispatcher and no knowledge base, as no updates are received."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    i18n: I18n
    sender: Bot
    delivery: DeliveryWorker
    scheduler: AsyncIOScheduler


def build_bot(token: str, api_url: str | None) -> Bot:
    """A Bot talking to Telegram, a self-hosted Bot API server or the emulator."""
    session = (
        AiohttpSession(api=TelegramAPIServer.from_base(api_url)) if api_url else AiohttpSession()
    )
    session.middleware(RetryAfterMiddleware())
    return Bot(token=token, session=session, default=DefaultBotProperties(parse_mode=None))


def build_sender(token: str, api_url: str | None) -> Bot:
    """The Bot the delivery worker sends notices with: no retrying middleware."""
    session = (
        AiohttpSession(api=TelegramAPIServer.from_base(api_url)) if api_url else AiohttpSession()
    )
    return Bot(token=token, session=session, default=DefaultBotProperties(parse_mode=None))


def build_storage(settings: Settings) -> BaseStorage:
    """Conversation state: in memory for one process, Redis when several share the work."""
    if settings.redis_url:
        from aiogram.fsm.storage.redis import RedisStorage

        return RedisStorage.from_url(settings.redis_url)
    return MemoryStorage()


def build_faq_engine(settings: Settings) -> FaqEngine:
    """The knowledge base with its models and index; slow the first time (see docs)."""
    return FaqEngine.create(cache_dir=settings.kb_cache_dir, learned_dir=settings.kb_learned_dir)


def build_nlu(settings: Settings, faq: FaqEngine) -> Nlu:
    """Who decides on questions: the engine, or a Rasa server in front of it (docs/rasa.md)."""
    if settings.nlu is NluBackend.RASA and settings.rasa_url:
        rasa = RasaNlu.for_entries(
            settings.rasa_url, faq.knowledge_base.ids, timeout=settings.rasa_timeout_s
        )
        log.info("questions go to Rasa NLU at %s first", rasa.url)
        return RasaBackedNlu(faq, rasa)
    return BuiltinNlu(faq)


def build_dispatcher(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    i18n: I18n,
    faq: FaqEngine,
    nlu: Nlu,
) -> Dispatcher:
    """The Dispatcher with middlewares in order: flood guard, one update per person at a time,
    transaction, person, locale; then the routers."""
    dispatcher = Dispatcher(storage=build_storage(settings), settings=settings, faq=faq, nlu=nlu)
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


def build_duties(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    i18n: I18n,
    sender: Bot,
) -> tuple[DeliveryWorker, AsyncIOScheduler]:
    """The delivery worker and the scheduler (not started) whose tick wakes it."""
    delivery = DeliveryWorker(
        sender,
        sessionmaker,
        i18n,
        rate_per_s=settings.delivery_rate_per_s,
        chat_interval_s=settings.delivery_chat_interval_s,
        request_timeout_s=settings.delivery_timeout_s,
        lease=timedelta(seconds=settings.delivery_lease_s),
    )
    scheduler = build_scheduler(
        sessionmaker,
        tick_seconds=settings.tick_seconds,
        quiet_window=settings.quiet_window,
        question_days=settings.question_retention_days,
        evidence_days=settings.evidence_retention_days,
        case_times=case_times(settings),
        timezone=settings.timezone,
        on_queued=delivery.nudge,
    )
    return delivery, scheduler


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
        nlu = build_nlu(settings, faq)
        # Bulk sending paces itself and must not wait out 429s inside a request.
        sender = build_sender(token, settings.telegram_api_url)
        delivery, scheduler = build_duties(settings, sessionmaker, i18n, sender)
        dispatcher = build_dispatcher(settings, sessionmaker, i18n, faq, nlu)
        dispatcher["outbox_queued"] = delivery.nudge
        dispatcher["case_times"] = case_times(settings)
        try:
            yield Application(
                settings, bot, dispatcher, engine, sessionmaker, i18n, faq, delivery, scheduler
            )
        finally:
            await nlu.close()
            await dispatcher.storage.close()
            await bot.session.close()
            await sender.session.close()


@asynccontextmanager
async def open_worker(settings: Settings, *, token: str) -> AsyncIterator[Worker]:
    """Check and migrate the database, build the delivery worker and the clock, and close
    them on exit: a process that sends and receives nothing (``safecampus worker``)."""
    async with open_database(settings.effective_database_url) as engine:
        log.info("database is at revision %s", await current_revision(engine))
        i18n = build_i18n(settings.default_language.value)
        sessionmaker = create_sessionmaker(engine)
        sender = build_sender(token, settings.telegram_api_url)
        delivery, scheduler = build_duties(settings, sessionmaker, i18n, sender)
        try:
            yield Worker(settings, engine, sessionmaker, i18n, sender, delivery, scheduler)
        finally:
            await sender.session.close()


async def run_polling(
    app: Application, *, handle_signals: bool = True, duties: bool = True
) -> None:
    """Serve updates by long polling until stopped; with ``duties`` also send and run the
    clock in this process."""
    me = await app.bot.get_me()
    log.info("SafeCampus is running as @%s", me.username)
    await set_default_commands(app.bot, app.i18n)
    async with _duties_if(app, duties):
        await app.dispatcher.start_polling(
            app.bot, handle_signals=handle_signals, close_bot_session=False, polling_timeout=10
        )


async def leave_webhook_mode(app: Application, *, delete_webhook: bool) -> None:
    """Before polling: Telegram answers getUpdates with 409 while a webhook is set.

    Raises ConfigError naming the webhook unless ``delete_webhook`` allows removing it.
    """
    info = await app.bot.get_webhook_info()
    if not info.url:
        return
    if not delete_webhook:
        raise ConfigError(
            f"a webhook is set ({info.url}), so Telegram sends the updates there: set "
            "SAFECAMPUS_WEBHOOK_URL to run in webhook mode, or start once with "
            "`safecampus run --delete-webhook` to go back to polling"
        )
    log.warning("deleting the webhook %s: updates are polled from now on", info.url)
    await app.bot.delete_webhook(drop_pending_updates=False)


def webhook_path(url: str) -> str:
    """The path the webhook server serves: the one in the URL Telegram calls."""
    return urlsplit(url).path or "/"


async def run_webhook(
    app: Application,
    *,
    url: str,
    listen_host: str,
    listen_port: int,
    path: str,
    duties: bool = True,
    handle_signals: bool = True,
    delete_webhook_on_stop: bool = False,
) -> None:
    """Serve updates that Telegram POSTs to ``url`` until stopped (a signal, or cancelling
    the task); with ``duties`` also send and run the clock in this process.

    The server listens on ``listen_host:listen_port`` for ``path``, usually behind a reverse
    proxy that terminates TLS. Telegram sends the secret with every update
    (``SAFECAMPUS_WEBHOOK_SECRET``, or a random one for every start); a request without it
    is refused with 401. The webhook stays set on stop, so updates wait at Telegram for the
    next start, unless ``delete_webhook_on_stop``.
    """
    configured = app.settings.webhook_secret
    secret = configured.get_secret_value() if configured else secrets.token_urlsafe(32)
    me = await app.bot.get_me()
    await set_default_commands(app.bot, app.i18n)
    # Each update is answered once handled and committed: Telegram re-sends it if this
    # process stops first (handle_in_background would acknowledge it before that).
    handler = SimpleRequestHandler(
        app.dispatcher, app.bot, handle_in_background=False, secret_token=secret
    )
    server = web.Application()
    # Not handler.register(): it would close the Bot's session, which open_application owns.
    server.router.add_post(path, handler.handle)
    setup_application(server, app.dispatcher, bot=app.bot)
    runner = web.AppRunner(server, access_log=None)
    async with _duties_if(app, duties):
        await runner.setup()
        try:
            await web.TCPSite(runner, listen_host, listen_port).start()
            try:
                await app.bot.set_webhook(
                    url,
                    secret_token=secret,
                    allowed_updates=app.dispatcher.resolve_used_update_types(),
                    drop_pending_updates=False,
                )
            except TelegramBadRequest as refusal:
                raise ConfigError(
                    f"Telegram refused the webhook {url}: {refusal.message}"
                ) from None
            log.info(
                "SafeCampus is running as @%s: updates arrive at %s (listening on %s:%d, %s)",
                me.username,
                url,
                listen_host,
                listen_port,
                "secret from SAFECAMPUS_WEBHOOK_SECRET" if configured else "a random secret",
            )
            try:
                await wait_until_stopped(handle_signals=handle_signals)
            finally:
                if delete_webhook_on_stop:
                    await app.bot.delete_webhook(drop_pending_updates=False)
        finally:
            # Stops listening, then lets the updates being handled finish.
            await runner.cleanup()


async def run_worker(worker: Worker, *, handle_signals: bool = True) -> None:
    """Send what is due and run the clock until stopped (a signal, or cancelling the task)."""
    me = await worker.sender.get_me()
    log.info("SafeCampus worker is sending as @%s (it receives no updates)", me.username)
    async with background_duties(worker):
        await wait_until_stopped(handle_signals=handle_signals)


async def wait_until_stopped(*, handle_signals: bool) -> None:
    """Return on SIGTERM or SIGINT when ``handle_signals``; otherwise wait to be cancelled."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    watched = (signal.SIGTERM, signal.SIGINT) if handle_signals else ()
    for number in watched:
        loop.add_signal_handler(number, stop.set)
    try:
        await stop.wait()
        log.info("stopping")
    finally:
        for number in watched:
            loop.remove_signal_handler(number)


def _duties_if(app: Application | Worker, duties: bool) -> AbstractAsyncContextManager[None]:
    return background_duties(app) if duties else contextlib.nullcontext()


@asynccontextmanager
async def background_duties(app: Application | Worker) -> AsyncIterator[None]:
    """The delivery worker and the scheduler's tick, for as long as the bot serves."""
    worker = asyncio.create_task(app.delivery.run(), name="delivery-worker")
    app.scheduler.start()
    # Handle what fell due while the bot was down at once, not one interval later.
    app.scheduler.modify_job("tick", next_run_time=datetime.now(UTC))
    try:
        yield
    finally:
        app.scheduler.shutdown(wait=False)
        app.delivery.stop()
        try:
            await asyncio.wait_for(worker, app.settings.delivery_timeout_s + 5)
        except TimeoutError:
            log.warning("the delivery worker did not stop in time; its leases will expire")


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
