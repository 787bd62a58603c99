"""``safecampus audit verify`` and ``safecampus evidence`` on each supported database: an
intact ledger passes; an edited or a deleted entry is named and the exit code is 1."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import cli
from campus.services.audit import verify_chain
from tests.campus.notice_world import MINUTE, T0, ack, drill_draft, make_world, publish, send


@pytest.fixture
def environment(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI's settings point at the test's database."""
    monkeypatch.delenv("SAFECAMPUS_BOT_TOKEN", raising=False)
    monkeypatch.setenv("SAFECAMPUS_DATABASE_URL", database_url)
    monkeypatch.setenv("SAFECAMPUS_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def _run(*args: str) -> Result:
    # The commands run their own event loop: give them a thread of their own.
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args))


async def _notice(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    world = await make_world(sessionmaker)
    notice_id = await publish(sessionmaker, world, world.teacher_id, drill_draft(world))
    for telegram_id in (101, 103, 201):
        await send(sessionmaker, notice_id, telegram_id, T0 + MINUTE)
    await ack(sessionmaker, notice_id, 101, T0 + 5 * MINUTE)
    return notice_id


async def _entry_ids(sessionmaker: async_sessionmaker[AsyncSession]) -> list[int]:
    async with sessionmaker() as session:
        rows = await session.execute(text("SELECT id FROM audit_events ORDER BY id"))
        return [int(i) for i in rows.scalars()]


async def test_intact_then_an_edited_entry(
    sessionmaker: async_sessionmaker[AsyncSession], environment: Path
) -> None:
    await _notice(sessionmaker)
    async with sessionmaker() as session:
        chain = await verify_chain(session)
    result = await _run("audit", "verify")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"ledger intact: {chain.entries} entries, head {chain.head}"

    edited = (await _entry_ids(sessionmaker))[2]
    async with sessionmaker() as session, session.begin():
        await session.execute(
            text("UPDATE audit_events SET payload = :p WHERE id = :id"),
            {"p": json.dumps({"notice": 1, "forged": True}), "id": edited},
        )
    result = await _run("audit", "verify")
    assert result.exit_code == 1
    assert f"ledger BROKEN at entry {edited}: its content was changed" in result.stderr


async def test_a_deleted_entry(
    sessionmaker: async_sessionmaker[AsyncSession], environment: Path
) -> None:
    await _notice(sessionmaker)
    ids = await _entry_ids(sessionmaker)
    async with sessionmaker() as session, session.begin():
        await session.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": ids[3]})
    result = await _run("audit", "verify")
    assert result.exit_code == 1
    # The gap shows at the entry after the deleted one: its link points at a missing hash.
    assert f"ledger BROKEN at entry {ids[4]}: an entry before it is missing or new" in result.stderr


async def test_evidence_writes_the_pack(
    sessionmaker: async_sessionmaker[AsyncSession], environment: Path
) -> None:
    notice_id = await _notice(sessionmaker)
    result = await _run("evidence", str(notice_id), "-o", "out")
    assert result.exit_code == 0, result.output
    folder = environment / "out"
    document = json.loads((folder / f"notice-{notice_id}.json").read_text(encoding="utf-8"))
    assert document["notice"]["id"] == notice_id and document["ledger"]["chain"]["intact"]
    assert f"head {document['ledger']['chain']['head']}" in result.stdout
    assert (folder / f"notice-{notice_id}.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    pdf = folder / f"notice-{notice_id}.pdf"
    if importlib.util.find_spec("reportlab") is not None:
        assert pdf.read_bytes().startswith(b"%PDF")
    else:
        assert not pdf.exists() and "no PDF" in result.stderr

    missing = await _run("evidence", "999")
    assert missing.exit_code == 1 and "there is no notice 999" in missing.output
