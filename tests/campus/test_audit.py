from __future__ import annotations

import asyncio

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campus.models import AuditEvent
from campus.services.audit import GENESIS_HASH, record_event, verify_chain


async def _three_entries(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    for n in range(3):
        async with sessionmaker() as session, session.begin():
            await record_event(session, "test.event", "person:1", {"n": n})


async def test_intact_chain_verifies(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    await _three_entries(sessionmaker)
    async with sessionmaker() as session:
        report = await verify_chain(session)
    assert report.intact
    assert report.entries == 3
    assert report.head != GENESIS_HASH


async def test_edited_payload_is_found(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    await _three_entries(sessionmaker)
    async with sessionmaker() as session, session.begin():
        ids = (await session.execute(text("SELECT id FROM audit_events ORDER BY id"))).scalars()
        second = list(ids)[1]
        await session.execute(
            text("UPDATE audit_events SET payload = :p WHERE id = :id"),
            {"p": '{"n": 99}', "id": second},
        )
    async with sessionmaker() as session:
        report = await verify_chain(session)
    assert report.first_bad_id == second
    assert report.problem == "its content was changed"


async def test_deleted_entry_is_found(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    await _three_entries(sessionmaker)
    async with sessionmaker() as session, session.begin():
        ids = list(
            (await session.execute(text("SELECT id FROM audit_events ORDER BY id"))).scalars()
        )
        await session.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": ids[1]})
    async with sessionmaker() as session:
        report = await verify_chain(session)
    assert report.first_bad_id == ids[2]


async def test_concurrent_appends_keep_one_chain(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async def append(number: int) -> None:
        async with sessionmaker() as session, session.begin():
            await record_event(session, "test.concurrent", "system", {"n": number})

    await asyncio.gather(*(append(n) for n in range(30)))
    async with sessionmaker() as session:
        report = await verify_chain(session)
        prev_hashes = list(await session.scalars(select(AuditEvent.prev_hash)))
    assert report.intact and report.entries == 30
    assert len(set(prev_hashes)) == 30  # nobody chained to the same entry twice
