"""The delivery worker against Telegram's failures: flood control, server errors, blocked
users, lost responses, and a restart in the middle of a broadcast."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import polling_in_background
from campus.models import Delivery, OutboxMessage, OutboxPurpose, OutboxState
from campus.settings import load_settings
from emulator.testing import make_token, running_emulator
from knowledge_base.engine import FaqEngine
from tests.bot.conftest import LiveBot
from tests.bot.families import (
    acknowledge,
    make_school,
    publish,
    received,
    safety_alert,
    wait_until_sent,
)

FAST = {
    "tick_seconds": 3600,
    "quiet_hours": "off",
    "delivery_timeout_s": 1.0,
    "delivery_lease_s": 3.0,
    "delivery_chat_interval_s": 0.0,
}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return dict(FAST)


def messages_per_chat(live: LiveBot, users: list[Any]) -> Counter[int]:
    return Counter({user.id: len(live.emu.chat_log(user)) for user in users})


async def outbox_states(live: LiveBot) -> Counter[str]:
    async with live.sessionmaker() as session:
        rows = await session.execute(
            select(OutboxMessage.state, func.count(OutboxMessage.id)).group_by(OutboxMessage.state)
        )
        return Counter({state.value: count for state, count in rows})


async def test_flood_control_mid_broadcast_pauses_and_loses_nothing(live: LiveBot) -> None:
    setup = await make_school(live, {f"Child {n}": 1 for n in range(12)})
    live.emu.faults.add("sendMessage", kind="429", count=1, retry_after=1)
    await publish(live, setup, safety_alert(setup.class_id))
    parents = [f.guardians[0] for f in setup.families]
    for parent in parents:
        await received(live, parent)
    assert live.emu.stats.errors["sendMessage:429"] == 1
    assert set(messages_per_chat(live, parents).values()) == {1}
    assert await outbox_states(live) == Counter({"sent": 12})


async def test_server_errors_are_retried_with_backoff(live: LiveBot) -> None:
    setup = await make_school(live, {"Chen Jie": 1, "Wang Fang": 1})
    live.emu.faults.add("sendMessage", kind="5xx", count=2, status=502)
    await publish(live, setup, safety_alert(setup.class_id))
    parents = [f.guardians[0] for f in setup.families]
    for parent in parents:
        await received(live, parent, within=20)
    assert live.emu.stats.errors["sendMessage:502"] == 2
    assert set(messages_per_chat(live, parents).values()) == {1}
    async with live.sessionmaker() as session:
        attempts = sorted(await session.scalars(select(OutboxMessage.attempts)))
    assert sum(attempts) == 4  # two failed attempts and two successes


async def test_blocked_guardian_is_marked_unreachable_and_not_retried(live: LiveBot) -> None:
    setup = await make_school(live, {"Chen Jie": 1, "Wang Fang": 1, "Li Na": 1})
    blocked = setup.family("Chen Jie").guardians[0]
    gone = setup.family("Li Na").guardians[0]
    live.emu.block(blocked)
    live.emu.deactivate(gone)
    await publish(live, setup, safety_alert(setup.class_id))
    await received(live, setup.family("Wang Fang").guardians[0])
    await wait_until_sent(live)
    assert await outbox_states(live) == Counter({"sent": 1, "unreachable": 2})
    assert live.emu.stats.errors["sendMessage:403"] == 2
    async with live.sessionmaker() as session:
        unreachable = list(
            await session.scalars(
                select(Delivery.chat_id).where(Delivery.unreachable_at.is_not(None))
            )
        )
        planned = await session.scalar(
            select(func.count(Delivery.id)).where(
                Delivery.unreachable_at.is_not(None), Delivery.next_reminder_at.is_not(None)
            )
        )
    assert sorted(unreachable) == sorted([blocked.id, gone.id])
    assert planned == 0  # no reminders to people who cannot receive them


async def test_lost_response_is_sent_once_more_marked_as_a_possible_copy(
    live: LiveBot,
) -> None:
    setup = await make_school(live, {"Chen Jie": 1})
    live.emu.faults.add("sendMessage", kind="lost", count=1)
    notice_id = await publish(live, setup, safety_alert(setup.class_id))
    parent = setup.family("Chen Jie").guardians[0]
    first, second = await received(live, parent, count=2, within=20)
    assert "If you already received" not in first["text"]
    assert f"If you already received notice #{notice_id}, this is the same one." in second["text"]
    async with live.sessionmaker() as session:
        row = await session.scalar(select(OutboxMessage))
    assert row is not None and row.state == OutboxState.SENT and row.uncertain
    # The copy's button is the one that counts.
    edited = await acknowledge(live, parent, second)
    assert "Acknowledged at" in edited["text"]


async def test_restart_mid_broadcast_and_reminders_due_during_downtime(
    database_url: str, tmp_path: Path, faq_engine: FaqEngine
) -> None:
    async with running_emulator() as emu:
        token = make_token()
        settings = load_settings(
            data_dir=tmp_path,
            database_url=database_url,
            telegram_api_url=emu.base_url,
            bot_token=token,
            redis_url=None,
            delivery_rate_per_s=10,
            **FAST,
        )
        async with polling_in_background(settings, token=token, faq=faq_engine) as app:
            live = LiveBot(emu, app, settings)
            setup = await make_school(live, {f"Child {n}": 1 for n in range(30)})
            # Sent 5 h ago: the first reminder (after 4 h) is already due.
            await publish(live, setup, safety_alert(setup.class_id), sent_ago=timedelta(hours=5))
            parents = [f.guardians[0] for f in setup.families]
            await _wait_for(lambda: sum(len(emu.chat_log(p)) for p in parents) >= 8)
        # The process is gone mid-broadcast; reminders fell due meanwhile.
        sent_before = sum(len(emu.chat_log(p)) for p in parents)
        assert 8 <= sent_before < 30
        async with polling_in_background(settings, token=token, faq=faq_engine) as app:
            live = LiveBot(emu, app, settings)
            # At start the tick queues the due reminders and the worker finishes the rest.
            for parent in parents:
                await emu.wait_for_messages(parent, count=1, timeout=30)
            await wait_until_sent(live, within=30)
            await _wait_for(lambda: all(len(emu.chat_log(p)) >= 2 for p in parents))
            async with live.sessionmaker() as session:
                uncertain = await session.scalar(
                    select(func.count(OutboxMessage.id)).where(
                        OutboxMessage.uncertain.is_(True),
                        OutboxMessage.purpose == OutboxPurpose.NOTICE,
                    )
                )
        notices = Counter()
        reminders = Counter()
        for parent in parents:
            for message in emu.chat_log(parent):
                if message["text"].startswith("⏰ Reminder"):
                    reminders[parent.id] += 1
                else:
                    notices[parent.id] += 1
        assert all(reminders[p.id] == 1 for p in parents), reminders
        # Nothing lost; a second copy only where a send was cut off mid-flight.
        assert all(notices[p.id] >= 1 for p in parents)
        copies = sum(count - 1 for count in notices.values())
        assert copies <= (uncertain or 0)


async def _wait_for(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(20):
        while not condition():  # noqa: ASYNC110 - polling the emulator's chat logs
            await asyncio.sleep(0.1)
