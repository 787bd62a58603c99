"""Retention: deleting what SafeCampus no longer needs to keep.

Parents' questions go after ``question_days``; a notice, with its versions, deliveries,
acknowledgements and outbox messages, goes ``evidence_days`` after it was created, unless it
is still being sent or its deadline has not passed; a removed student goes as long after
the removal once no remaining delivery names them. Failed invite attempts go after a day,
and spent invites (expired, used or revoked) after 30 days: by then their hash is useless.

The audit ledger is never touched: it holds pseudonymous ids only, and deleting entries
would break its hash chain. Each purge adds one ``retention.purged`` entry with the counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Delete, delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.models import (
    Acknowledgement,
    Case,
    CaseMessage,
    Delivery,
    FaqQuestion,
    Guardianship,
    GuardianSlot,
    Invite,
    InviteAttempt,
    Notice,
    NoticeVersion,
    OutboxMessage,
    OutboxState,
    Student,
    utcnow,
)
from campus.services.audit import record_event

INVITE_ATTEMPT_DAYS = 1
SPENT_INVITE_DAYS = 30
# Ids per DELETE ... WHERE id IN (...): well under every driver's limit on parameters.
_CHUNK = 500


@dataclass(frozen=True)
class PurgeReport:
    """How many rows of each kind a purge deleted."""

    questions: int = 0
    case_messages: int = 0
    invite_attempts: int = 0
    invites: int = 0
    notices: int = 0
    notice_versions: int = 0
    deliveries: int = 0
    acknowledgements: int = 0
    outbox_messages: int = 0
    students: int = 0
    guardian_slots: int = 0

    def counts(self) -> dict[str, int]:
        """The counts by kind, as recorded in the ledger."""
        return asdict(self)

    @property
    def total(self) -> int:
        """All rows deleted."""
        return sum(self.counts().values())


async def purge_expired(
    session: AsyncSession,
    *,
    question_days: int,
    evidence_days: int,
    now: datetime | None = None,
) -> PurgeReport:
    """Delete everything past its retention period in the caller's transaction and record
    one ``retention.purged`` ledger entry with the counts (never names or ids).

    The deletes are set-based and skip the identity map: use a session with nothing loaded.
    """
    if question_days < 1 or evidence_days < 1:
        raise ValueError("retention periods are at least one day")
    now = now or utcnow()
    evidence_cutoff = now - timedelta(days=evidence_days)
    spent_cutoff = now - timedelta(days=SPENT_INVITE_DAYS)

    questions = await _delete(
        session,
        delete(FaqQuestion).where(FaqQuestion.asked_at < now - timedelta(days=question_days)),
    )
    # A case's thread holds the parent's words: it goes with the questions. The case row
    # stays, without text, for the response-time figures.
    old_cases = select(Case.id).where(Case.created_at < now - timedelta(days=question_days))
    case_messages = await _delete(
        session, delete(CaseMessage).where(CaseMessage.case_id.in_(old_cases))
    )
    attempts = await _delete(
        session,
        delete(InviteAttempt).where(
            InviteAttempt.attempted_at < now - timedelta(days=INVITE_ATTEMPT_DAYS)
        ),
    )
    invites = await _delete(
        session,
        delete(Invite).where(
            or_(
                Invite.expires_at < spent_cutoff,
                Invite.used_at < spent_cutoff,
                Invite.revoked_at < spent_cutoff,
            )
        ),
    )
    notice_counts = await _purge_notices(session, evidence_cutoff, now)
    student_counts = await _purge_removed_students(session, evidence_cutoff)

    report = PurgeReport(
        questions=questions,
        case_messages=case_messages,
        invite_attempts=attempts,
        invites=invites + student_counts["invites"],
        notices=notice_counts["notices"],
        notice_versions=notice_counts["notice_versions"],
        deliveries=notice_counts["deliveries"],
        acknowledgements=notice_counts["acknowledgements"],
        outbox_messages=notice_counts["outbox_messages"],
        students=student_counts["students"],
        guardian_slots=student_counts["guardian_slots"],
    )
    await record_event(session, "retention.purged", "system", report.counts())
    return report


async def _purge_notices(session: AsyncSession, cutoff: datetime, now: datetime) -> dict[str, int]:
    """Notices created before ``cutoff`` whose deadline has passed and whose outbox has
    nothing left to send, with every row that hangs off them."""
    still_sending = exists().where(
        OutboxMessage.notice_id == Notice.id,
        OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.SENDING]),
    )
    # Fixed up front (and locked on PostgreSQL), so every DELETE below sees the same set
    # even if another transaction queues a message meanwhile; a locked notice waits a day.
    ids = list(
        await session.scalars(
            select(Notice.id)
            .where(
                Notice.created_at < cutoff,
                or_(Notice.deadline_at.is_(None), Notice.deadline_at <= now),
                ~still_sending,
            )
            .order_by(Notice.id)
            .with_for_update(skip_locked=True)
        )
    )
    counts = dict.fromkeys(
        ("outbox_messages", "acknowledgements", "deliveries", "notice_versions", "notices"), 0
    )
    for chunk in _chunks(ids):
        # Children first: the database would cascade, but then could not count them.
        counts["outbox_messages"] += await _delete(
            session, delete(OutboxMessage).where(OutboxMessage.notice_id.in_(chunk))
        )
        counts["acknowledgements"] += await _delete(
            session, delete(Acknowledgement).where(Acknowledgement.notice_id.in_(chunk))
        )
        counts["deliveries"] += await _delete(
            session, delete(Delivery).where(Delivery.notice_id.in_(chunk))
        )
        counts["notice_versions"] += await _delete(
            session, delete(NoticeVersion).where(NoticeVersion.notice_id.in_(chunk))
        )
        counts["notices"] += await _delete(session, delete(Notice).where(Notice.id.in_(chunk)))
    return counts


async def _purge_removed_students(session: AsyncSession, cutoff: datetime) -> dict[str, int]:
    """Students removed before ``cutoff`` that no remaining delivery names, with their
    roster guardian names and leftover invites."""
    ids = list(
        await session.scalars(
            select(Student.id)
            .where(
                Student.removed_at < cutoff,
                ~exists().where(Delivery.student_id == Student.id),
            )
            .order_by(Student.id)
        )
    )
    counts = dict.fromkeys(("guardian_slots", "invites", "students"), 0)
    for chunk in _chunks(ids):
        counts["guardian_slots"] += await _delete(
            session, delete(GuardianSlot).where(GuardianSlot.student_id.in_(chunk))
        )
        counts["invites"] += await _delete(
            session, delete(Invite).where(Invite.student_id.in_(chunk))
        )
        # Removal already unlinked the guardians; this only guards against a stray link.
        await _delete(session, delete(Guardianship).where(Guardianship.student_id.in_(chunk)))
        counts["students"] += await _delete(session, delete(Student).where(Student.id.in_(chunk)))
    return counts


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[start : start + _CHUNK] for start in range(0, len(ids), _CHUNK)]


async def _delete(session: AsyncSession, statement: Delete) -> int:
    """Run one set-based DELETE without loading rows into the session; the rows it hit."""
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return cast(CursorResult[Any], result).rowcount
