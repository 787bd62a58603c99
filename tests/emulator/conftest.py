"""Fixtures for the emulator's tests: a running emulator and aiogram bots pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from emulator import EmulatorLimits, TelegramEmulator
from emulator.testing import make_token, running_emulator

BotFactory = Callable[..., Bot]


class EmulatorSession(AiohttpSession):
    """aiogram's own session; closing skips the 250 ms TLS grace sleep plain HTTP needs not."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    """An emulator without flood limits (limit tests switch them on)."""
    async with running_emulator(limits=EmulatorLimits.off()) as emulator:
        yield emulator


@pytest.fixture
async def make_bot(emu: TelegramEmulator) -> AsyncIterator[BotFactory]:
    """Build real aiogram Bots talking to the emulator; their sessions close at teardown."""
    bots: list[Bot] = []

    def build(token: str | None = None, **kwargs: Any) -> Bot:
        session = EmulatorSession(api=TelegramAPIServer.from_base(emu.base_url))
        bot = Bot(token or make_token(), session=session, **kwargs)
        bots.append(bot)
        return bot

    yield build
    for bot in bots:
        await bot.session.close()


@pytest.fixture
def bot(make_bot: BotFactory) -> Bot:
    """The default bot (token ``make_token()``)."""
    return make_bot()
