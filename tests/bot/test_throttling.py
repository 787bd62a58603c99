"""A flooding user is told once to slow down and ignored for a while; others are not."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.throttling import FloodGuard
from tests.bot.conftest import LiveBot


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_guard_allows_a_burst_then_warns_once_then_ignores() -> None:
    clock = FakeClock()
    guard = FloodGuard(rate=1.0, burst=3, mute_seconds=10.0, clock=clock)
    assert [guard.admit(1) for _ in range(5)] == [True, True, True, False, None]
    assert guard.admit(2) is True
    clock.now = 9.9
    assert guard.admit(1) is None
    clock.now = 10.1
    assert guard.admit(1) is True


def test_guard_refills_at_its_rate() -> None:
    clock = FakeClock()
    guard = FloodGuard(rate=2.0, burst=2, mute_seconds=10.0, clock=clock)
    for step in range(20):
        clock.now = step * 0.5
        assert guard.admit(1) is True


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"flood_burst": 3, "flood_rate_per_s": 0.5, "flood_mute_seconds": 60}


async def test_flooding_user_is_muted_others_are_not(live: LiveBot) -> None:
    flooder = live.emu.create_user("Spam", language_code="zh")
    neighbour = live.emu.create_user("Calm", language_code="en")
    for n in range(8):
        await live.emu.send_text(flooder, f"hello {n}")
    replies = [m["text"] for m in await live.emu.wait_for_messages(flooder, count=4, timeout=10)]
    assert replies.count("请慢一点：稍等一会儿我会继续回复。") == 1
    assert "Who can see it" in (await live.send(neighbour, "/privacy"))["text"]
    await asyncio.sleep(0.3)
    assert len(live.emu.chat_log(flooder)) == 4
