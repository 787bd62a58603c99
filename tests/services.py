"""Access to the PostgreSQL and Redis servers that some tests need.

In CI (``CI`` set) a missing server fails the test; on a laptop it is skipped with the reason.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

POSTGRES_URL = os.environ.get(
    "SAFECAMPUS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("SAFECAMPUS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def require_service(name: str, url: str, reason: str) -> None:
    message = f"{name} not reachable at {url} ({reason})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}: CI must provide it", pytrace=False)
    pytest.skip(f"{message}; start it to run this test")


async def _postgres_admin_dsn() -> str:
    return POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")


@asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    import asyncpg

    dsn = await _postgres_admin_dsn()
    try:
        admin = await asyncio.wait_for(asyncpg.connect(dsn), 5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        require_service("PostgreSQL", POSTGRES_URL, str(exc) or type(exc).__name__)
        raise
    name = f"safecampus_test_{uuid.uuid4().hex[:12]}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base, _sep, _db = POSTGRES_URL.rpartition("/")
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def redis_available() -> None:
    """Skip (or fail in CI) unless the test Redis answers PING."""
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(REDIS_URL)
    try:
        await asyncio.wait_for(client.ping(), 5)
    except (OSError, RedisError, TimeoutError) as exc:
        require_service("Redis", REDIS_URL, str(exc) or type(exc).__name__)
    finally:
        await client.aclose()
