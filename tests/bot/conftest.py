"""The real bot polling against the emulator, on each supported database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import Application, polling_in_background
from bot.demo import start_code
from bot.setup import create_school_with_claim_link
from campus.settings import Settings, load_settings
from emulator import EmulatorLimits, SimUser, TelegramEmulator
from emulator.testing import make_token, running_emulator
from knowledge_base.engine import FaqEngine

KB_CACHE = Path(__file__).resolve().parents[2] / "data" / "kb-cache"


@dataclass
class LiveBot:
    """A running bot, its emulator, and shortcuts for conversations."""

    emu: TelegramEmulator
    app: Application
    settings: Settings

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        return self.app.sessionmaker

    async def send(self, user: SimUser, text: str) -> dict[str, Any]:
        """Send text or a /command as ``user`` and return the bot's one reply."""
        if text.startswith("/"):
            command, _sep, args = text[1:].partition(" ")
            await self.emu.send_command(user, command, args or None)
        else:
            await self.emu.send_text(user, text)
        [reply] = await self.emu.wait_for_messages(user, count=1, timeout=10)
        return reply

    async def press(self, user: SimUser, message: dict[str, Any], button: str) -> dict[str, Any]:
        """Press the button labelled ``button`` and return the message as it is afterwards."""
        data = self.emu.button_data(message, button)
        answer = await self.emu.press_button(user, message, data, timeout=10)
        assert answer is not None, "the bot did not answer the button press"
        return self.emu.chat_log(user)[-1]

    async def new_school(self, name: str = "Sunshine Primary School") -> str:
        """Create a school; returns its administrator's claim code."""
        link = await create_school_with_claim_link(self.settings, name, None)
        return start_code(link)

    async def admin(self, name: str = "Zhang") -> SimUser:
        """A person who has claimed a new school as its administrator."""
        user = self.emu.create_user(name, language_code="en")
        code = await self.new_school()
        reply = await self.send(user, f"/start {code}")
        assert "You are now the administrator" in reply["text"]
        return user


@pytest.fixture
def limits() -> EmulatorLimits:
    """Telegram-like limits are off unless a test asks for them."""
    return EmulatorLimits.off()


@pytest.fixture(scope="session")
def faq_engine() -> FaqEngine:
    """One loaded knowledge base for the whole run; embeddings cached under ./data."""
    return FaqEngine.create(cache_dir=KB_CACHE)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Settings a test module wants different from the defaults."""
    return {}


@pytest.fixture
async def live(
    database_url: str,
    tmp_path: Path,
    limits: EmulatorLimits,
    settings_overrides: dict[str, Any],
    faq_engine: FaqEngine,
) -> AsyncIterator[LiveBot]:
    async with running_emulator(limits=limits) as emu:
        token = make_token()
        settings = load_settings(
            data_dir=tmp_path,
            database_url=database_url,
            telegram_api_url=emu.base_url,
            bot_token=token,
            redis_url=None,
            **settings_overrides,
        )
        async with polling_in_background(settings, token=token, faq=faq_engine) as app:
            yield LiveBot(emu, app, settings)
