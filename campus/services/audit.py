"""The append-only, hash-chained audit ledger.

Each entry's hash covers its kind, actor, payload, time and the previous entry's hash, so an
edited, inserted or deleted row breaks the chain at that point. Payloads carry pseudonymous
ids only (``person:12``), never names.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import false, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from campus.models import AuditEvent, utcnow

GENESIS_HASH = "0" * 64
#: The PostgreSQL advisory lock that serialises appends to the ledger.
LEDGER_LOCK_KEY = 0x5AFEC0


def person_ref(person_id: int | None) -> str:
    """The pseudonymous reference to a person used in the ledger."""
    return "system" if person_id is None else f"person:{person_id}"


def _naive_utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes and PostgreSQL aware ones: hash one form.
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def entry_hash(
    prev_hash: str, kind: str, actor: str, payload: Mapping[str, Any], created_at: datetime
) -> str:
    """The SHA-256 over an entry's canonical JSON form."""
    body = json.dumps(
        {
            "prev": prev_hash,
            "kind": kind,
            "actor": actor,
            "payload": payload,
            "at": _naive_utc(created_at).isoformat(timespec="microseconds"),
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


async def record_event(
    session: AsyncSession, kind: str, actor: str, payload: Mapping[str, Any] | None = None
) -> AuditEvent:
    """Append an entry in the caller's transaction, chained to the latest entry."""
    # Appends must be serialised or two writers chain to the same entry and fork the
    # ledger. A row lock on the newest entry is not enough (a waiting writer then reads
    # that same row), so take the database's write lock before reading it.
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(LEDGER_LOCK_KEY)))
    elif dialect == "sqlite":  # a write statement takes SQLite's single write lock
        await session.execute(update(AuditEvent).where(false()).values(kind=AuditEvent.kind))
    latest = await session.scalar(
        select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1).with_for_update()
    )
    prev_hash = latest or GENESIS_HASH
    created_at = utcnow()
    data = dict(payload or {})
    event = AuditEvent(
        kind=kind,
        actor=actor,
        payload=data,
        created_at=created_at,
        prev_hash=prev_hash,
        hash=entry_hash(prev_hash, kind, actor, data, created_at),
    )
    session.add(event)
    await session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    """The result of verifying the ledger: ``first_bad_id`` is None when intact."""

    entries: int
    head: str
    first_bad_id: int | None = None
    problem: str | None = None

    @property
    def intact(self) -> bool:
        return self.first_bad_id is None


async def verify_chain(session: AsyncSession) -> ChainReport:
    """Walk the ledger in order and report the first entry that breaks the chain."""
    prev_hash = GENESIS_HASH
    count = 0
    result = await session.stream_scalars(select(AuditEvent).order_by(AuditEvent.id))
    async for event in result:
        count += 1
        if event.prev_hash != prev_hash:
            return ChainReport(count, prev_hash, event.id, "an entry before it is missing or new")
        expected = entry_hash(prev_hash, event.kind, event.actor, event.payload, event.created_at)
        if event.hash != expected:
            return ChainReport(count, prev_hash, event.id, "its content was changed")
        prev_hash = event.hash
    return ChainReport(count, prev_hash)
