"""Notices: who may send to whom, publishing in one transaction, new versions, and
acknowledgements.

A notice goes to every (guardian, child) pair of its audience. For notices that need an
acknowledgement, each child's first guardian is asked at once and the others only when
reminders go unanswered (see :mod:`campus.services.reminders`). A child counts as
acknowledged when any of its guardians has acknowledged the current version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

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
    TeacherAssignment,
    as_utc,
    utcnow,
)
from campus.services.audit import person_ref, record_event
from campus.services.reminders import plan_steps, second_guardian_time

#: Telegram's limit for one message is 4096 characters; the header and footer need room.
MAX_BODY = 3500
MAX_TITLE = 120


class NoticeError(Exception):
    """A notice request that cannot be carried out; ``code`` names the reason."""

    def __init__(self, code: str, **details: object) -> None:
        super().__init__(code)
        self.code = code
        self.details = details


@dataclass(frozen=True)
class ReminderPlan:
    """When to remind and when the teacher gets the list, relative to sending."""

    deadline: timedelta
    reminders: tuple[timedelta, ...]

    def minutes(self) -> list[int]:
        return [int(r.total_seconds() // 60) for r in self.reminders]


#: Sensible defaults per kind; an urgent alert is chased within the hour.
DEFAULT_PLANS: Mapping[NoticeKind, ReminderPlan] = {
    NoticeKind.CLASS_NOTICE: ReminderPlan(timedelta(days=2), (timedelta(days=1),)),
    NoticeKind.SAFETY_ALERT: ReminderPlan(
        timedelta(hours=24), (timedelta(hours=4), timedelta(hours=12))
    ),
    NoticeKind.URGENT_ALERT: ReminderPlan(
        timedelta(hours=2), (timedelta(minutes=15), timedelta(minutes=45))
    ),
}
#: Whether a kind asks for an acknowledgement unless the teacher says otherwise.
DEFAULT_ACK: Mapping[NoticeKind, bool] = {
    NoticeKind.CLASS_NOTICE: False,
    NoticeKind.SAFETY_ALERT: True,
    NoticeKind.URGENT_ALERT: True,
}


@dataclass(frozen=True)
class NoticeDraft:
    """Everything the compose dialog collects. ``title`` and ``body`` map a language to
    text; the body may use ``{child}`` and ``{class_name}``."""

    kind: NoticeKind
    class_ids: tuple[int, ...]
    title: Mapping[str, str]
    body: Mapping[str, str]
    requires_ack: bool
    deadline: timedelta | None = None
    reminders: tuple[timedelta, ...] = ()
    send_at: datetime | None = None
    template_id: str | None = None
    is_drill: bool = False


@dataclass(frozen=True)
class Audience:
    """Who a set of classes reaches: children, their guardian links, and the gaps."""

    class_ids: tuple[int, ...]
    children: int
    guardian_links: int
    children_without_guardian: tuple[str, ...] = field(default_factory=tuple)


async def sendable_classes(
    session: AsyncSession, person: Person, school_id: int
) -> list[SchoolClass]:
    """The classes ``person`` may address in ``school_id``: every class for an admin, the
    assigned ones for a teacher, none otherwise."""
    roles = {g.role for g in person.roles if g.school_id == school_id}
    query = select(SchoolClass).where(SchoolClass.school_id == school_id)
    if Role.ADMIN not in roles:
        if Role.TEACHER not in roles:
            return []
        query = query.join(TeacherAssignment, TeacherAssignment.class_id == SchoolClass.id).where(
            TeacherAssignment.teacher_id == person.id
        )
    return list(await session.scalars(query.order_by(SchoolClass.grade, SchoolClass.name)))


async def _check_audience(
    session: AsyncSession, person: Person, school_id: int, class_ids: Iterable[int]
) -> tuple[int, ...]:
    wanted = tuple(sorted(set(class_ids)))
    if not wanted:
        raise NoticeError("no_audience")
    allowed = {c.id for c in await sendable_classes(session, person, school_id)}
    refused = [c for c in wanted if c not in allowed]
    if refused:
        raise NoticeError("class_not_allowed", class_ids=refused)
    return wanted


async def _pairs(
    session: AsyncSession, class_ids: Iterable[int]
) -> list[tuple[Student, Person | None]]:
    """Every (child, guardian) of the classes, first-linked guardian first; a child with no
    guardian appears once with None."""
    rows = await session.execute(
        select(Student, Person)
        .outerjoin(Guardianship, Guardianship.student_id == Student.id)
        .outerjoin(Person, Person.id == Guardianship.guardian_id)
        .where(Student.class_id.in_(list(class_ids)), Student.removed_at.is_(None))
        .order_by(Student.id, Guardianship.id)
    )
    return [(student, guardian) for student, guardian in rows]


async def preview_audience(
    session: AsyncSession, person: Person, school_id: int, class_ids: Iterable[int]
) -> Audience:
    """What publishing to these classes would reach, checked against the person's role."""
    wanted = await _check_audience(session, person, school_id, class_ids)
    pairs = await _pairs(session, wanted)
    children = {s.id for s, _ in pairs}
    unlinked = tuple(sorted({s.full_name for s, link in pairs if link is None}))
    links = sum(1 for _, link in pairs if link is not None)
    return Audience(wanted, len(children), links, unlinked)


def version_digest(title: Mapping[str, str], body: Mapping[str, str]) -> str:
    """The SHA-256 of a version's texts, kept in the ledger so an edited text shows; the
    text itself stays out of the ledger (it may name people)."""
    canonical = json.dumps(
        {"title": dict(title), "body": dict(body)},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _clean_texts(texts: Mapping[str, str], limit: int) -> dict[str, str]:
    cleaned = {lang: text.strip() for lang, text in texts.items() if text and text.strip()}
    if not cleaned:
        raise NoticeError("empty_text")
    for text in cleaned.values():
        if len(text) > limit:
            raise NoticeError("text_too_long", limit=limit)
    return cleaned


async def publish_notice(
    session: AsyncSession,
    author: Person,
    school_id: int,
    draft: NoticeDraft,
    *,
    now: datetime | None = None,
) -> Notice:
    """Publish in the caller's transaction: the notice, version 1, one delivery per
    (guardian, child), the queued messages, the reminder plan and an audit entry."""
    now = now or utcnow()
    class_ids = await _check_audience(session, author, school_id, draft.class_ids)
    title = _clean_texts(draft.title, MAX_TITLE)
    body = _clean_texts(draft.body, MAX_BODY)
    send_at = as_utc(max(draft.send_at or now, now))
    deadline_at = send_at + draft.deadline if draft.requires_ack and draft.deadline else None
    reminders = [r for r in draft.reminders if deadline_at is None or send_at + r < deadline_at]
    notice = Notice(
        school_id=school_id,
        author_id=author.id,
        kind=draft.kind,
        requires_ack=draft.requires_ack,
        is_drill=draft.is_drill,
        template_id=draft.template_id,
        audience={"classes": list(class_ids)},
        created_at=now,
        send_at=send_at,
        deadline_at=deadline_at,
        reminder_minutes=[int(r.total_seconds() // 60) for r in reminders]
        if draft.requires_ack
        else [],
        current_version=1,
    )
    session.add(notice)
    await session.flush()
    session.add(
        NoticeVersion(
            notice_id=notice.id,
            number=1,
            title=title,
            body=body,
            created_at=now,
            author_id=author.id,
        )
    )
    steps = [send_at + r for r in reminders] if draft.requires_ack else []
    first_reminder = steps[0] if steps else None
    others_asked_at = second_guardian_time(steps, deadline_at)
    deliveries: list[Delivery] = []
    seen_children: set[int] = set()
    for student, guardian in await _pairs(session, class_ids):
        if guardian is None:
            continue
        is_primary = student.id not in seen_children or not draft.requires_ack
        seen_children.add(student.id)
        deliveries.append(
            Delivery(
                notice_id=notice.id,
                guardian_id=guardian.id,
                student_id=student.id,
                chat_id=guardian.telegram_user_id,
                is_primary=is_primary,
                asked_at=send_at if is_primary else None,
                next_reminder_at=first_reminder if is_primary else others_asked_at,
            )
        )
    session.add_all(deliveries)
    await session.flush()
    session.add_all(
        OutboxMessage(
            school_id=school_id,
            notice_id=notice.id,
            delivery_id=d.id,
            purpose=OutboxPurpose.NOTICE,
            chat_id=d.chat_id,
            version=1,
            urgent=draft.kind == NoticeKind.URGENT_ALERT,
            due_at=send_at,
        )
        for d in deliveries
        if d.is_primary and d.chat_id is not None
    )
    await record_event(
        session,
        "notice.published",
        person_ref(author.id),
        {
            "notice": notice.id,
            "version": 1,
            "kind": draft.kind.value,
            "classes": list(class_ids),
            "deliveries": len(deliveries),
            "requires_ack": draft.requires_ack,
            "drill": draft.is_drill,
            "send_at": send_at.isoformat(),
            "deadline_at": deadline_at.isoformat() if deadline_at else None,
            "reminder_minutes": notice.reminder_minutes,
            "text_sha256": version_digest(title, body),
        },
    )
    return notice


async def can_manage(session: AsyncSession, person: Person, notice: Notice) -> bool:
    """Whether ``person`` may see the status of, revise or export ``notice``: an admin of
    its school, or its author while still a teacher there."""
    grants = await session.scalars(
        select(RoleGrant.role).where(
            RoleGrant.person_id == person.id, RoleGrant.school_id == notice.school_id
        )
    )
    roles = set(grants)
    return Role.ADMIN in roles or (Role.TEACHER in roles and notice.author_id == person.id)


async def revise_notice(
    session: AsyncSession,
    author: Person,
    notice: Notice,
    title: Mapping[str, str],
    body: Mapping[str, str],
    change_note: str,
    *,
    now: datetime | None = None,
) -> NoticeVersion:
    """A new version of a sent notice. Acknowledgements of older versions become stale:
    every guardian already asked gets the new text with what changed, and is asked again."""
    now = now or utcnow()
    if not await can_manage(session, author, notice):
        raise NoticeError("not_allowed")
    if notice.cancelled_at is not None:
        raise NoticeError("cancelled")
    number = notice.current_version + 1
    version = NoticeVersion(
        notice_id=notice.id,
        number=number,
        title=_clean_texts(title, MAX_TITLE),
        body=_clean_texts(body, MAX_BODY),
        change_note=" ".join(change_note.split())[:300] or None,
        created_at=now,
        author_id=author.id,
    )
    session.add(version)
    notice.current_version = number
    if notice.deadline_at is not None and as_utc(notice.deadline_at) < now:
        notice.deadline_at = now + (DEFAULT_PLANS[notice.kind].deadline)
        notice.deadline_reported_at = None
    # Messages not yet sent will carry the new version; the rest get an update.
    await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.notice_id == notice.id,
            OutboxMessage.state == OutboxState.PENDING,
            OutboxMessage.purpose.in_([OutboxPurpose.NOTICE, OutboxPurpose.UPDATE]),
        )
        .values(version=number)
        .execution_options(synchronize_session=False)
    )
    deliveries = list(
        await session.scalars(
            select(Delivery).where(
                Delivery.notice_id == notice.id, Delivery.unreachable_at.is_(None)
            )
        )
    )
    steps = plan_steps(now, notice.reminder_minutes) if notice.requires_ack else []
    others_asked_at = second_guardian_time(steps, notice.deadline_at)
    asked = [d for d in deliveries if d.sent_at is not None]
    for delivery in deliveries:
        if delivery.sent_at is None:
            if delivery.asked_at is None:
                delivery.next_reminder_at = others_asked_at
            continue
        delivery.reminders_sent = 0
        delivery.next_reminder_at = steps[0] if steps else None
        if delivery.chat_id is None:
            continue
        session.add(
            OutboxMessage(
                school_id=notice.school_id,
                notice_id=notice.id,
                delivery_id=delivery.id,
                purpose=OutboxPurpose.UPDATE,
                chat_id=delivery.chat_id,
                version=number,
                urgent=notice.kind == NoticeKind.URGENT_ALERT,
                due_at=now,
            )
        )
    await session.flush()
    await record_event(
        session,
        "notice.revised",
        person_ref(author.id),
        {
            "notice": notice.id,
            "version": number,
            "deliveries": len(asked),
            "text_sha256": version_digest(version.title, version.body),
        },
    )
    return version


class AckOutcome(StrEnum):
    RECORDED = "recorded"
    ALREADY = "already"
    STALE = "stale"
    REFUSED = "refused"
    TRY_AGAIN = "try_again"


@dataclass(frozen=True)
class AckResult:
    outcome: AckOutcome
    acked_at: datetime | None = None
    timezone: str = "UTC"


async def acknowledge(
    session: AsyncSession,
    delivery_id: int,
    version: int,
    *,
    telegram_user_id: int,
    chat_id: int,
    message_id: int,
    now: datetime | None = None,
) -> AckResult:
    """Record a press of "acknowledge". Only the delivery's own guardian, in the chat and on
    a message the bot sent for that delivery, counts; the first press per version counts and
    later ones change nothing. Acknowledging stops reminders for the child's family."""
    now = now or utcnow()
    delivery = await session.get(Delivery, delivery_id)
    if delivery is None or delivery.chat_id != chat_id:
        return AckResult(AckOutcome.REFUSED)
    guardian = await session.get(Person, delivery.guardian_id)
    if guardian is None or guardian.telegram_user_id != telegram_user_id:
        return AckResult(AckOutcome.REFUSED)
    ours = await session.scalar(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.delivery_id == delivery.id,
            OutboxMessage.telegram_message_id == message_id,
            OutboxMessage.version == version,
        )
    )
    if not ours:
        # A press in the moment between Telegram accepting the message and the worker
        # recording its id: ask to try again rather than refuse a genuine press.
        in_flight = await session.scalar(
            select(func.count(OutboxMessage.id)).where(
                OutboxMessage.delivery_id == delivery.id,
                OutboxMessage.state == OutboxState.SENDING,
                OutboxMessage.version == version,
            )
        )
        return AckResult(AckOutcome.TRY_AGAIN if in_flight else AckOutcome.REFUSED)
    notice = await session.get(Notice, delivery.notice_id)
    assert notice is not None
    school = await session.get(School, notice.school_id)
    timezone = school.timezone if school else "UTC"
    if version != notice.current_version:
        return AckResult(AckOutcome.STALE, timezone=timezone)
    if delivery.acked_version == version and delivery.acked_at is not None:
        return AckResult(AckOutcome.ALREADY, delivery.acked_at, timezone)
    delivery.acked_at = now
    delivery.acked_version = version
    session.add(
        Acknowledgement(
            delivery_id=delivery.id,
            notice_id=notice.id,
            version=version,
            acked_at=now,
            telegram_message_id=message_id,
        )
    )
    await session.execute(
        update(Delivery)
        .where(Delivery.notice_id == notice.id, Delivery.student_id == delivery.student_id)
        .values(next_reminder_at=None)
        .execution_options(synchronize_session=False)
    )
    await record_event(
        session,
        "notice.acknowledged",
        person_ref(guardian.id),
        {"notice": notice.id, "version": version, "delivery": delivery.id, "message": message_id},
    )
    return AckResult(AckOutcome.RECORDED, now, timezone)


async def family_acknowledged(session: AsyncSession, notice: Notice, student_id: int) -> bool:
    """Whether any guardian of the child has acknowledged the notice's current version."""
    count = await session.scalar(
        select(func.count(Delivery.id)).where(
            Delivery.notice_id == notice.id,
            Delivery.student_id == student_id,
            Delivery.acked_version == notice.current_version,
        )
    )
    return bool(count)
