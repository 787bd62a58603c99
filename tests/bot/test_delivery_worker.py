"""The delivery worker's answers to Telegram's refusals, with a stub Bot instead of the
emulator: a chat that moved is followed, a bad request is recorded as failed and never
retried, and a claimed message is not sent once its lease can no longer cover the send; and
the pacer's arithmetic, on a clock the test sets."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramMigrateToChat
from aiogram.methods import SendMessage
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery import DeliveryWorker, Pacer
from bot.i18n import build_i18n
from campus.models import (
    Delivery,
    Guardianship,
    NoticeKind,
    OutboxMessage,
    OutboxState,
    Person,
    Role,
    RoleGrant,
    School,
    SchoolClass,
    Student,
    utcnow,
)
from campus.services.notices import NoticeDraft, publish_notice
from campus.services.outbox import claim_due, queue_is_idle

SUPERGROUP = -1_001_234_567_890


class StubBot:
    """Answers ``send_message`` as a scripted Telegram would and records every call."""

    def __init__(self, refusals: dict[int, TelegramAPIError], delay: float = 0.0) -> None:
        self.refusals = refusals
        self.delay = delay
        self.calls: list[int] = []
        self._message_id = 100

    async def send_message(self, chat_id: int, text: str, **_: Any) -> SimpleNamespace:
        self.calls.append(chat_id)
        if self.delay:
            await asyncio.sleep(self.delay)
        refusal = self.refusals.get(chat_id)
        if refusal is not None:
            raise refusal
        self._message_id += 1
        return SimpleNamespace(message_id=self._message_id)


def refusal(kind: type[TelegramAPIError], message: str, **extra: Any) -> TelegramAPIError:
    method: Any = SendMessage(chat_id=0, text="-")
    return kind(method, message, **extra)


async def publish_to(sessionmaker: async_sessionmaker[AsyncSession], chats: list[int]) -> int:
    """A class with one child per guardian chat, and a safety alert to it; the notice id."""
    async with sessionmaker() as session, session.begin():
        school = School(name="Sunshine Primary", timezone="Asia/Shanghai")
        admin = Person(telegram_user_id=1, full_name="Zhang Min", language="en")
        session.add_all([school, admin])
        await session.flush()
        school_class = SchoolClass(school_id=school.id, name="3A", grade=3)
        session.add_all(
            [school_class, RoleGrant(person_id=admin.id, school_id=school.id, role=Role.ADMIN)]
        )
        await session.flush()
        for number, chat in enumerate(chats):
            child = Student(
                school_id=school.id,
                class_id=school_class.id,
                full_name=f"Child {number}",
                student_number=f"S{number:03d}",
            )
            parent = Person(telegram_user_id=chat, full_name=f"Parent {number}", language="en")
            session.add_all([child, parent])
            await session.flush()
            session.add(Guardianship(guardian_id=parent.id, student_id=child.id))
        await session.refresh(admin, ["roles"])
        draft = NoticeDraft(
            kind=NoticeKind.SAFETY_ALERT,
            class_ids=(school_class.id,),
            title={"en": "Swimming safety"},
            body={"en": "Please remind {child} never to swim without an adult."},
            requires_ack=True,
        )
        notice = await publish_notice(session, admin, school.id, draft)
        return notice.id


async def deliver_all(
    sessionmaker: async_sessionmaker[AsyncSession], bot: StubBot, **worker_options: Any
) -> None:
    """Run a worker until nothing is pending or being sent."""
    options: dict[str, Any] = {"rate_per_s": 1000, "chat_interval_s": 0.0, "idle_poll_s": 0.02}
    worker = DeliveryWorker(
        cast(Bot, bot), sessionmaker, build_i18n("en"), **{**options, **worker_options}
    )
    task = asyncio.create_task(worker.run())
    try:
        async with asyncio.timeout(30):
            while True:
                await asyncio.sleep(0.02)
                async with sessionmaker() as session:
                    if await queue_is_idle(session):
                        break
    finally:
        worker.stop()
        await task


async def outbox_by_chat(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> dict[int, OutboxMessage]:
    async with sessionmaker() as session:
        rows = await session.scalars(select(OutboxMessage))
        return {row.chat_id: row for row in rows}


async def test_a_migrated_chat_is_followed(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await publish_to(sessionmaker, [501, 502])
    moved = refusal(
        TelegramMigrateToChat,
        "Bad Request: group chat was upgraded to a supergroup chat",
        migrate_to_chat_id=SUPERGROUP,
    )
    bot = StubBot({501: moved})
    await deliver_all(sessionmaker, bot)

    assert bot.calls.count(501) == 1
    assert bot.calls.count(SUPERGROUP) == 1
    assert bot.calls.index(501) < bot.calls.index(SUPERGROUP)
    rows = await outbox_by_chat(sessionmaker)
    assert set(rows) == {SUPERGROUP, 502}
    assert rows[SUPERGROUP].state == OutboxState.SENT
    assert rows[SUPERGROUP].telegram_message_id is not None
    async with sessionmaker() as session:
        delivery = await session.get(Delivery, rows[SUPERGROUP].delivery_id)
    assert delivery is not None
    assert delivery.chat_id == SUPERGROUP
    assert delivery.message_id == rows[SUPERGROUP].telegram_message_id


@pytest.mark.parametrize(
    ("message", "state"),
    [
        ("Bad Request: message is too long", OutboxState.FAILED),
        ("Bad Request: chat not found", OutboxState.UNREACHABLE),
    ],
)
async def test_a_bad_request_is_recorded_and_never_retried(
    sessionmaker: async_sessionmaker[AsyncSession], message: str, state: OutboxState
) -> None:
    await publish_to(sessionmaker, [601, 602])
    bot = StubBot({601: refusal(TelegramBadRequest, message)})
    await deliver_all(sessionmaker, bot)

    assert Counter(bot.calls) == Counter({601: 1, 602: 1})
    rows = await outbox_by_chat(sessionmaker)
    assert rows[601].state == state
    assert rows[601].error == message
    assert rows[601].attempts == 1
    assert rows[602].state == OutboxState.SENT
    async with sessionmaker() as session:
        delivery = await session.get(Delivery, rows[601].delivery_id)
    assert delivery is not None
    assert (delivery.unreachable_at is not None) == (state == OutboxState.UNREACHABLE)


async def test_claims_are_sent_within_their_lease_or_released_unsent(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # At 5 messages/s a claimed batch takes longer to send than its 1.5 s lease: what is not
    # sent in time goes back unsent, and nothing is claimed again while it is on its way
    # (sending batches blindly sent the last two messages of the first batch twice).
    chats = list(range(701, 713))
    await publish_to(sessionmaker, chats)
    bot = StubBot({}, delay=0.3)
    await deliver_all(
        sessionmaker, bot, rate_per_s=5, lease=timedelta(seconds=1.5), request_timeout_s=0.4
    )

    assert sorted(bot.calls) == chats
    rows = await outbox_by_chat(sessionmaker)
    assert {row.state for row in rows.values()} == {OutboxState.SENT}
    assert not any(row.uncertain for row in rows.values())
    assert {row.attempts for row in rows.values()} == {1}


def test_the_pace_makes_up_for_a_short_stall_but_never_bursts_after_a_rest_or_a_429() -> None:
    pacer = Pacer(rate_per_s=10, chat_interval_s=0, catch_up_s=0.5)
    assert [pacer.reserve(100.0) for _ in range(3)] == pytest.approx([100.0, 100.1, 100.2])
    # Stalled until 100.6: the three missed slots go out at once, then the pace resumes.
    slots = [pacer.reserve(100.6) for _ in range(5)]
    assert slots == pytest.approx([100.3, 100.4, 100.5, 100.6, 100.7])
    # Stalled for seconds: only half a second's worth is made up.
    assert pacer.reserve(110.0) == pytest.approx(109.5)
    # After a rest (nothing to send) the pace starts afresh.
    pacer.rest()
    assert [pacer.reserve(120.0) for _ in range(2)] == pytest.approx([120.0, 120.1])
    # So it does after flood control: a burst is the last thing a 429 asks for.
    pacer.reserve(121.0)
    pacer.pause(0)
    assert pacer.reserve(125.0) == pytest.approx(125.0)


async def test_a_dead_workers_messages_keep_their_place_in_the_queue(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await publish_to(sessionmaker, [801, 802, 803])
    start = utcnow()
    async with sessionmaker() as session, session.begin():
        [first] = await claim_due(session, limit=1, lease=timedelta(seconds=5), now=start)
    # The worker died; after its lease the message is the first to go, marked uncertain.
    async with sessionmaker() as session, session.begin():
        again = await claim_due(session, limit=1, now=start + timedelta(seconds=6))
    assert again == [first]
    async with sessionmaker() as session:
        row = await session.get(OutboxMessage, first)
    assert row is not None and row.uncertain and row.attempts == 2
