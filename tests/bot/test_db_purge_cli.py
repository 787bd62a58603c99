"""``safecampus db purge`` on each supported database: ``--dry-run`` counts and changes
nothing; without it the same rows go and the ledger gains one entry."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import cli
from campus.models import AuditEvent, Delivery, FaqQuestion, Notice, OutboxMessage
from campus.services.audit import verify_chain
from tests.campus.notice_world import MINUTE, ack, drill_draft, make_world, publish, send

# The CLI purges relative to the real clock: this notice is 40 days old, kept for 30.
LONG_AGO = datetime.now(UTC) - timedelta(days=40)


@pytest.fixture
def environment(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI's settings point at the test's database, with a short evidence period."""
    monkeypatch.delenv("SAFECAMPUS_BOT_TOKEN", raising=False)
    monkeypatch.setenv("SAFECAMPUS_DATABASE_URL", database_url)
    monkeypatch.setenv("SAFECAMPUS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SAFECAMPUS_EVIDENCE_RETENTION_DAYS", "30")
    monkeypatch.setenv("SAFECAMPUS_QUESTION_RETENTION_DAYS", "7")
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def _run(*args: str) -> Result:
    # The commands run their own event loop: give them a thread of their own.
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args))


async def _old_notice_and_question(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    world = await make_world(sessionmaker)
    notice_id = await publish(
        sessionmaker, world, world.teacher_id, drill_draft(world, classes=("3A",)), now=LONG_AGO
    )
    for telegram_id in (101, 103):
        await send(sessionmaker, notice_id, telegram_id, LONG_AGO + MINUTE)
    await ack(sessionmaker, notice_id, 101, LONG_AGO + 2 * MINUTE)
    async with sessionmaker() as session, session.begin():
        session.add(
            FaqQuestion(
                person_id=world.parent_id,
                text="is the river safe for swimming?",
                language="en",
                decision="answered",
                confidence=0.8,
                asked_at=LONG_AGO,
            )
        )


async def _counts(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessionmaker() as session:
        return {
            model.__tablename__: await session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Notice, Delivery, OutboxMessage, FaqQuestion, AuditEvent)
        }


async def test_dry_run_counts_and_changes_nothing_then_the_purge_deletes(
    sessionmaker: async_sessionmaker[AsyncSession], environment: Path
) -> None:
    await _old_notice_and_question(sessionmaker)
    before = await _counts(sessionmaker)
    assert before["notices"] == 1 and before["deliveries"] > 0 and before["faq_questions"] == 1

    result = await _run("db", "purge", "--dry-run")

    assert result.exit_code == 0, result.output
    assert "notices: 1" in result.stdout
    assert f"deliveries: {before['deliveries']}" in result.stdout
    assert "questions: 1" in result.stdout
    assert "(dry run, nothing was deleted)" in result.stdout
    assert await _counts(sessionmaker) == before

    result = await _run("db", "purge")

    assert result.exit_code == 0, result.output
    assert "notices: 1" in result.stdout
    assert "(deleted)" in result.stdout
    after = await _counts(sessionmaker)
    assert {k: v for k, v in after.items() if k != "audit_events"} == {
        "notices": 0,
        "deliveries": 0,
        "outbox": 0,
        "faq_questions": 0,
    }
    assert after["audit_events"] == before["audit_events"] + 1
    async with sessionmaker() as session:
        assert (await verify_chain(session)).intact
