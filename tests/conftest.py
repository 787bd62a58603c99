"""Fixtures shared by every test package."""

from __future__ import annotations

from knowledge_base.threads import limit_threads

# pytest imports this file before the sub-directory conftests: set the thread pools of the
# embedding models before anything imports numpy.
limit_threads()

from collections.abc import AsyncIterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker  # noqa: E402

from campus.db import create_engine, create_sessionmaker, upgrade_database  # noqa: E402
from tests.services import fresh_postgres_database  # noqa: E402


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated-later, empty database on each backend SafeCampus supports."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'safecampus.db'}"
        return
    async with fresh_postgres_database() as url:
        yield url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a freshly migrated database."""
    engine = create_engine(database_url)
    await upgrade_database(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)
