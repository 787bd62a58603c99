from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from campus.db import check_database, create_engine, current_revision, upgrade_database
from campus.models import Person, School, SchoolClass, Student
from campus.settings import ConfigError


async def test_migrations_create_the_domain_tables(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert {
        "schools",
        "school_classes",
        "persons",
        "role_grants",
        "students",
        "guardianships",
        "teacher_assignments",
        "experts",
        "invites",
        "audit_events",
    } <= tables
    assert await current_revision(engine) is not None


async def test_upgrade_twice_is_harmless(engine: AsyncEngine) -> None:
    before = await current_revision(engine)
    await upgrade_database(engine)
    assert await current_revision(engine) == before


async def test_foreign_keys_are_enforced(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    with pytest.raises(IntegrityError):
        async with sessionmaker() as session, session.begin():
            session.add(Student(school_id=999, class_id=999, full_name="x", student_number="1"))


async def test_unique_telegram_user(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        session.add(Person(telegram_user_id=42, full_name="A"))
    with pytest.raises(IntegrityError):
        async with sessionmaker() as session, session.begin():
            session.add(Person(telegram_user_id=42, full_name="B"))


async def test_deleting_a_school_removes_its_classes(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        school = School(name="S", timezone="Asia/Shanghai")
        session.add(school)
        await session.flush()
        session.add(SchoolClass(school_id=school.id, name="3A", grade=3))
    async with sessionmaker() as session, session.begin():
        await session.execute(text("DELETE FROM schools"))
    async with sessionmaker() as session:
        assert (await session.execute(text("SELECT count(*) FROM school_classes"))).scalar() == 0


async def test_sqlite_runs_in_wal_mode(tmp_path: object) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/wal.db")
    async with engine.connect() as connection:
        mode = (await connection.execute(text("PRAGMA journal_mode"))).scalar()
    await engine.dispose()
    assert mode == "wal"


async def test_unreachable_database_is_a_config_error() -> None:
    engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    with pytest.raises(ConfigError, match="cannot reach the database at postgresql"):
        await check_database(engine, within_seconds=5)
    await engine.dispose()


@pytest.mark.postgres
async def test_processes_starting_together_migrate_one_after_the_other() -> None:
    from tests.services import fresh_postgres_database

    async with fresh_postgres_database() as url:
        engines = [create_engine(url) for _ in range(3)]
        try:
            await asyncio.gather(*(upgrade_database(e) for e in engines))
            revisions = {await current_revision(e) for e in engines}
        finally:
            for engine in engines:
                await engine.dispose()
    assert len(revisions) == 1 and None not in revisions
