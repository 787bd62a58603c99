"""Injected faults: 5xx, slow answers, dropped connections and lost responses."""

from __future__ import annotations

import time

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError

from emulator import TelegramEmulator
from emulator.faults import FaultInjector


async def test_5xx_for_the_next_calls_only(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.create_user("Alice")
    emu.faults.add("sendMessage", kind="5xx", count=2, status=502)
    for _ in range(2):
        with pytest.raises(TelegramServerError, match="Bad Gateway"):
            await bot.send_message(alice.id, "Notice")
    assert await bot.get_me()
    assert (await bot.send_message(alice.id, "Notice")).text == "Notice"
    assert len(emu.chat_log(alice)) == 1, "a 5xx sends nothing"
    assert emu.stats.errors["sendMessage:502"] == 2
    assert emu.faults.active == []


async def test_slow_answer(emu: TelegramEmulator, bot: Bot) -> None:
    emu.faults.add(None, kind="slow", delay=0.4, count=1)
    started = time.monotonic()
    await bot.get_me()
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    await bot.get_me()
    assert time.monotonic() - started < 0.3


async def test_dropped_connection_sends_nothing(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.create_user("Alice")
    emu.faults.add("sendMessage", kind="drop")
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(alice.id, "Notice")
    assert emu.chat_log(alice) == []


async def test_lost_response_is_sent_and_retrying_duplicates(
    emu: TelegramEmulator, bot: Bot
) -> None:
    alice = emu.create_user("Alice")
    emu.faults.add("sendMessage", kind="lost")
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(alice.id, "Fire drill at 10:00")
    assert [m["text"] for m in emu.chat_log(alice)] == ["Fire drill at 10:00"]
    await bot.send_message(alice.id, "Fire drill at 10:00")  # a naive retry
    [duplicate] = emu.stats.duplicates()
    assert (duplicate.chat_id, duplicate.text, duplicate.count) == (
        alice.id,
        "Fire drill at 10:00",
        2,
    )
    assert emu.stats.duplicate_count == 1
    assert emu.faults.fired["lost"] == 1


async def test_forced_429(emu: TelegramEmulator, bot: Bot) -> None:
    emu.faults.add("getMe", kind="429", retry_after=7)
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.get_me()
    assert caught.value.retry_after == 7


def test_probability_is_seeded_and_replayable() -> None:
    def run() -> list[bool]:
        faults = FaultInjector()
        faults.add("sendMessage", kind="5xx", probability=0.3, seed=11)
        return [faults.plan("sendMessage").fault is not None for _ in range(50)]

    first = run()
    assert first == run()
    assert 5 <= sum(first) <= 25
    faults = FaultInjector()
    faults.add(["sendMessage", "sendDocument"], kind="drop", count=1)
    assert faults.plan("getMe").fault is None, "other methods are not hit"
    assert faults.plan("SENDDOCUMENT").fault is not None
    assert faults.plan("sendMessage").fault is None, "used up"
