"""The retention purge on each supported database: what is past its period goes, with
everything hanging off it; what is still live or still referenced stays; the ledger is left
intact and gains one entry with counts only."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campus.models import (
    Acknowledgement,
    AuditEvent,
    Delivery,
    FaqQuestion,
    GuardianSlot,
    Invite,
    InviteAttempt,
    InviteKind,
    Notice,
    NoticeVersion,
    OutboxMessage,
    Student,
)
from campus.services.audit import verify_chain
from campus.services.retention import PurgeReport, purge_expired
from campus.services.schools import remove_student
from scheduler.clock import build_scheduler, run_purge
from tests.campus.notice_world import MINUTE, T0, World, ack, drill_draft, make_world, publish, send

DAY = timedelta(days=1)
QUESTION_DAYS = 365
EVIDENCE_DAYS = 1095
NOW = T0 + 1100 * DAY
CHILD_TABLES: tuple[Any, ...] = (NoticeVersion, Delivery, Acknowledgement, OutboxMessage)
KEPT = ("pending", "open_deadline", "recent")


async def _count(session: AsyncSession, model: Any, *where: Any) -> int:
    return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0


async def _student_id(session: AsyncSession, name: str) -> int:
    student_id = await session.scalar(select(Student.id).where(Student.full_name == name))
    assert student_id is not None
    return student_id


async def _remove(
    sessionmaker: async_sessionmaker[AsyncSession], world: World, name: str, at: datetime
) -> int:
    """Remove a student the way an admin does, then date the removal back to ``at``."""
    async with sessionmaker() as session, session.begin():
        student_id = await _student_id(session, name)
        await remove_student(session, world.school_id, student_id, actor_id=world.admin_id)
        await session.execute(update(Student).where(Student.id == student_id).values(removed_at=at))
    return student_id


async def _rows_of(
    sessionmaker: async_sessionmaker[AsyncSession], notice_id: int
) -> dict[str, int]:
    """How many rows of each table hanging off a notice there are."""
    async with sessionmaker() as session:
        return {
            model.__tablename__: await _count(session, model, model.notice_id == notice_id)
            for model in CHILD_TABLES
        }


async def _purge(sessionmaker: async_sessionmaker[AsyncSession]) -> PurgeReport:
    async with sessionmaker() as session, session.begin():
        return await purge_expired(
            session, question_days=QUESTION_DAYS, evidence_days=EVIDENCE_DAYS, now=NOW
        )


async def test_old_questions_go_and_recent_ones_stay(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(sessionmaker)
    asked = {
        "old": NOW - (QUESTION_DAYS + 1) * DAY,
        "recent": NOW - (QUESTION_DAYS - 1) * DAY,
        "today": NOW - MINUTE,
    }
    async with sessionmaker() as session, session.begin():
        session.add_all(
            FaqQuestion(
                person_id=world.parent_id,
                school_id=world.school_id,
                text=f"{label} question about swimming",
                language="en",
                decision="answered",
                confidence=0.9,
                asked_at=at,
            )
            for label, at in asked.items()
        )
        session.add_all(
            [
                InviteAttempt(telegram_user_id=77, attempted_at=NOW - 2 * DAY),
                InviteAttempt(telegram_user_id=77, attempted_at=NOW - 60 * MINUTE),
            ]
        )
        session.add_all(
            Invite(
                school_id=world.school_id,
                kind=InviteKind.TEACHER,
                code_hash=label.ljust(64, "0"),
                expires_at=expires,
                used_at=used,
                revoked_at=revoked,
            )
            for label, expires, used, revoked in [
                ("a-expired-long-ago", NOW - 31 * DAY, None, None),
                ("b-used-long-ago", NOW + 5 * DAY, NOW - 40 * DAY, None),
                ("c-revoked-lately", NOW + 5 * DAY, None, NOW - 10 * DAY),
                ("d-expired-lately", NOW - 2 * DAY, None, None),
                ("e-open", NOW + 5 * DAY, None, None),
            ]
        )

    report = await _purge(sessionmaker)

    assert (report.questions, report.invite_attempts, report.invites) == (1, 1, 2)
    async with sessionmaker() as session:
        texts = set(await session.scalars(select(FaqQuestion.text)))
        assert texts == {"recent question about swimming", "today question about swimming"}
        attempts = list(await session.scalars(select(InviteAttempt.attempted_at)))
        assert len(attempts) == 1
        hashes = sorted(h[:16] for h in await session.scalars(select(Invite.code_hash)))
        assert hashes == ["c-revoked-lately", "d-expired-lately", "e-open0000000000"]


async def _notice_world(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> tuple[World, dict[str, int], dict[str, int]]:
    """Notices and removed students of every kind the purge must tell apart."""
    world = await make_world(sessionmaker)
    notices: dict[str, int] = {}
    # Old and done: sent, partly acknowledged, deadline long past.
    notices["old"] = await publish(
        sessionmaker, world, world.teacher_id, drill_draft(world, classes=("3A",))
    )
    await send(sessionmaker, notices["old"], 101, T0 + MINUTE)
    await send(sessionmaker, notices["old"], 103, T0 + MINUTE)
    await ack(sessionmaker, notices["old"], 101, T0 + 5 * MINUTE)
    # Old, but its messages to 3B are still waiting to go out.
    notices["pending"] = await publish(
        sessionmaker, world, world.teacher_id, drill_draft(world, classes=("3B",))
    )
    students = {
        # Only the old notice names her: once it is gone nothing does.
        "Chen Jing": await _remove(sessionmaker, world, "Chen Jing", T0 + 30 * MINUTE),
        # No guardian, so no notice ever named him.
        "Zhou Min": await _remove(sessionmaker, world, "Zhou Min", T0 + 30 * MINUTE),
        # Removed as long ago, but the pending notice still names him.
        "Sun Yu": await _remove(sessionmaker, world, "Sun Yu", T0 + 30 * MINUTE),
    }
    # Old, everything sent, but its deadline is still to come.
    far_deadline = replace(drill_draft(world, classes=("3A",)), deadline=2000 * DAY)
    notices["open_deadline"] = await publish(
        sessionmaker, world, world.teacher_id, far_deadline, now=T0 + 60 * MINUTE
    )
    for telegram_id in (101, 103):
        await send(sessionmaker, notices["open_deadline"], telegram_id, T0 + 61 * MINUTE)
    # Recent enough to be kept as evidence.
    recent_at = NOW - (EVIDENCE_DAYS - 5) * DAY
    notices["recent"] = await publish(
        sessionmaker, world, world.teacher_id, drill_draft(world, classes=("3A",)), now=recent_at
    )
    await send(sessionmaker, notices["recent"], 101, recent_at + MINUTE)
    await ack(sessionmaker, notices["recent"], 101, recent_at + 2 * MINUTE)
    # Joined after every notice and removed lately: kept, although nothing names him.
    async with sessionmaker() as session, session.begin():
        session.add(
            Student(
                school_id=world.school_id,
                class_id=world.classes["3A"],
                full_name="Lin Tao",
                student_number="S900",
            )
        )
    students["Lin Tao"] = await _remove(sessionmaker, world, "Lin Tao", NOW - 10 * DAY)
    async with sessionmaker() as session, session.begin():
        session.add(GuardianSlot(student_id=students["Zhou Min"], slot=1, guardian_name="Zhou Li"))
        session.add(GuardianSlot(student_id=students["Lin Tao"], slot=1, guardian_name="Lin Hua"))
        # Removal revokes invites; an unspent one could only be left by a bug, but goes too.
        session.add(
            Invite(
                school_id=world.school_id,
                kind=InviteKind.GUARDIAN,
                code_hash="f" * 64,
                student_id=students["Zhou Min"],
                guardian_slot=1,
                expires_at=NOW + 5 * DAY,
            )
        )
    return world, notices, students


async def test_an_old_notice_goes_with_everything_that_hangs_off_it(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    _world, notices, students = await _notice_world(sessionmaker)
    old_rows = await _rows_of(sessionmaker, notices["old"])
    kept_rows = {name: await _rows_of(sessionmaker, notices[name]) for name in KEPT}
    # Every kind of row is really there before the purge, or the test proves nothing.
    assert all(old_rows.values()), old_rows
    assert kept_rows["recent"]["acknowledgements"] == 1
    assert kept_rows["pending"]["outbox"] > 0
    async with sessionmaker() as session:
        # Removed as long ago as Chen Jing, but the pending notice names him.
        assert await _count(session, Delivery, Delivery.student_id == students["Sun Yu"]) > 0

    report = await _purge(sessionmaker)

    assert report.notices == 1
    assert report.notice_versions == old_rows["notice_versions"]
    assert report.deliveries == old_rows["deliveries"]
    assert report.acknowledgements == old_rows["acknowledgements"]
    assert report.outbox_messages == old_rows["outbox"]
    assert (report.students, report.guardian_slots, report.invites) == (2, 1, 1)
    assert await _rows_of(sessionmaker, notices["old"]) == dict.fromkeys(old_rows, 0)
    for name in KEPT:
        assert await _rows_of(sessionmaker, notices[name]) == kept_rows[name], name
    async with sessionmaker() as session:
        kept = set(await session.scalars(select(Notice.id)))
        assert kept == {notices[name] for name in KEPT}
        left = set(await session.scalars(select(Student.id)))
        assert students["Chen Jing"] not in left
        assert students["Zhou Min"] not in left
        assert {students["Sun Yu"], students["Lin Tao"]} <= left
        slots = set(await session.scalars(select(GuardianSlot.guardian_name)))
        assert "Lin Hua" in slots and "Zhou Li" not in slots


async def test_the_ledger_still_verifies_and_gains_one_entry_with_counts_only(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await _notice_world(sessionmaker)
    async with sessionmaker() as session:
        before = await verify_chain(session)
    assert before.intact

    report = await _purge(sessionmaker)

    async with sessionmaker() as session:
        after = await verify_chain(session)
        entries = list(
            await session.scalars(select(AuditEvent).where(AuditEvent.kind == "retention.purged"))
        )
    assert after.intact, after.problem
    assert after.entries == before.entries + 1
    assert len(entries) == 1
    assert entries[0].actor == "system"
    assert entries[0].payload == report.counts()
    assert all(isinstance(count, int) for count in entries[0].payload.values())
    assert report.total > 0


async def test_a_second_purge_finds_nothing(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await _notice_world(sessionmaker)
    first = await _purge(sessionmaker)
    second = await _purge(sessionmaker)
    assert first.total > 0
    assert second == PurgeReport()


async def test_a_period_under_a_day_is_refused(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        with pytest.raises(ValueError, match="at least one day"):
            await purge_expired(session, question_days=0, evidence_days=EVIDENCE_DAYS, now=NOW)


async def test_the_daily_job_runs_at_half_past_three_school_time(
    sessionmaker: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = build_scheduler(
        sessionmaker,
        tick_seconds=30,
        quiet_window=None,
        question_days=QUESTION_DAYS,
        evidence_days=EVIDENCE_DAYS,
        timezone="Asia/Shanghai",
    )
    job = scheduler.get_job("retention")
    assert job is not None
    # 08:00 in Shanghai: the next run is 03:30 the next morning there, 19:30 UTC today.
    after = datetime(2025, 6, 2, 0, 0, tzinfo=UTC)
    assert job.trigger.get_next_fire_time(None, after) == datetime(2025, 6, 2, 19, 30, tzinfo=UTC)

    world = await make_world(sessionmaker)
    async with sessionmaker() as session, session.begin():
        session.add(
            FaqQuestion(
                person_id=world.parent_id,
                text="an old question",
                language="en",
                decision="answered",
                confidence=0.9,
                asked_at=datetime.now(UTC) - (QUESTION_DAYS + 1) * DAY,
            )
        )
    with caplog.at_level(logging.INFO, logger="scheduler.clock"):
        report = await job.func(*job.args)
    assert job.func is run_purge
    assert report.questions == 1
    assert "retention: purged 1 questions" in caplog.text
    async with sessionmaker() as session:
        assert await _count(session, FaqQuestion) == 0
