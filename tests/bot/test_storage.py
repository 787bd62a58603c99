"""Conversation state: in memory by default, Redis when configured."""

from __future__ import annotations

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage

from bot.app import build_storage
from campus.settings import load_settings
from tests.services import REDIS_URL, redis_available


async def test_embedded_default_keeps_state_in_memory() -> None:
    storage = build_storage(load_settings(redis_url=None))
    assert isinstance(storage, MemoryStorage)
    await storage.close()


@pytest.mark.redis
async def test_redis_storage_shares_state_between_processes() -> None:
    await redis_available()
    key = StorageKey(bot_id=1, chat_id=42, user_id=42)
    writer = build_storage(load_settings(redis_url=REDIS_URL))
    reader = build_storage(load_settings(redis_url=REDIS_URL))
    try:
        await writer.set_state(key, "compose:audience")
        await writer.set_data(key, {"class": "3A"})
        assert await reader.get_state(key) == "compose:audience"
        assert await reader.get_data(key) == {"class": "3A"}
    finally:
        await writer.set_state(key, None)
        await writer.set_data(key, {})
        await writer.close()
        await reader.close()
