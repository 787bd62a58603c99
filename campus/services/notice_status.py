"""Where a notice stands, for the teacher who sent it and the school's admins.

Guardian deliveries are counted once each, in the first of these that applies: *sent* (the
notice reached Telegram), *unreachable* (blocked, gone, or no Telegram chat), *failed* (Telegram
refused the notice for good), *to send* (queued), *not asked yet* (a child's other guardians,
asked only when reminders go unanswered). A family (one child) has *acknowledged* when any
of its guardians acknowledged the current version; a family that has not and none of whose
guardians can be reached is one the school has to phone.

Drill figures measure, per class, how long families took to acknowledge: from when the
current version reached the guardian who acknowledged (the notice, or the update after an
edit) to the first acknowledgement of the child's family.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ColumnElement

from campus.models import (
    Acknowledgement,
    Delivery,
    Guardianship,
    Notice,
    NoticeKind,
    NoticeVersion,
    OutboxMessage,
    OutboxPurpose,
    OutboxState,
    Person,
    Role,
    RoleGrant,
    School,
    SchoolClass,
    Student,
    as_utc,
)
from campus.services.notices import can_manage
from campus.services.outbox import FamilyLine, pending_families
from campus.services.reminders import plan_base

#: How many notices ``/notices`` lists.
RECENT_LIMIT = 10


@dataclass(frozen=True)
class DeliveryCounts:
    """Guardian deliveries of a notice; every delivery is in exactly one of the states."""

    guardians: int = 0
    sent: int = 0
    unreachable: int = 0
    failed: int = 0
    to_send: int = 0
    not_asked: int = 0


@dataclass(frozen=True)
class FamilyCounts:
    """Children of the audience (with at least one guardian) and their acknowledgements."""

    total: int = 0
    acknowledged: int = 0
    no_reachable_guardian: int = 0

    @property
    def not_acknowledged(self) -> int:
        return self.total - self.acknowledged


@dataclass(frozen=True)
class NoticeSummary:
    """One notice with its counts: a line of ``/notices`` and the head of its status view."""

    notice_id: int
    school_id: int
    kind: NoticeKind
    is_drill: bool
    requires_ack: bool
    title: dict[str, str]
    version: int
    send_at: datetime
    deadline_at: datetime | None
    timezone: str
    cancelled: bool
    deliveries: DeliveryCounts
    families: FamilyCounts


@dataclass(frozen=True)
class ClassAckTimes:
    """How fast one class acknowledged a drill; the times are None when nobody did."""

    class_name: str
    families: int
    acknowledged: int
    median: timedelta | None
    p90: timedelta | None

    @property
    def not_acknowledged(self) -> int:
        return self.families - self.acknowledged


@dataclass(frozen=True)
class NoticeStatus:
    """Everything the status view, its chart and its drill figures show."""

    summary: NoticeSummary
    pending: tuple[FamilyLine, ...]
    #: When the current version went out: the chart's zero.
    sent_from: datetime
    #: The first acknowledgement of the current version per family, oldest first.
    ack_times: tuple[datetime, ...]
    #: Per class, for drills only.
    drill: tuple[ClassAckTimes, ...] = ()


@dataclass(frozen=True)
class RecipientRow:
    """One guardian delivery as the teacher's CSV lists it."""

    child: str
    class_name: str
    guardian: str
    relation: str
    sent_at: datetime | None
    telegram_message_id: int | None
    acknowledged_at: datetime | None
    reminders: int
    reachable: bool


def percentile(values: Sequence[timedelta], fraction: float) -> timedelta | None:
    """The nearest-rank percentile (0.9: the time by which 90% had answered)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def _median(values: Sequence[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=statistics.median(v.total_seconds() for v in values))


async def manageable_notice(session: AsyncSession, person: Person, notice_id: int) -> Notice | None:
    """The notice if ``person`` may see its status (see :func:`can_manage`), else None.

    A notice that does not exist and one that belongs to someone else look the same."""
    notice = await session.get(Notice, notice_id)
    if notice is None or not await can_manage(session, person, notice):
        return None
    return notice


async def _summaries(session: AsyncSession, notices: Sequence[Notice]) -> list[NoticeSummary]:
    """Counts for several notices with a fixed number of queries."""
    if not notices:
        return []
    ids = [n.id for n in notices]
    title_rows = await session.execute(
        select(NoticeVersion.notice_id, NoticeVersion.title)
        .join(Notice, Notice.id == NoticeVersion.notice_id)
        .where(NoticeVersion.notice_id.in_(ids), NoticeVersion.number == Notice.current_version)
    )
    titles: dict[int, dict[str, str]] = dict(title_rows.all())
    zone_rows = await session.execute(
        select(School.id, School.timezone).where(School.id.in_({n.school_id for n in notices}))
    )
    zones = dict(zone_rows.all())
    failed = set(
        await session.scalars(
            select(OutboxMessage.delivery_id).where(
                OutboxMessage.notice_id.in_(ids),
                OutboxMessage.purpose == OutboxPurpose.NOTICE,
                OutboxMessage.state == OutboxState.FAILED,
            )
        )
    )
    rows = await session.execute(
        select(
            Delivery.notice_id,
            Delivery.id,
            Delivery.student_id,
            Delivery.asked_at,
            Delivery.sent_at,
            Delivery.unreachable_at,
            Delivery.chat_id,
            Delivery.acked_version,
        ).where(Delivery.notice_id.in_(ids))
    )
    current = {n.id: n.current_version for n in notices}
    tallies: dict[int, dict[str, int]] = {n.id: {} for n in notices}
    # (notice, child) -> [acknowledged, any guardian reachable]
    families: dict[int, dict[int, list[bool]]] = {n.id: {} for n in notices}
    for notice_id, delivery_id, student_id, asked_at, sent_at, gone_at, chat_id, acked in rows:
        if sent_at is not None:
            state = "sent"
        elif gone_at is not None or chat_id is None:
            state = "unreachable"
        elif delivery_id in failed:
            state = "failed"
        elif asked_at is not None:
            state = "to_send"
        else:
            state = "not_asked"
        tally = tallies[notice_id]
        tally[state] = tally.get(state, 0) + 1
        family = families[notice_id].setdefault(student_id, [False, False])
        family[0] = family[0] or acked == current[notice_id]
        family[1] = family[1] or (gone_at is None and chat_id is not None)
    summaries = []
    for notice in notices:
        tally = tallies[notice.id]
        family_flags = families[notice.id].values()
        summaries.append(
            NoticeSummary(
                notice_id=notice.id,
                school_id=notice.school_id,
                kind=notice.kind,
                is_drill=notice.is_drill,
                requires_ack=notice.requires_ack,
                title=dict(titles.get(notice.id) or {}),
                version=notice.current_version,
                send_at=as_utc(notice.send_at),
                deadline_at=as_utc(notice.deadline_at) if notice.deadline_at else None,
                timezone=zones.get(notice.school_id, "UTC"),
                cancelled=notice.cancelled_at is not None,
                deliveries=DeliveryCounts(guardians=sum(tally.values()), **tally),
                families=FamilyCounts(
                    total=len(family_flags),
                    acknowledged=sum(1 for acked, _ in family_flags if acked),
                    no_reachable_guardian=sum(
                        1 for acked, reachable in family_flags if not acked and not reachable
                    ),
                ),
            )
        )
    return summaries


async def summarize(session: AsyncSession, notice: Notice) -> NoticeSummary:
    """The counts of one notice."""
    [summary] = await _summaries(session, [notice])
    return summary


async def recent_notices(
    session: AsyncSession, person: Person, *, limit: int = RECENT_LIMIT
) -> list[NoticeSummary]:
    """The latest notices ``person`` may follow, newest first: every notice of the schools
    they administer, and their own in the schools where they teach."""
    grants = await session.execute(
        select(RoleGrant.school_id, RoleGrant.role).where(RoleGrant.person_id == person.id)
    )
    admin_of, teacher_of = set(), set()
    for school_id, role in grants:
        if role == Role.ADMIN:
            admin_of.add(school_id)
        elif role == Role.TEACHER:
            teacher_of.add(school_id)
    visible: list[ColumnElement[bool]] = []
    if admin_of:
        visible.append(Notice.school_id.in_(admin_of))
    if teacher_of:
        visible.append(and_(Notice.school_id.in_(teacher_of), Notice.author_id == person.id))
    if not visible:
        return []
    notices = list(
        await session.scalars(
            select(Notice)
            .where(or_(*visible))
            .order_by(Notice.send_at.desc(), Notice.id.desc())
            .limit(limit)
        )
    )
    return await _summaries(session, notices)


async def first_acknowledgements(
    session: AsyncSession, notice: Notice
) -> dict[int, tuple[datetime, int]]:
    """Per child: the first acknowledgement of the current version and its delivery."""
    rows = await session.execute(
        select(Delivery.student_id, Acknowledgement.acked_at, Acknowledgement.delivery_id)
        .join(Delivery, Delivery.id == Acknowledgement.delivery_id)
        .where(
            Acknowledgement.notice_id == notice.id,
            Acknowledgement.version == notice.current_version,
        )
        .order_by(Acknowledgement.acked_at, Acknowledgement.id)
    )
    first: dict[int, tuple[datetime, int]] = {}
    for student_id, acked_at, delivery_id in rows:
        first.setdefault(student_id, (as_utc(acked_at), delivery_id))
    return first


async def _current_version_reached(
    session: AsyncSession, notice: Notice, delivery_ids: Iterable[int]
) -> dict[int, datetime]:
    """Per delivery: when the first message carrying the current version was sent."""
    ids = list(delivery_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(OutboxMessage.delivery_id, func.min(OutboxMessage.sent_at))
        .where(
            OutboxMessage.delivery_id.in_(ids),
            OutboxMessage.version == notice.current_version,
            OutboxMessage.state == OutboxState.SENT,
            OutboxMessage.purpose.in_([OutboxPurpose.NOTICE, OutboxPurpose.UPDATE]),
        )
        .group_by(OutboxMessage.delivery_id)
    )
    reached = {
        delivery_id: as_utc(at)
        for delivery_id, at in rows
        if delivery_id is not None and at is not None
    }
    # Older rows may lack a sent outbox message; the delivery's own send time then counts.
    missing = [i for i in ids if i not in reached]
    if missing:
        fallback = await session.execute(
            select(Delivery.id, Delivery.sent_at).where(Delivery.id.in_(missing))
        )
        reached.update({i: as_utc(at) for i, at in fallback if at is not None})
    return reached


async def drill_figures(session: AsyncSession, notice: Notice) -> list[ClassAckTimes]:
    """Time to acknowledge per class (families, acknowledged, median, 90th percentile)."""
    first = await first_acknowledgements(session, notice)
    reached = await _current_version_reached(session, notice, (d for _, d in first.values()))
    rows = await session.execute(
        select(Delivery.student_id, SchoolClass.name)
        .join(Student, Student.id == Delivery.student_id)
        .join(SchoolClass, SchoolClass.id == Student.class_id)
        .where(Delivery.notice_id == notice.id)
        .distinct()
    )
    children: dict[str, list[int]] = {}
    for student_id, class_name in rows:
        children.setdefault(class_name, []).append(student_id)
    figures = []
    for class_name in sorted(children):
        times = []
        for student_id in children[class_name]:
            if student_id not in first:
                continue
            acked_at, delivery_id = first[student_id]
            start = reached.get(delivery_id)
            if start is not None:
                times.append(max(timedelta(), acked_at - start))
        acknowledged = sum(1 for s in children[class_name] if s in first)
        figures.append(
            ClassAckTimes(
                class_name=class_name,
                families=len(children[class_name]),
                acknowledged=acknowledged,
                median=_median(times),
                p90=percentile(times, 0.9),
            )
        )
    return figures


async def notice_status(session: AsyncSession, notice: Notice) -> NoticeStatus:
    """Counts, the families still to acknowledge, the acknowledgement timeline and, for a
    drill, the figures per class. The caller has checked access (:func:`manageable_notice`)."""
    summary = await summarize(session, notice)
    pending, _acknowledged, _total = await pending_families(session, notice)
    first = await first_acknowledgements(session, notice)
    return NoticeStatus(
        summary=summary,
        pending=tuple(pending) if notice.requires_ack else (),
        sent_from=await plan_base(session, notice),
        ack_times=tuple(sorted(at for at, _ in first.values())),
        drill=tuple(await drill_figures(session, notice)) if notice.is_drill else (),
    )


def deliveries_with_names(notice_id: int) -> Select[Delivery, str, str, str, Guardianship]:
    """A notice's deliveries with the child's name, the class, the guardian's name and the
    guardianship (None once unlinked), by class and child."""
    return (
        select(Delivery, Student.full_name, SchoolClass.name, Person.full_name, Guardianship)
        .join(Student, Student.id == Delivery.student_id)
        .join(SchoolClass, SchoolClass.id == Student.class_id)
        .join(Person, Person.id == Delivery.guardian_id)
        .outerjoin(
            Guardianship,
            and_(
                Guardianship.guardian_id == Delivery.guardian_id,
                Guardianship.student_id == Delivery.student_id,
            ),
        )
        .where(Delivery.notice_id == notice_id)
        .order_by(SchoolClass.name, Student.full_name, Delivery.id)
    )


async def recipient_rows(session: AsyncSession, notice: Notice) -> list[RecipientRow]:
    """Every guardian delivery with names, for the teacher's CSV, by class and child."""
    rows = await session.execute(deliveries_with_names(notice.id))
    return [
        RecipientRow(
            child=child,
            class_name=class_name,
            guardian=guardian,
            relation=link.relation if link is not None else "",
            sent_at=as_utc(d.sent_at) if d.sent_at else None,
            telegram_message_id=d.message_id,
            acknowledged_at=as_utc(d.acked_at)
            if d.acked_at is not None and d.acked_version == notice.current_version
            else None,
            reminders=d.reminders_sent,
            reachable=d.unreachable_at is None and d.chat_id is not None,
        )
        for d, child, class_name, guardian, link in rows
    ]
