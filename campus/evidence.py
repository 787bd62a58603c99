"""The evidence pack of one notice: who was told what, when, and who confirmed it.

One collection (:func:`build_evidence`) feeds three files:

* ``notice-<id>.json`` is **pseudonymous**: people appear as ``person:12`` (the ledger's own
  references) and children as ``student:7``; it can be handed to someone outside the school.
  Notice texts are included as stored, so the ``{child}`` placeholder stays a placeholder.
* ``notice-<id>.csv`` is for the **school's own use**: the same facts, one row per message,
  acknowledgement or request, with the child's and the guardian's names next to the
  pseudonyms (UTF-8 with BOM, times in the school's time zone).
* ``notice-<id>.pdf`` (:mod:`campus.evidence_pdf`) is a readable summary with names, also for
  the school's own use.

The pack also carries every ledger entry about the notice, the ledger's head hash and
whether the whole chain verifies, so a later reader can check that nothing was changed.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.models import (
    Acknowledgement,
    AuditEvent,
    Notice,
    NoticeVersion,
    OutboxMessage,
    OutboxPurpose,
    Person,
    School,
    SchoolClass,
    as_utc,
    utcnow,
)
from campus.services.audit import ChainReport, person_ref, verify_chain
from campus.services.notice_status import (
    NoticeSummary,
    deliveries_with_names,
    first_acknowledgements,
    summarize,
)
from campus.services.notices import version_digest

FORMAT = "safecampus-evidence/1"
CSV_COLUMNS = (
    "delivery",
    "guardian_ref",
    "guardian_name",
    "relation",
    "child_ref",
    "child_name",
    "class",
    "first_guardian",
    "event",
    "purpose",
    "version",
    "state",
    "time",
    "telegram_message_id",
    "detail",
)


_FORMULA_START = ("=", "+", "-", "@")


def csv_safe(value: str) -> str:
    """A text cell Excel will not run as a formula (CSV injection): names come from
    Telegram profiles and the roster, and may start with = + - @."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def student_ref(student_id: int) -> str:
    """The pseudonymous reference to a child used in evidence files."""
    return f"student:{student_id}"


@dataclass(frozen=True)
class VersionRecord:
    number: int
    created_at: datetime
    author: str
    title: dict[str, str]
    body: dict[str, str]
    change_note: str | None
    #: Whether the text still hashes to what the ledger recorded when it was published
    #: (None for a version the ledger has no digest for).
    matches_ledger: bool | None = None


@dataclass(frozen=True)
class MessageRecord:
    """One message the bot sent (or tried to send) for a delivery."""

    outbox_id: int
    purpose: str
    version: int | None
    state: str
    due_at: datetime
    sent_at: datetime | None
    telegram_message_id: int | None
    attempts: int
    uncertain: bool
    error: str | None


@dataclass(frozen=True)
class AckRecord:
    version: int
    at: datetime
    telegram_message_id: int | None


@dataclass(frozen=True)
class RecipientRecord:
    """One (guardian, child) pair of the notice. The names are for the school's CSV and PDF
    only; :func:`evidence_json` never writes them."""

    delivery_id: int
    student_id: int
    guardian: str
    child: str
    class_name: str
    first_guardian: bool
    asked_at: datetime | None
    second_guardian_request_at: datetime | None
    sent_at: datetime | None
    unreachable_at: datetime | None
    unreachable_reason: str | None
    #: Reminder messages that reached Telegram, over all versions.
    reminders_sent: int
    messages: tuple[MessageRecord, ...]
    acknowledgements: tuple[AckRecord, ...]
    guardian_name: str
    child_name: str
    relation: str


@dataclass(frozen=True)
class ReportMessage:
    recipient: str
    state: str
    sent_at: datetime | None
    telegram_message_id: int | None


@dataclass(frozen=True)
class DeadlineReport:
    """What stood at the deadline, and the list the teacher was sent."""

    deadline_at: datetime
    reported_at: datetime | None
    families: int
    acknowledged_by_deadline: int
    not_acknowledged_by_deadline: tuple[str, ...]
    messages: tuple[ReportMessage, ...]


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    created_at: datetime
    kind: str
    actor: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class EvidencePack:
    generated_at: datetime
    notice_id: int
    school_name: str
    timezone: str
    kind: str
    is_drill: bool
    requires_ack: bool
    template_id: str | None
    classes: tuple[str, ...]
    author: str
    created_at: datetime
    send_at: datetime
    deadline_at: datetime | None
    reminder_minutes: tuple[int, ...]
    current_version: int
    cancelled_at: datetime | None
    summary: NoticeSummary
    versions: tuple[VersionRecord, ...]
    recipients: tuple[RecipientRecord, ...]
    deadline_report: DeadlineReport | None
    ledger: tuple[LedgerEntry, ...]
    chain: ChainReport


def _when(moment: datetime | None) -> datetime | None:
    return as_utc(moment) if moment is not None else None


async def _versions(
    session: AsyncSession, notice: Notice, ledger: tuple[LedgerEntry, ...]
) -> tuple[VersionRecord, ...]:
    digests = {
        int(e.payload.get("version", 0)): str(e.payload["text_sha256"])
        for e in ledger
        if e.kind in {"notice.published", "notice.revised"} and "text_sha256" in e.payload
    }
    versions = await session.scalars(
        select(NoticeVersion)
        .where(NoticeVersion.notice_id == notice.id)
        .order_by(NoticeVersion.number)
    )
    return tuple(
        VersionRecord(
            number=v.number,
            created_at=as_utc(v.created_at),
            author=person_ref(v.author_id),
            title=dict(v.title),
            body=dict(v.body),
            change_note=v.change_note,
            matches_ledger=(
                version_digest(v.title, v.body) == digests[v.number]
                if v.number in digests
                else None
            ),
        )
        for v in versions
    )


async def _recipients(session: AsyncSession, notice: Notice) -> tuple[RecipientRecord, ...]:
    messages: dict[int, list[MessageRecord]] = {}
    for row in await session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.notice_id == notice.id, OutboxMessage.delivery_id.is_not(None))
        .order_by(OutboxMessage.id)
    ):
        assert row.delivery_id is not None
        messages.setdefault(row.delivery_id, []).append(
            MessageRecord(
                outbox_id=row.id,
                purpose=row.purpose.value,
                version=row.version,
                state=row.state.value,
                due_at=as_utc(row.due_at),
                sent_at=_when(row.sent_at),
                telegram_message_id=row.telegram_message_id,
                attempts=row.attempts,
                uncertain=row.uncertain,
                error=row.error,
            )
        )
    acks: dict[int, list[AckRecord]] = {}
    for ack in await session.scalars(
        select(Acknowledgement)
        .where(Acknowledgement.notice_id == notice.id)
        .order_by(Acknowledgement.acked_at, Acknowledgement.id)
    ):
        acks.setdefault(ack.delivery_id, []).append(
            AckRecord(ack.version, as_utc(ack.acked_at), ack.telegram_message_id)
        )
    rows = await session.execute(deliveries_with_names(notice.id))
    return tuple(
        RecipientRecord(
            delivery_id=d.id,
            student_id=d.student_id,
            guardian=person_ref(d.guardian_id),
            child=student_ref(d.student_id),
            class_name=class_name,
            first_guardian=d.is_primary,
            asked_at=_when(d.asked_at),
            second_guardian_request_at=None if d.is_primary else _when(d.asked_at),
            sent_at=_when(d.sent_at),
            unreachable_at=_when(d.unreachable_at),
            unreachable_reason=d.unreachable_reason,
            reminders_sent=sum(
                1 for m in messages.get(d.id, ()) if m.purpose == "reminder" and m.sent_at
            ),
            messages=tuple(messages.get(d.id, ())),
            acknowledgements=tuple(acks.get(d.id, ())),
            guardian_name=guardian_name,
            child_name=child_name,
            relation=link.relation if link is not None else "",
        )
        for d, child_name, class_name, guardian_name, link in rows
    )


async def _deadline_report(
    session: AsyncSession, notice: Notice, recipients: tuple[RecipientRecord, ...]
) -> DeadlineReport | None:
    if notice.deadline_at is None:
        return None
    deadline = as_utc(notice.deadline_at)
    first = await first_acknowledgements(session, notice)
    children = sorted({r.student_id for r in recipients})
    on_time = [c for c in children if c in first and first[c][0] <= deadline]
    chats: dict[int | None, int] = {}
    report_rows = list(
        await session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.notice_id == notice.id,
                OutboxMessage.purpose == OutboxPurpose.REPORT,
            )
            .order_by(OutboxMessage.id)
        )
    )
    if report_rows:
        people = await session.execute(
            select(Person.telegram_user_id, Person.id).where(
                Person.telegram_user_id.in_({r.chat_id for r in report_rows})
            )
        )
        chats = dict(people.all())
    return DeadlineReport(
        deadline_at=deadline,
        reported_at=_when(notice.deadline_reported_at),
        families=len(children),
        acknowledged_by_deadline=len(on_time),
        not_acknowledged_by_deadline=tuple(student_ref(c) for c in children if c not in on_time),
        messages=tuple(
            ReportMessage(
                recipient=person_ref(chats[r.chat_id]) if r.chat_id in chats else "unknown",
                state=r.state.value,
                sent_at=_when(r.sent_at),
                telegram_message_id=r.telegram_message_id,
            )
            for r in report_rows
        ),
    )


async def ledger_entries(session: AsyncSession, notice_id: int) -> tuple[LedgerEntry, ...]:
    """Every ledger entry whose payload names the notice, in ledger order."""
    events = await session.scalars(
        select(AuditEvent)
        .where(AuditEvent.payload["notice"].as_integer() == notice_id)
        .order_by(AuditEvent.id)
    )
    return tuple(
        LedgerEntry(
            id=e.id,
            created_at=as_utc(e.created_at),
            kind=e.kind,
            actor=e.actor,
            payload=dict(e.payload),
            prev_hash=e.prev_hash,
            hash=e.hash,
        )
        for e in events
    )


async def build_evidence(
    session: AsyncSession, notice_id: int, *, now: datetime | None = None
) -> EvidencePack | None:
    """Collect the evidence of one notice; None if there is no such notice."""
    notice = await session.get(Notice, notice_id)
    if notice is None:
        return None
    school = await session.get(School, notice.school_id)
    assert school is not None
    class_ids = [int(c) for c in notice.audience.get("classes", [])]
    class_names = await session.scalars(
        select(SchoolClass.name).where(SchoolClass.id.in_(class_ids)).order_by(SchoolClass.name)
    )
    recipients = await _recipients(session, notice)
    ledger = await ledger_entries(session, notice.id)
    return EvidencePack(
        generated_at=now or utcnow(),
        notice_id=notice.id,
        school_name=school.name,
        timezone=school.timezone,
        kind=notice.kind.value,
        is_drill=notice.is_drill,
        requires_ack=notice.requires_ack,
        template_id=notice.template_id,
        classes=tuple(class_names),
        author=person_ref(notice.author_id),
        created_at=as_utc(notice.created_at),
        send_at=as_utc(notice.send_at),
        deadline_at=_when(notice.deadline_at),
        reminder_minutes=tuple(notice.reminder_minutes),
        current_version=notice.current_version,
        cancelled_at=_when(notice.cancelled_at),
        summary=await summarize(session, notice),
        versions=await _versions(session, notice, ledger),
        recipients=recipients,
        deadline_report=await _deadline_report(session, notice, recipients),
        ledger=ledger,
        chain=await verify_chain(session),
    )


# --- files -----------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def _counts(pack: EvidencePack) -> dict[str, int]:
    deliveries, families = pack.summary.deliveries, pack.summary.families
    return {
        "guardian_deliveries": deliveries.guardians,
        "sent": deliveries.sent,
        "failed": deliveries.failed,
        "unreachable": deliveries.unreachable,
        "to_send": deliveries.to_send,
        "not_asked_yet": deliveries.not_asked,
        "families": families.total,
        "families_acknowledged": families.acknowledged,
        "families_not_acknowledged": families.not_acknowledged,
        "families_with_no_reachable_guardian": families.no_reachable_guardian,
    }


def _message_json(m: MessageRecord) -> dict[str, Any]:
    return {
        "outbox": m.outbox_id,
        "purpose": m.purpose,
        "version": m.version,
        "state": m.state,
        "due_at": _iso(m.due_at),
        "sent_at": _iso(m.sent_at),
        "telegram_message_id": m.telegram_message_id,
        "attempts": m.attempts,
        "uncertain": m.uncertain,
        "error": m.error,
    }


def _recipient_json(r: RecipientRecord) -> dict[str, Any]:
    # Names stay out on purpose: this file is the pseudonymous one.
    return {
        "delivery": r.delivery_id,
        "guardian": r.guardian,
        "child": r.child,
        "class": r.class_name,
        "first_guardian": r.first_guardian,
        "asked_at": _iso(r.asked_at),
        "second_guardian_request_at": _iso(r.second_guardian_request_at),
        "sent_at": _iso(r.sent_at),
        "unreachable_at": _iso(r.unreachable_at),
        "unreachable_reason": r.unreachable_reason,
        "reminders_sent": r.reminders_sent,
        "messages": [_message_json(m) for m in r.messages],
        "acknowledgements": [
            {"version": a.version, "at": _iso(a.at), "telegram_message_id": a.telegram_message_id}
            for a in r.acknowledgements
        ],
    }


def _deadline_json(report: DeadlineReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    return {
        "deadline_at": _iso(report.deadline_at),
        "reported_at": _iso(report.reported_at),
        "families": report.families,
        "acknowledged_by_deadline": report.acknowledged_by_deadline,
        "not_acknowledged_by_deadline": list(report.not_acknowledged_by_deadline),
        "messages": [
            {
                "recipient": m.recipient,
                "state": m.state,
                "sent_at": _iso(m.sent_at),
                "telegram_message_id": m.telegram_message_id,
            }
            for m in report.messages
        ],
    }


def evidence_json(pack: EvidencePack) -> bytes:
    """The pseudonymous evidence file: no names of children or guardians; times in UTC."""
    document = {
        "format": FORMAT,
        "generated_at": _iso(pack.generated_at),
        "pseudonymous": True,
        "notice": {
            "id": pack.notice_id,
            "school": pack.school_name,
            "timezone": pack.timezone,
            "kind": pack.kind,
            "drill": pack.is_drill,
            "requires_ack": pack.requires_ack,
            "template": pack.template_id,
            "classes": list(pack.classes),
            "author": pack.author,
            "created_at": _iso(pack.created_at),
            "send_at": _iso(pack.send_at),
            "deadline_at": _iso(pack.deadline_at),
            "reminder_minutes": list(pack.reminder_minutes),
            "current_version": pack.current_version,
            "cancelled_at": _iso(pack.cancelled_at),
        },
        "versions": [
            {
                "number": v.number,
                "created_at": _iso(v.created_at),
                "author": v.author,
                "title": v.title,
                "body": v.body,
                "change_note": v.change_note,
                "text_matches_ledger": v.matches_ledger,
            }
            for v in pack.versions
        ],
        "counts": _counts(pack),
        "recipients": [_recipient_json(r) for r in pack.recipients],
        "deadline_report": _deadline_json(pack.deadline_report),
        "ledger": {
            "entries": [
                {
                    "id": e.id,
                    "created_at": _iso(e.created_at),
                    "kind": e.kind,
                    "actor": e.actor,
                    "payload": e.payload,
                    "prev_hash": e.prev_hash,
                    "hash": e.hash,
                }
                for e in pack.ledger
            ],
            "chain": {
                "entries": pack.chain.entries,
                "head": pack.chain.head,
                "intact": pack.chain.intact,
                "first_bad_id": pack.chain.first_bad_id,
                "problem": pack.chain.problem,
            },
        },
    }
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


def local_iso(moment: datetime | None, timezone: str) -> str:
    """A time in the school's zone with its offset, or "" for none."""
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(timezone)).isoformat(timespec="seconds")


def _csv_events(r: RecipientRecord, pack: EvidencePack) -> list[list[object]]:
    """(event, purpose, version, state, time, telegram message id, detail) rows."""
    zone = pack.timezone
    events: list[list[object]] = []
    if r.second_guardian_request_at is not None:
        at = local_iso(r.second_guardian_request_at, zone)
        events.append(["second_guardian_request", "", "", "", at, "", ""])
    for m in r.messages:
        events.append(
            [
                "message",
                m.purpose,
                m.version or "",
                m.state,
                local_iso(m.sent_at or m.due_at, zone),
                m.telegram_message_id or "",
                csv_safe(m.error or ""),
            ]
        )
    for a in r.acknowledgements:
        state = "current" if a.version == pack.current_version else "older version"
        at = local_iso(a.at, zone)
        events.append(
            ["acknowledgement", "", a.version, state, at, a.telegram_message_id or "", ""]
        )
    if r.unreachable_at is not None:
        at = local_iso(r.unreachable_at, zone)
        events.append(["unreachable", "", "", "", at, "", csv_safe(r.unreachable_reason or "")])
    if not events:
        # Still one row, so that every recipient is listed.
        events.append(["not_asked" if r.asked_at is None else "not_sent", "", "", "", "", "", ""])
    return events


def evidence_csv(pack: EvidencePack) -> bytes:
    """The school's own file, with names: one row per message, acknowledgement, request or
    loss of contact (at least one per recipient), times in the school's time zone."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in pack.recipients:
        who = [
            r.delivery_id,
            r.guardian,
            csv_safe(r.guardian_name),
            csv_safe(r.relation),
            r.child,
            csv_safe(r.child_name),
            csv_safe(r.class_name),
            "yes" if r.first_guardian else "no",
        ]
        for event in _csv_events(r, pack):
            writer.writerow([*who, *event])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
