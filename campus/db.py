"""Engine, sessions and migrations. The composition root creates one engine per process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from campus.settings import ConfigError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine; SQLite files get WAL, foreign keys and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        return engine
    return create_async_engine(url, echo=echo, pool_pre_ping=True)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def check_database(engine: AsyncEngine, *, within_seconds: float = 10.0) -> None:
    """Raise ConfigError with one readable line when the database cannot be reached."""
    safe_url = engine.url.render_as_string(hide_password=True)
    try:
        async with asyncio.timeout(within_seconds), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (TimeoutError, OSError, SQLAlchemyError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"cannot reach the database at {safe_url}: {reason}") from None


@asynccontextmanager
async def open_database(url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a reachable database migrated to head, disposed on exit.

    Raises ConfigError with one readable line when the database cannot be reached.
    """
    engine = create_engine(url)
    try:
        await check_database(engine)
        await upgrade_database(engine)
        yield engine
    finally:
        await engine.dispose()


def alembic_config() -> Config:
    """Alembic configuration pointing at the migrations shipped inside the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


#: The PostgreSQL advisory lock held while migrating, so that several processes starting
#: together (a receiving process and its workers) migrate one after the other.
MIGRATION_LOCK_KEY = 0x5AFE_0DB


async def upgrade_database(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` on the engine's database."""
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        await connection.run_sync(_upgrade, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None before the first migration."""
    from alembic.runtime.migration import MigrationContext

    def _read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(_read)


def _next_revision_id() -> str:
    """Revisions are numbered 0001, 0002, ... so their order reads from the file names."""
    numbers = [
        int(path.name[:4])
        for path in (MIGRATIONS_DIR / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")
    ]
    return f"{max(numbers, default=0) + 1:04d}"


async def generate_revision(message: str, work_dir: Path) -> None:
    """Write a new migration: the difference between the models and a database at head.

    The comparison runs on a throw-away SQLite file in ``work_dir``; review the result.
    """
    engine = create_engine(f"sqlite+aiosqlite:///{work_dir / 'revision.db'}")

    def _revision(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True, rev_id=_next_revision_id())

    try:
        await upgrade_database(engine)
        async with engine.begin() as connection:
            await connection.run_sync(_revision)
    finally:
        await engine.dispose()
