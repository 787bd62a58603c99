"""Webhook mode: updates are POSTed with the secret header; getUpdates answers 409."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from aiogram import Bot, Dispatcher, Router
from aiogram.exceptions import TelegramConflictError
from aiogram.types import Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from emulator import TelegramEmulator


@dataclass
class Receiver:
    """A small webhook endpoint recording what it receives."""

    url: str
    received: list[tuple[str | None, dict[str, object]]] = field(default_factory=list)
    arrived: asyncio.Queue[dict[str, object]] = field(default_factory=asyncio.Queue)
    fail_next: int = 0


@asynccontextmanager
async def _serve(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver(url="")

    async def handle(request: web.Request) -> web.Response:
        update = await request.json()
        if state.fail_next:
            state.fail_next -= 1
            return web.Response(status=500)
        state.received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), update))
        state.arrived.put_nowait(update)
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/hook", handle)
    async with _serve(app) as base:
        state.url = f"{base}/hook"
        yield state


async def test_updates_are_posted_with_the_secret(
    emu: TelegramEmulator, bot: Bot, receiver: Receiver
) -> None:
    alice = emu.create_user("Alice")
    assert await bot.set_webhook(receiver.url, secret_token="s3cr3t_token")
    info = await bot.get_webhook_info()
    assert info.url == receiver.url and info.pending_update_count == 0
    receiver.fail_next = 1  # the first attempt fails and is retried
    await emu.send_text(alice, "hello webhook")
    update = await asyncio.wait_for(receiver.arrived.get(), 3)
    assert update["message"]["text"] == "hello webhook"  # type: ignore[index]
    assert receiver.received[0][0] == "s3cr3t_token"
    assert (await bot.get_webhook_info()).last_error_message is not None

    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates()

    assert await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""
    await emu.send_text(alice, "back to polling")
    [polled] = await bot.get_updates(timeout=1)
    assert polled.message is not None and polled.message.text == "back to polling"
    assert len(receiver.received) == 1


async def test_webhook_reply_method_is_executed(emu: TelegramEmulator, bot: Bot) -> None:
    router = Router()

    @router.message()
    async def reply(message: Message) -> object:
        return message.answer(f"you said: {message.text}")  # answered in the webhook response

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    app = web.Application()
    SimpleRequestHandler(dispatcher, bot, handle_in_background=False, secret_token="abc").register(
        app, path="/tg"
    )
    async with _serve(app) as base:
        await bot.set_webhook(f"{base}/tg", secret_token="abc")
        alice = emu.create_user("Alice")
        await emu.send_text(alice, "ping")
        [answer] = await emu.wait_for_messages(alice, timeout=3)
        assert answer["text"] == "you said: ping"
        await bot.delete_webhook()
