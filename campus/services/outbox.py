"""The outbox: messages the delivery worker claims, sends and records.

Claiming sets a lease, so several workers (on PostgreSQL, with ``SKIP LOCKED``) never send
the same row, and a crashed worker's rows come back when the lease runs out. A row whose
attempt had an unknown outcome (a timeout, a crash mid-send) is marked ``uncertain`` and sent
at most once more: Telegram has no exactly-once, so we never send twice on purpose and never
silently drop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from campus.models import (
    Delivery,
    Notice,
    NoticeKind,
    NoticeVersion,
    OutboxMessage,
    OutboxPurpose,
    OutboxState,
    Person,
    School,
    SchoolClass,
    Student,
    utcnow,
)
from campus.services.audit import person_ref, record_event
from campus.services.cases import CaseOutgoing, load_case_outgoing

DEFAULT_LEASE = timedelta(seconds=30)
#: Retries of a message after server or network errors, then it is marked failed.
MAX_ATTEMPTS = 6


async def claim_due(
    session: AsyncSession,
    *,
    limit: int,
    lease: timedelta = DEFAULT_LEASE,
    now: datetime | None = None,
) -> list[int]:
    """Claim up to ``limit`` due messages (urgent first, then oldest) and return their ids.

    Rows left in ``sending`` by a worker whose lease ran out are claimed again, marked
    uncertain: their first attempt may or may not have reached Telegram.
    """
    now = now or utcnow()
    await _expire_leases(session, now)
    ids = list(
        await session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.state == OutboxState.PENDING, OutboxMessage.due_at <= now)
            .order_by(OutboxMessage.urgent.desc(), OutboxMessage.due_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(
                state=OutboxState.SENDING,
                lease_until=now + lease,
                attempts=OutboxMessage.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
    return ids


async def release_claims(session: AsyncSession, outbox_ids: list[int]) -> None:
    """Give back claimed messages that were never handed to Telegram (their claim's time to
    send ran out): pending again at once, the attempt not counted, and not uncertain, so
    they go out without the "possibly a copy" line."""
    if not outbox_ids:
        return
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(outbox_ids), OutboxMessage.state == OutboxState.SENDING)
        .values(
            state=OutboxState.PENDING,
            lease_until=None,
            attempts=OutboxMessage.attempts - 1,
        )
        .execution_options(synchronize_session=False)
    )


async def _expire_leases(session: AsyncSession, now: datetime) -> None:
    expired = select(OutboxMessage.id).where(
        OutboxMessage.state == OutboxState.SENDING, OutboxMessage.lease_until < now
    )
    # Second unknown outcome: give up rather than risk a second duplicate.
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(expired.where(OutboxMessage.uncertain.is_(True))))
        .values(state=OutboxState.FAILED, error="outcome unknown twice", lease_until=None)
        .execution_options(synchronize_session=False)
    )
    # They keep their place in the queue (due_at): a crash must not send its victims last.
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(expired))
        .values(state=OutboxState.PENDING, uncertain=True, lease_until=None)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class FamilyLine:
    """One family in a teacher's report."""

    child: str
    class_name: str
    guardians: tuple[tuple[str, bool], ...]  # (name, reachable)


@dataclass(frozen=True)
class Outgoing:
    """Everything needed to render one outbox message, in the recipient's language."""

    outbox_id: int
    purpose: OutboxPurpose
    chat_id: int
    language: str
    notice_id: int
    kind: NoticeKind
    version: int
    requires_ack: bool
    is_drill: bool
    title: str
    body: str
    school_name: str
    timezone: str
    deadline_at: datetime | None
    delivery_id: int | None = None
    child: str = ""
    class_name: str = ""
    change_note: str | None = None
    reminder_number: int = 0
    already_acknowledged: bool = False
    uncertain: bool = False
    pending_families: tuple[FamilyLine, ...] = ()
    acknowledged: int = 0
    total: int = 0


def pick_language(texts: dict[str, str], wanted: str) -> str:
    """The text in ``wanted`` if the version has it, else in the language it has."""
    if wanted in texts:
        return texts[wanted]
    return next(iter(texts.values()), "")


def fill_recipient(text: str, child: str, class_name: str) -> str:
    """Put the child's name and class into a notice text."""
    return text.replace("{child}", child).replace("{class_name}", class_name)


async def load_outgoing(session: AsyncSession, outbox_id: int) -> Outgoing | CaseOutgoing | None:
    """The message as it should be sent now; None if it no longer exists."""
    row = await session.get(OutboxMessage, outbox_id)
    if row is not None and row.purpose == OutboxPurpose.CASE:
        return await load_case_outgoing(session, row)
    if row is None or row.notice_id is None:
        return None
    notice = await session.get(Notice, row.notice_id)
    school = await session.get(School, row.school_id)
    assert notice is not None and school is not None
    version_number = row.version or notice.current_version
    version = await session.scalar(
        select(NoticeVersion).where(
            NoticeVersion.notice_id == notice.id, NoticeVersion.number == version_number
        )
    )
    assert version is not None
    common = {
        "outbox_id": row.id,
        "purpose": row.purpose,
        "chat_id": row.chat_id,
        "notice_id": notice.id,
        "kind": notice.kind,
        "version": version_number,
        "requires_ack": notice.requires_ack,
        "is_drill": notice.is_drill,
        "school_name": school.name,
        "timezone": school.timezone,
        "deadline_at": notice.deadline_at,
        "change_note": version.change_note,
        "uncertain": row.uncertain,
    }
    if row.purpose == OutboxPurpose.REPORT:
        author = await session.get(Person, notice.author_id) if notice.author_id else None
        language = author.language if author else "en"
        families, acknowledged, total = await pending_families(session, notice)
        return Outgoing(
            language=language,
            title=pick_language(version.title, language),
            body="",
            pending_families=tuple(families),
            acknowledged=acknowledged,
            total=total,
            **common,  # type: ignore[arg-type]
        )
    assert row.delivery_id is not None
    delivery = await session.get(Delivery, row.delivery_id)
    assert delivery is not None
    guardian = await session.get(Person, delivery.guardian_id)
    student = await session.get(Student, delivery.student_id)
    assert guardian is not None and student is not None
    school_class = await session.get(SchoolClass, student.class_id)
    assert school_class is not None
    language = guardian.language
    child, class_name = student.full_name, school_class.name
    acked_delivery = await session.scalar(
        select(Delivery.id).where(
            Delivery.notice_id == notice.id,
            Delivery.student_id == student.id,
            Delivery.acked_version == notice.current_version,
        )
    )
    return Outgoing(
        language=language,
        title=fill_recipient(pick_language(version.title, language), child, class_name),
        body=fill_recipient(pick_language(version.body, language), child, class_name),
        delivery_id=delivery.id,
        child=child,
        class_name=class_name,
        reminder_number=delivery.reminders_sent,
        already_acknowledged=acked_delivery is not None,
        **common,  # type: ignore[arg-type]
    )


async def pending_families(
    session: AsyncSession, notice: Notice
) -> tuple[list[FamilyLine], int, int]:
    """Children whose families have not acknowledged the current version, with their
    guardians and whether each can be reached; and the acknowledged and total counts."""
    rows = await session.execute(
        select(Delivery, Student, SchoolClass, Person)
        .join(Student, Student.id == Delivery.student_id)
        .join(SchoolClass, SchoolClass.id == Student.class_id)
        .join(Person, Person.id == Delivery.guardian_id)
        .where(Delivery.notice_id == notice.id)
        .order_by(SchoolClass.name, Student.full_name, Delivery.id)
    )
    by_child: dict[int, tuple[Student, SchoolClass, list[tuple[Delivery, Person]]]] = {}
    for delivery, student, school_class, guardian in rows:
        by_child.setdefault(student.id, (student, school_class, []))[2].append((delivery, guardian))
    lines: list[FamilyLine] = []
    acknowledged = 0
    for student, school_class, family in by_child.values():
        if any(d.acked_version == notice.current_version for d, _ in family):
            acknowledged += 1
            continue
        lines.append(
            FamilyLine(
                child=student.full_name,
                class_name=school_class.name,
                guardians=tuple(
                    (g.full_name, d.unreachable_at is None and d.chat_id is not None)
                    for d, g in family
                ),
            )
        )
    return lines, acknowledged, len(by_child)


async def mark_sent(
    session: AsyncSession, outbox_id: int, message_id: int, *, now: datetime | None = None
) -> None:
    """Record a message Telegram accepted, and what it means for its delivery."""
    now = now or utcnow()
    row = await session.get(OutboxMessage, outbox_id)
    if row is None:
        return
    row.state = OutboxState.SENT
    row.sent_at = now
    row.telegram_message_id = message_id
    row.lease_until = None
    payload: dict[str, object] = {
        "outbox": row.id,
        "notice": row.notice_id,
        "version": row.version,
        "purpose": row.purpose.value,
        "message": message_id,
    }
    actor = "system"
    if row.delivery_id is not None:
        delivery = await session.get(Delivery, row.delivery_id)
        assert delivery is not None
        delivery.message_id = message_id
        delivery.sent_version = row.version
        if delivery.sent_at is None:
            delivery.sent_at = now
        payload["delivery"] = delivery.id
        payload["uncertain_before"] = row.uncertain
        actor = person_ref(delivery.guardian_id)
    await record_event(session, f"outbox.{row.purpose.value}.sent", actor, payload)


async def mark_cancelled(session: AsyncSession, outbox_id: int, reason: str) -> None:
    """Drop a message that no longer needs sending (e.g. a reminder to a family that has
    acknowledged meanwhile)."""
    row = await session.get(OutboxMessage, outbox_id)
    if row is not None:
        row.state = OutboxState.CANCELLED
        row.error = reason[:300]
        row.lease_until = None


async def mark_failed(session: AsyncSession, outbox_id: int, error: str) -> None:
    """A message Telegram refused for good (a bad request): recorded, not retried."""
    row = await session.get(OutboxMessage, outbox_id)
    if row is None:
        return
    row.state = OutboxState.FAILED
    row.error = error[:300]
    row.lease_until = None
    await record_event(
        session,
        "outbox.failed",
        "system",
        {"outbox": row.id, "notice": row.notice_id, "delivery": row.delivery_id},
    )


def backoff(attempts: int) -> timedelta:
    """Wait before retry number ``attempts``: 2, 4, 8, ... seconds, at most a minute."""
    return timedelta(seconds=min(60, 2 ** max(1, attempts)))


async def mark_retry(
    session: AsyncSession,
    outbox_id: int,
    *,
    after: timedelta | None,
    error: str,
    uncertain: bool = False,
    counts: bool = True,
    now: datetime | None = None,
) -> bool:
    """Put a message back in the queue, after ``after`` or an exponential backoff; returns
    False if it has used up its attempts (or its one retry after an unknown outcome) and is
    now failed."""
    now = now or utcnow()
    row = await session.get(OutboxMessage, outbox_id)
    if row is None:
        return False
    row.lease_until = None
    row.error = error[:300]
    if not counts:
        row.attempts = max(0, row.attempts - 1)
    if (uncertain and row.uncertain) or row.attempts >= MAX_ATTEMPTS:
        await mark_failed(session, outbox_id, error)
        return False
    row.state = OutboxState.PENDING
    row.uncertain = row.uncertain or uncertain
    row.due_at = now + (after if after is not None else backoff(row.attempts))
    return True


async def mark_unreachable(
    session: AsyncSession, outbox_id: int, reason: str, *, now: datetime | None = None
) -> None:
    """The recipient blocked the bot or the chat is gone: stop trying, tell the teacher
    through the status view, and drop the guardian's other queued messages for the notice."""
    now = now or utcnow()
    row = await session.get(OutboxMessage, outbox_id)
    if row is None:
        return
    row.state = OutboxState.UNREACHABLE
    row.error = reason[:300]
    row.lease_until = None
    if row.delivery_id is not None:
        delivery = await session.get(Delivery, row.delivery_id)
        assert delivery is not None
        delivery.unreachable_at = now
        delivery.unreachable_reason = reason[:200]
        delivery.next_reminder_at = None
    await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.chat_id == row.chat_id,
            OutboxMessage.state == OutboxState.PENDING,
            OutboxMessage.notice_id == row.notice_id,
        )
        .values(state=OutboxState.UNREACHABLE, error="recipient unreachable")
        .execution_options(synchronize_session=False)
    )
    await record_event(
        session,
        "outbox.unreachable",
        "system",
        {"outbox": row.id, "notice": row.notice_id, "delivery": row.delivery_id},
    )


async def move_chat(session: AsyncSession, outbox_id: int, new_chat_id: int) -> None:
    """Follow a chat that Telegram says has moved (``migrate_to_chat_id``)."""
    row = await session.get(OutboxMessage, outbox_id)
    if row is None:
        return
    old = row.chat_id
    await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.chat_id == old,
            OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.SENDING]),
        )
        .values(chat_id=new_chat_id)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Delivery)
        .where(Delivery.chat_id == old)
        .values(chat_id=new_chat_id)
        .execution_options(synchronize_session=False)
    )
    row.chat_id = new_chat_id
    row.state = OutboxState.PENDING
    row.attempts = max(0, row.attempts - 1)
    row.lease_until = None


async def queue_is_idle(session: AsyncSession) -> bool:
    """Whether nothing is waiting or being sent (for tests, the demo and benchmarks)."""
    busy = await session.scalar(
        select(OutboxMessage.id)
        .where(
            or_(
                OutboxMessage.state == OutboxState.SENDING,
                OutboxMessage.state == OutboxState.PENDING,
            )
        )
        .limit(1)
    )
    return busy is None
