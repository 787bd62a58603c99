"""APScheduler wiring: one interval job per duty, each a thin call into ``campus``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler.tick import run_tick


def build_scheduler(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    tick_seconds: float,
    quiet_window: tuple[time, time] | None,
    on_queued: Callable[[], None] | None = None,
) -> AsyncIOScheduler:
    """A scheduler (not started) whose tick runs every ``tick_seconds`` and once at start,
    so duties that fell due while the bot was down are handled at once."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        run_tick,
        "interval",
        seconds=tick_seconds,
        args=(sessionmaker, quiet_window, on_queued),
        id="tick",
        max_instances=1,
        coalesce=True,
        next_run_time=None,
        misfire_grace_time=None,
    )
    return scheduler
