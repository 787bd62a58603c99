"""A notice's status: counts, the families still to acknowledge, the acknowledgement timeline,
drill figures per class, and who may see which notice."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campus.models import Notice, OutboxMessage, OutboxPurpose, Person
from campus.services.notice_status import (
    DeliveryCounts,
    FamilyCounts,
    manageable_notice,
    notice_status,
    percentile,
    recent_notices,
    recipient_rows,
)
from campus.services.notices import acknowledge, revise_notice
from campus.services.reminders import plan_due_reminders
from tests.campus.notice_world import (
    MINUTE,
    T0,
    ack,
    drill_draft,
    drill_with_answers,
    make_world,
    outbox_of,
    publish,
    send,
)


async def test_counts_pending_families_and_timeline(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    _world, notice_id = await drill_with_answers(sessionmaker)
    async with sessionmaker() as session:
        notice = await session.get(Notice, notice_id)
        assert notice is not None
        status = await notice_status(session, notice)
    summary = status.summary
    assert summary.deliveries == DeliveryCounts(
        guardians=12, sent=8, unreachable=1, failed=1, to_send=1, not_asked=1
    )
    # Zhou Min has no guardian: nobody to ask, so not a family of this notice.
    assert summary.families == FamilyCounts(total=11, acknowledged=7, no_reachable_guardian=1)
    assert summary.families.not_acknowledged == 4
    assert [(f.class_name, f.child) for f in status.pending] == [
        ("3A", "Chen Jing"),
        ("3A", "Li Lei"),
        ("3B", "He Bo"),
        ("3B", "Ma Li"),
    ]
    by_child = {f.child: f.guardians for f in status.pending}
    assert by_child["Chen Jing"] == (("Parent Chen Jing 1", False),)
    assert by_child["Li Lei"] == (("Parent Li Lei 1", True),)
    assert status.sent_from == T0
    assert [t - T0 for t in status.ack_times] == [m * MINUTE for m in (2, 3, 4, 5, 11, 21, 31)]
    assert summary.title == {"en": "Fire drill", "zh": "消防演练"}
    assert summary.timezone == "Asia/Shanghai" and summary.is_drill and summary.requires_ack


async def test_drill_time_to_acknowledge_per_class(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    _world, notice_id = await drill_with_answers(sessionmaker)
    async with sessionmaker() as session:
        notice = await session.get(Notice, notice_id)
        assert notice is not None
        figures = {f.class_name: f for f in (await notice_status(session, notice)).drill}
    assert set(figures) == {"3A", "3B"}
    class_a, class_b = figures["3A"], figures["3B"]
    assert (class_a.families, class_a.acknowledged, class_a.not_acknowledged) == (3, 1, 2)
    assert class_a.median == class_a.p90 == 10 * MINUTE
    assert (class_b.families, class_b.acknowledged, class_b.not_acknowledged) == (8, 6, 2)
    # 1, 2, 3, 4, 20, 30 minutes: the median is half-way between 3 and 4, the 90th
    # percentile (nearest rank: the 6th of 6) is the slowest.
    assert class_b.median == timedelta(minutes=3.5)
    assert class_b.p90 == 30 * MINUTE


def test_percentile_is_nearest_rank() -> None:
    values = [timedelta(seconds=s) for s in range(1, 11)]
    assert percentile(values, 0.9) == timedelta(seconds=9)
    assert percentile(values, 0.5) == timedelta(seconds=5)
    assert percentile([], 0.9) is None


async def test_first_acknowledgement_per_family_from_that_guardians_message(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Wang Fang's first guardian stays silent; the second, asked at the plan's second step,
    answers in 5 minutes; the first answers later and changes nothing."""
    world = await make_world(sessionmaker)
    notice_id = await publish(
        sessionmaker, world, world.teacher_id, drill_draft(world, classes=("3A",))
    )
    await send(sessionmaker, notice_id, 101, T0 + MINUTE)
    asked_at = T0 + timedelta(hours=12, seconds=1)
    async with sessionmaker() as session, session.begin():
        report = await plan_due_reminders(session, quiet_window=None, now=asked_at)
    assert report.guardians_asked == 1
    async with sessionmaker() as session:
        second = await outbox_of(session, notice_id, 102)
    assert second.purpose == OutboxPurpose.NOTICE
    await send(sessionmaker, notice_id, 102, asked_at)
    await ack(sessionmaker, notice_id, 102, asked_at + 5 * MINUTE)
    async with sessionmaker() as session, session.begin():
        # The first guardian answers the notice message (not the reminder) much later.
        first = (
            await session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.chat_id == 101, OutboxMessage.purpose == OutboxPurpose.NOTICE
                )
            )
        ).one()
        assert first.delivery_id is not None and first.telegram_message_id is not None
        await acknowledge(
            session,
            first.delivery_id,
            1,
            telegram_user_id=101,
            chat_id=101,
            message_id=first.telegram_message_id,
            now=asked_at + timedelta(hours=1),
        )
    async with sessionmaker() as session:
        notice = await session.get(Notice, notice_id)
        assert notice is not None
        status = await notice_status(session, notice)
    assert status.ack_times == (asked_at + 5 * MINUTE,)
    [class_a] = status.drill
    assert class_a.acknowledged == 1 and class_a.median == 5 * MINUTE
    assert status.summary.families.acknowledged == 1


async def test_a_new_version_needs_new_acknowledgements(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    world, notice_id = await drill_with_answers(sessionmaker)
    revised_at = T0 + timedelta(hours=1)
    async with sessionmaker() as session, session.begin():
        notice = await session.get(Notice, notice_id)
        teacher = await session.get(Person, world.teacher_id)
        assert notice is not None and teacher is not None
        await revise_notice(
            session,
            teacher,
            notice,
            {"en": "Fire drill moved"},
            {"en": "Now at 11:00."},
            "time",
            now=revised_at,
        )
    async with sessionmaker() as session:
        notice = await session.get(Notice, notice_id)
        assert notice is not None
        status = await notice_status(session, notice)
    assert status.summary.families.acknowledged == 0 and status.ack_times == ()
    assert status.sent_from == revised_at
    assert status.summary.title == {"en": "Fire drill moved"}
    await send(sessionmaker, notice_id, 211, revised_at + MINUTE)  # the update
    await ack(sessionmaker, notice_id, 211, revised_at + 8 * MINUTE)
    async with sessionmaker() as session:
        notice = await session.get(Notice, notice_id)
        assert notice is not None
        status = await notice_status(session, notice)
    assert status.summary.families.acknowledged == 1
    figures = {f.class_name: f for f in status.drill}
    assert figures["3B"].median == 7 * MINUTE and figures["3A"].acknowledged == 0


async def test_who_sees_which_notice(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    world = await make_world(sessionmaker)
    mine = await publish(sessionmaker, world, world.teacher_id, drill_draft(world, drill=False))
    theirs = await publish(
        sessionmaker, world, world.other_teacher_id, drill_draft(world), now=T0 + MINUTE
    )
    async with sessionmaker() as session:
        people = {
            name: await session.get(Person, person_id)
            for name, person_id in (
                ("teacher", world.teacher_id),
                ("other", world.other_teacher_id),
                ("admin", world.admin_id),
                ("parent", world.parent_id),
            )
        }

        async def listed(name: str) -> list[int]:
            person = people[name]
            assert person is not None
            return [s.notice_id for s in await recent_notices(session, person)]

        async def opens(name: str, notice_id: int) -> bool:
            person = people[name]
            assert person is not None
            return await manageable_notice(session, person, notice_id) is not None

        assert await listed("admin") == [theirs, mine]  # newest first
        assert await listed("teacher") == [mine]
        assert await listed("other") == [theirs]
        assert await listed("parent") == []
        assert await opens("teacher", mine) and not await opens("teacher", theirs)
        assert await opens("admin", theirs) and await opens("admin", mine)
        assert not await opens("parent", mine)
        assert not await opens("admin", 9999)


async def test_recipient_rows_for_the_csv(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    _world, notice_id = await drill_with_answers(sessionmaker)
    async with sessionmaker() as session:
        notice = await session.get(Notice, notice_id)
        assert notice is not None
        rows = await recipient_rows(session, notice)
    assert len(rows) == 12
    wang = [r for r in rows if r.child == "Wang Fang"]
    assert [(r.guardian, r.relation) for r in wang] == [
        ("Parent Wang Fang 1", "guardian"),
        ("Parent Wang Fang 2", "guardian"),
    ]
    assert wang[0].acknowledged_at == T0 + 11 * MINUTE and wang[0].sent_at == T0 + MINUTE
    assert wang[0].telegram_message_id is not None and wang[1].sent_at is None
    chen = next(r for r in rows if r.child == "Chen Jing")
    assert not chen.reachable and chen.telegram_message_id is None
