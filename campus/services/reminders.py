"""Reminders, second guardians and deadline reports, claimed by the scheduler's tick.

The plan of a notice is a list of minutes counted from when the current version went out.
On each tick, for every delivery whose ``next_reminder_at`` has come:

* a family that has acknowledged is skipped (and nothing more is planned);
* after the deadline nothing is sent: the family is on the teacher's list instead;
* in quiet hours (school time) only urgent alerts go out; the rest wait for the morning;
* otherwise one reminder is queued. Lateness rule: a reminder that fell due while the bot
  was not running is sent when it is back, once; plan steps that all fell into the gap are
  merged into that one reminder (the ledger records how late and how many were merged).

A child's other guardians are asked at the plan's second step (or half-way between the first
reminder and the deadline when there is only one): that is, after the first reminder to the
first guardian went unanswered. At the deadline the notice's author gets, privately, the
list of families who have not acknowledged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.models import (
    Delivery,
    Notice,
    NoticeKind,
    NoticeVersion,
    OutboxMessage,
    OutboxPurpose,
    Person,
    Role,
    RoleGrant,
    School,
    as_utc,
    utcnow,
)
from campus.services.audit import record_event

#: A reminder sent this much after its time counts as late in the ledger.
LATE_AFTER = timedelta(minutes=5)


@dataclass
class TickReport:
    """What one tick queued."""

    reminders: int = 0
    guardians_asked: int = 0
    postponed: int = 0
    skipped: int = 0
    reports: int = 0

    @property
    def anything(self) -> bool:
        return any((self.reminders, self.guardians_asked, self.reports))


def quiet_until(now: datetime, zone: ZoneInfo, window: tuple[time, time] | None) -> datetime | None:
    """The end of the quiet period ``now`` falls in (UTC), or None outside quiet hours."""
    if window is None:
        return None
    start, end = window
    local = as_utc(now).astimezone(zone)
    clock = local.time()
    # A window like 21:00-07:00 spans midnight.
    inside = start <= clock < end if start <= end else clock >= start or clock < end
    if not inside:
        return None
    day = local.date() if clock < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone).astimezone(UTC)


def plan_steps(base: datetime, minutes: list[int]) -> list[datetime]:
    """The times of a plan's reminders, counted from ``base``."""
    return [as_utc(base) + timedelta(minutes=m) for m in minutes]


def second_guardian_time(steps: list[datetime], deadline_at: datetime | None) -> datetime | None:
    """When a child's other guardians are asked: at the second step, else half-way between
    the first reminder and the deadline."""
    if len(steps) >= 2:
        return steps[1]
    if steps and deadline_at is not None:
        return steps[0] + (as_utc(deadline_at) - steps[0]) / 2
    return None


async def plan_base(session: AsyncSession, notice: Notice) -> datetime:
    """When the current version went out: reminders count from there."""
    if notice.current_version == 1:
        return as_utc(notice.send_at)
    created = await session.scalar(
        select(NoticeVersion.created_at).where(
            NoticeVersion.notice_id == notice.id, NoticeVersion.number == notice.current_version
        )
    )
    return as_utc(created or notice.send_at)


async def plan_due_reminders(
    session: AsyncSession,
    *,
    quiet_window: tuple[time, time] | None,
    now: datetime | None = None,
    limit: int = 5000,
) -> TickReport:
    """Queue the reminders, second-guardian requests and deadline reports that are due."""
    now = as_utc(now or utcnow())
    report = TickReport()
    rows = await session.execute(
        select(Delivery, Notice, School)
        .join(Notice, Notice.id == Delivery.notice_id)
        .join(School, School.id == Notice.school_id)
        .where(
            Delivery.next_reminder_at <= now,
            Delivery.unreachable_at.is_(None),
            Notice.cancelled_at.is_(None),
        )
        .order_by(Delivery.next_reminder_at, Delivery.id)
        .limit(limit)
        .with_for_update(of=Delivery, skip_locked=True)
    )
    acknowledged: dict[tuple[int, int], bool] = {}
    bases: dict[int, datetime] = {}
    for delivery, notice, school in rows:
        key = (notice.id, delivery.student_id)
        if key not in acknowledged:
            acknowledged[key] = await _family_acknowledged(session, notice, delivery.student_id)
        if notice.id not in bases:
            bases[notice.id] = await plan_base(session, notice)
        await _handle_due(
            session,
            report,
            delivery,
            notice,
            school,
            now,
            quiet_window,
            acknowledged[key],
            bases[notice.id],
        )
    await _report_deadlines(session, report, now)
    return report


async def _family_acknowledged(session: AsyncSession, notice: Notice, student_id: int) -> bool:
    found = await session.scalar(
        select(Delivery.id)
        .where(
            Delivery.notice_id == notice.id,
            Delivery.student_id == student_id,
            Delivery.acked_version == notice.current_version,
        )
        .limit(1)
    )
    return found is not None


async def _handle_due(
    session: AsyncSession,
    report: TickReport,
    delivery: Delivery,
    notice: Notice,
    school: School,
    now: datetime,
    quiet_window: tuple[time, time] | None,
    family_acknowledged: bool,
    base: datetime,
) -> None:
    due = as_utc(delivery.next_reminder_at or now)
    if family_acknowledged or not notice.requires_ack:
        delivery.next_reminder_at = None
        return
    if notice.deadline_at is not None and as_utc(notice.deadline_at) <= now:
        delivery.next_reminder_at = None
        report.skipped += 1
        await record_event(
            session,
            "reminder.skipped",
            "system",
            {"notice": notice.id, "delivery": delivery.id, "reason": "deadline passed"},
        )
        return
    if notice.kind != NoticeKind.URGENT_ALERT:
        wait_until = quiet_until(now, ZoneInfo(school.timezone), quiet_window)
        if wait_until is not None:
            delivery.next_reminder_at = wait_until
            report.postponed += 1
            return
    steps = plan_steps(base, notice.reminder_minutes)
    later = [step for step in steps if step > now]
    merged = sum(1 for step in steps if due < step <= now)
    purpose = OutboxPurpose.REMINDER
    if delivery.asked_at is None:
        purpose = OutboxPurpose.NOTICE
        delivery.asked_at = now
        report.guardians_asked += 1
    else:
        delivery.reminders_sent += 1
        report.reminders += 1
    delivery.next_reminder_at = later[0] if later else None
    if delivery.chat_id is None:
        return
    session.add(
        OutboxMessage(
            school_id=notice.school_id,
            notice_id=notice.id,
            delivery_id=delivery.id,
            purpose=purpose,
            chat_id=delivery.chat_id,
            version=notice.current_version,
            urgent=notice.kind == NoticeKind.URGENT_ALERT,
            due_at=now,
        )
    )
    late_by = now - due
    await record_event(
        session,
        "reminder.queued" if purpose == OutboxPurpose.REMINDER else "notice.second_guardian",
        "system",
        {
            "notice": notice.id,
            "delivery": delivery.id,
            "number": delivery.reminders_sent,
            "due_at": due.isoformat(),
            "late_by_s": int(late_by.total_seconds()) if late_by > LATE_AFTER else 0,
            "merged": merged,
        },
    )


async def _report_deadlines(session: AsyncSession, report: TickReport, now: datetime) -> None:
    notices = await session.scalars(
        select(Notice)
        .where(
            Notice.requires_ack.is_(True),
            Notice.deadline_at <= now,
            Notice.deadline_reported_at.is_(None),
            Notice.cancelled_at.is_(None),
        )
        .with_for_update(skip_locked=True)
    )
    for notice in notices:
        notice.deadline_reported_at = now
        for chat_id in await _report_recipients(session, notice):
            session.add(
                OutboxMessage(
                    school_id=notice.school_id,
                    notice_id=notice.id,
                    purpose=OutboxPurpose.REPORT,
                    chat_id=chat_id,
                    version=notice.current_version,
                    urgent=notice.kind == NoticeKind.URGENT_ALERT,
                    due_at=now,
                )
            )
            report.reports += 1
        await record_event(
            session,
            "notice.deadline_reached",
            "system",
            {"notice": notice.id, "version": notice.current_version},
        )


async def _report_recipients(session: AsyncSession, notice: Notice) -> list[int]:
    """The author's private chat; the school's admins if the author is gone."""
    if notice.author_id is not None:
        author = await session.get(Person, notice.author_id)
        if author is not None and author.telegram_user_id and author.forgotten_at is None:
            return [author.telegram_user_id]
    admins = await session.scalars(
        select(Person.telegram_user_id)
        .join(RoleGrant, RoleGrant.person_id == Person.id)
        .where(RoleGrant.school_id == notice.school_id, RoleGrant.role == Role.ADMIN)
    )
    return [chat for chat in admins if chat]
