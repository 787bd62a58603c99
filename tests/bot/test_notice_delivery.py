"""Notices end to end through the emulator: delivery, acknowledgement, reminders, second
guardians, quiet hours, deadline reports and new versions."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from campus.models import (
    Acknowledgement,
    AuditEvent,
    Delivery,
    Notice,
    NoticeKind,
    OutboxMessage,
    OutboxPurpose,
    Person,
    utcnow,
)
from campus.services.notices import revise_notice
from scheduler.tick import run_tick
from tests.bot.conftest import LiveBot
from tests.bot.families import (
    acknowledge,
    make_school,
    publish,
    received,
    safety_alert,
    wait_until_sent,
)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # The tests run the tick themselves; the scheduler's own tick runs only at start.
    return {"tick_seconds": 3600, "quiet_hours": "off"}


async def tick(live: LiveBot, quiet: tuple[time, time] | None = None) -> None:
    await run_tick(live.sessionmaker, quiet, live.app.delivery.nudge)
    await wait_until_sent(live)


async def test_each_guardian_gets_one_message_per_child_naming_the_child(live: LiveBot) -> None:
    setup = await make_school(
        live,
        {"Wang Fang": 1, "Wang Lei": 1, "Chen Jie": 1},
        shared_parent_for=("Wang Fang", "Wang Lei"),
    )
    await publish(live, setup, safety_alert(setup.class_id))
    shared_parent = setup.family("Wang Fang").guardians[0]
    messages = await received(live, shared_parent, count=2)
    texts = sorted(m["text"] for m in messages)
    assert "Wang Fang" in texts[0] and "Wang Lei" not in texts[0]
    assert "Wang Lei" in texts[1] and "Wang Fang" not in texts[1]
    assert all("3A" in text and "Swimming safety" in text for text in texts)
    [chen] = await received(live, setup.family("Chen Jie").guardians[0])
    assert "remind Chen Jie of 3A" in chen["text"]
    assert live.emu.button_texts(chen) == ["✅ I have read this and will supervise Chen Jie"]
    assert live.emu.stats.duplicate_count == 0


async def test_acknowledge_records_the_first_press_only(live: LiveBot) -> None:
    setup = await make_school(live, {"Chen Jie": 1})
    notice_id = await publish(live, setup, safety_alert(setup.class_id))
    parent = setup.family("Chen Jie").guardians[0]
    [message] = await received(live, parent)
    button = live.emu.button_texts(message)[0]

    edited = await acknowledge(live, parent, message)
    assert "✅ Acknowledged at" in edited["text"]
    assert live.emu.button_texts(edited) == []

    data = live.emu.button_data(message, button)
    again = await live.emu.press_button(parent, message, data, check_button=False)
    assert again is not None and "Already acknowledged" in again["text"]
    async with live.sessionmaker() as session:
        acks = await session.scalar(
            select(func.count(Acknowledgement.id)).where(Acknowledgement.notice_id == notice_id)
        )
        events = await session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.kind == "notice.acknowledged")
        )
    assert acks == 1 and events == 1


async def test_forged_press_by_someone_else_changes_nothing(live: LiveBot) -> None:
    setup = await make_school(live, {"Chen Jie": 1})
    await publish(live, setup, safety_alert(setup.class_id))
    parent = setup.family("Chen Jie").guardians[0]
    [message] = await received(live, parent)
    data = live.emu.button_data(message, live.emu.button_texts(message)[0])
    intruder = live.emu.create_user("Intruder")

    answer = await live.emu.press_button(parent, message, data, from_user=intruder)
    assert answer is not None and "not for you" in answer["text"]
    # The same delivery with a made-up version is refused too.
    forged = data.rsplit(":", 1)[0] + ":7"
    answer = await live.emu.press_button(parent, message, forged, check_button=False)
    assert answer is not None and "not for you" in answer["text"]
    async with live.sessionmaker() as session:
        assert await session.scalar(select(func.count(Acknowledgement.id))) == 0
        delivery = await session.scalar(select(Delivery))
        assert delivery is not None and delivery.acked_at is None


async def test_reminders_stop_once_acknowledged_and_second_guardian_is_asked(
    live: LiveBot,
) -> None:
    setup = await make_school(live, {"Chen Jie": 2, "Wang Fang": 1})
    # Sent 5 h ago with reminders after 4 h and 12 h: the first reminder is due.
    await publish(live, setup, safety_alert(setup.class_id), sent_ago=timedelta(hours=5))
    mother, father = setup.family("Chen Jie").guardians
    [wang_parent] = setup.family("Wang Fang").guardians
    await received(live, mother)
    [wang_first] = await received(live, wang_parent)
    assert live.emu.chat_log(father) == []  # the second guardian waits

    await live.press(wang_parent, wang_first, live.emu.button_texts(wang_first)[0])
    await tick(live)
    [reminder] = await received(live, mother)
    assert reminder["text"].startswith("⏰ Reminder") and "Chen Jie" in reminder["text"]
    assert len(live.emu.chat_log(wang_parent)) == 1  # acknowledged: no reminder
    assert live.emu.chat_log(father) == []

    # 13 h after sending the first reminder has gone unanswered: the father is asked too.
    async with live.sessionmaker() as session, session.begin():
        notice = await session.scalar(select(Notice))
        assert notice is not None
        notice.send_at = utcnow() - timedelta(hours=13)
        for delivery in await session.scalars(select(Delivery)):
            if delivery.next_reminder_at is not None:
                delivery.next_reminder_at = utcnow() - timedelta(minutes=1)
    await tick(live)
    [asked] = await received(live, father)
    assert "Chen Jie" in asked["text"] and live.emu.button_texts(asked)
    [second_reminder] = await received(live, mother)
    assert second_reminder["text"].startswith("⏰ Reminder")

    # The father acknowledges for the family: nobody in it is reminded again.
    await live.press(father, asked, live.emu.button_texts(asked)[0])
    async with live.sessionmaker() as session:
        pending = await session.scalar(
            select(func.count(Delivery.id)).where(Delivery.next_reminder_at.is_not(None))
        )
    assert pending == 0


async def test_quiet_hours_hold_reminders_but_not_urgent_alerts(live: LiveBot) -> None:
    setup = await make_school(live, {"Chen Jie": 1}, timezone="UTC")
    now = utcnow()
    quiet = ((now - timedelta(hours=1)).time(), (now + timedelta(hours=1)).time())
    await publish(live, setup, safety_alert(setup.class_id), sent_ago=timedelta(hours=5))
    await publish(
        live,
        setup,
        safety_alert(
            setup.class_id,
            kind=NoticeKind.URGENT_ALERT,
            deadline=timedelta(hours=2),
            reminders=(timedelta(minutes=15), timedelta(minutes=45)),
        ),
        sent_ago=timedelta(minutes=20),
    )
    parent = setup.family("Chen Jie").guardians[0]
    await received(live, parent, count=2)
    await tick(live, quiet)
    [reminder] = await received(live, parent)
    assert "URGENT" in reminder["text"]
    async with live.sessionmaker() as session:
        held = await session.scalar(
            select(Delivery)
            .join(Notice, Notice.id == Delivery.notice_id)
            .where(Notice.kind == NoticeKind.SAFETY_ALERT)
        )
    assert held is not None and held.reminders_sent == 0
    assert held.next_reminder_at is not None
    assert abs(
        held.next_reminder_at.replace(tzinfo=None) - (now + timedelta(hours=1)).replace(tzinfo=None)
    ) < timedelta(minutes=2)


async def test_deadline_sends_the_teacher_the_families_to_call(live: LiveBot) -> None:
    setup = await make_school(live, {"Chen Jie": 2, "Wang Fang": 1, "Li Na": 1})
    await publish(live, setup, safety_alert(setup.class_id), sent_ago=timedelta(hours=25))
    [wang_parent] = setup.family("Wang Fang").guardians
    [li_parent] = setup.family("Li Na").guardians
    [wang_msg] = await received(live, wang_parent)
    await received(live, li_parent)
    await live.press(wang_parent, wang_msg, live.emu.button_texts(wang_msg)[0])
    live.emu.block(li_parent)
    async with live.sessionmaker() as session, session.begin():
        for delivery in await session.scalars(select(Delivery)):
            delivery.unreachable_at = utcnow() if delivery.chat_id == li_parent.id else None

    await tick(live)
    [report] = await received(live, setup.teacher)
    text = report["text"]
    assert "Deadline reached" in text and "Acknowledged: 1 of 3 families" in text
    assert "Chen Jie (3A)" in text and "Li Na (3A)" in text and "Wang Fang" not in text
    assert "not reachable in Telegram" in text
    # Sent only to the teacher's private chat.
    assert report["chat"]["type"] == "private"
    # No reminders after the deadline.
    assert len(live.emu.chat_log(setup.family("Chen Jie").guardians[0])) == 1


async def test_new_version_makes_acknowledgements_stale(live: LiveBot) -> None:
    setup = await make_school(live, {"Chen Jie": 1})
    notice_id = await publish(live, setup, safety_alert(setup.class_id))
    parent = setup.family("Chen Jie").guardians[0]
    [first] = await received(live, parent)
    await live.press(parent, first, live.emu.button_texts(first)[0])

    async with live.sessionmaker() as session, session.begin():
        notice = await session.get(Notice, notice_id)
        teacher = await session.get(Person, setup.teacher_id)
        assert notice is not None and teacher is not None
        await revise_notice(
            session,
            teacher,
            notice,
            {"en": "Swimming safety (pool closed)"},
            {"en": "The pool is closed this week. Please remind {child} not to swim."},
            "The pool is closed.",
        )
    live.app.delivery.nudge()
    [update] = await received(live, parent)
    assert "updated (version 2)" in update["text"]
    assert "What changed: The pool is closed." in update["text"]
    assert "remind Chen Jie not to swim" in update["text"]

    # The old button confirms version 1: it no longer counts.
    old_data = live.emu.button_data(first, live.emu.button_texts(first)[0])
    answer = await live.emu.press_button(parent, first, old_data, check_button=False)
    assert answer is not None and "updated" in answer["text"]
    edited = await acknowledge(live, parent, update)
    assert "✅ Acknowledged at" in edited["text"]
    async with live.sessionmaker() as session:
        versions = list(await session.scalars(select(Acknowledgement.version)))
        purposes = list(await session.scalars(select(OutboxMessage.purpose)))
    assert sorted(versions) == [1, 2]
    assert OutboxPurpose.UPDATE in purposes
