"""Flood limits: 429 with retry_after per chat, per group per minute and globally."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter

from emulator import EmulatorLimits, TelegramEmulator
from emulator.errors import ApiError
from emulator.limits import RateLimiter


async def test_per_chat_limit_allows_a_burst_then_429(emu: TelegramEmulator, bot: Bot) -> None:
    emu.set_limits(EmulatorLimits(per_chat_per_s=1.0, per_chat_burst=3, global_per_s=None))
    alice, bob = emu.create_user("Alice"), emu.create_user("Bob")
    for index in range(3):
        await bot.send_message(alice.id, f"burst {index}")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(alice.id, "one too many")
    assert caught.value.retry_after == 1
    assert "Too Many Requests: retry after 1" in caught.value.message
    await bot.send_message(bob.id, "another chat is not limited")
    assert len(emu.chat_log(alice)) == 3
    assert emu.stats.errors["sendMessage:429"] == 1


async def test_global_limit(emu: TelegramEmulator, bot: Bot) -> None:
    emu.set_limits(EmulatorLimits(per_chat_per_s=None, group_per_min=None, global_per_s=5.0))
    users = [emu.create_user(f"Parent {index}") for index in range(6)]
    for user in users[:5]:
        await bot.send_message(user.id, "Notice")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(users[5].id, "Notice")
    assert caught.value.retry_after == 1


async def test_group_limit_is_20_per_minute(emu: TelegramEmulator, bot: Bot) -> None:
    emu.set_limits(EmulatorLimits(per_chat_per_s=None, group_per_min=20, global_per_s=None))
    group = emu.create_group("Class 3A parents", members=[emu.create_user("Alice")])
    for index in range(20):
        await bot.send_message(group.id, f"notice {index}")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(group.id, "notice 21")
    assert 55 <= caught.value.retry_after <= 60


async def test_edits_do_not_count_per_chat(emu: TelegramEmulator, bot: Bot) -> None:
    emu.set_limits(EmulatorLimits(per_chat_per_s=1.0, per_chat_burst=1, global_per_s=None))
    alice = emu.create_user("Alice")
    sent = await bot.send_message(alice.id, "v1")
    await bot.edit_message_text(text="v2", chat_id=alice.id, message_id=sent.message_id)
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(alice.id, "second message")


def test_limiter_refills_with_time_and_can_be_switched_off() -> None:
    clock = [0.0]
    limiter = RateLimiter(
        EmulatorLimits(per_chat_burst=2, global_per_s=None), clock=lambda: clock[0]
    )
    limiter.acquire(1, 10, is_group=False)
    limiter.acquire(1, 10, is_group=False)
    with pytest.raises(ApiError) as caught:
        limiter.acquire(1, 10, is_group=False)
    assert caught.value.retry_after == 1
    clock[0] += 1.0
    limiter.acquire(1, 10, is_group=False)
    limiter.acquire(2, 10, is_group=False)  # each bot has its own limits
    limiter.reconfigure(EmulatorLimits.off())
    for _ in range(100):
        limiter.acquire(1, 10, is_group=False)
