"""getUpdates: long polling wakes on new updates, honours offset and times out empty."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramConflictError

from emulator import TelegramEmulator
from emulator.testing import make_token


async def test_long_poll_returns_as_soon_as_a_user_writes(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.create_user("Alice", language_code="zh")
    await bot.get_me()
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.1)
    assert not poll.done()
    started = time.monotonic()
    await emu.send_text(alice, "你好")
    [update] = await asyncio.wait_for(poll, 2)
    assert time.monotonic() - started < 0.5
    assert update.message is not None
    assert update.message.text == "你好"
    assert update.message.from_user is not None
    assert update.message.from_user.language_code == "zh"
    assert update.message.chat.id == alice.id


async def test_offset_confirms_updates(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.create_user("Alice")
    await bot.get_me()
    for text in ("one", "two", "three"):
        await emu.send_text(alice, text)
    first = await bot.get_updates(limit=2)
    assert [u.message.text for u in first if u.message] == ["one", "two"]
    again = await bot.get_updates()
    assert len(again) == 3, "unconfirmed updates are delivered again"
    rest = await bot.get_updates(offset=first[-1].update_id + 1)
    assert [u.message.text for u in rest if u.message] == ["three"]
    assert await bot.get_updates(offset=rest[-1].update_id + 1, timeout=0) == []


async def test_long_poll_times_out_empty(bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == []
    assert 0.9 <= time.monotonic() - started < 2.0


async def test_newer_poll_terminates_older_one(bot: Bot) -> None:
    older = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    newer = asyncio.create_task(bot.get_updates(timeout=0))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
        await asyncio.wait_for(older, 2)
    assert await newer == []


async def test_commands_get_entities_and_queue_before_the_bot_connects(
    emu: TelegramEmulator, bot: Bot
) -> None:
    alice = emu.create_user("Alice")
    sent = await emu.send_command(alice, "start", "abc123")
    assert sent["text"] == "/start abc123"
    [update] = await bot.get_updates()
    message = update.message
    assert message is not None and message.entities is not None
    assert [(e.type, e.offset, e.length) for e in message.entities] == [("bot_command", 0, 6)]


async def test_group_messages_and_allowed_updates(
    emu: TelegramEmulator, make_bot: Callable[..., Bot]
) -> None:
    bot = make_bot(make_token(555))
    alice = emu.create_user("Alice")
    group = emu.create_group("Class 3A parents", members=[alice])
    await bot.get_updates(allowed_updates=["message"])
    await emu.send_command(alice, "help", chat=group)
    emu.block(alice)
    [update] = await bot.get_updates()
    assert update.message is not None
    assert update.message.chat.type == "group" and update.message.chat.id == group.id
    assert update.message.text == "/help@emulated_555_bot"
    with pytest.raises(ValueError, match="not a member"):
        await emu.send_text(emu.create_user("Eve"), "hi", chat=group)


async def test_block_sends_my_chat_member(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.create_user("Alice")
    await bot.get_me()
    await emu.send_text(alice, "hi")
    emu.block(alice)
    updates = await bot.get_updates()
    member = updates[-1].my_chat_member
    assert member is not None
    assert member.new_chat_member.status == "kicked"
    with pytest.raises(ValueError, match="blocked the bot"):
        await emu.send_text(alice, "hello?")
