"""APScheduler wiring: one job per duty, each a thin call into ``campus``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import time
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campus.services.cases import CaseTimes
from campus.services.retention import PurgeReport, purge_expired
from scheduler.tick import run_tick

log = logging.getLogger(__name__)

#: When the daily retention purge runs, in the school's time zone: a quiet hour.
PURGE_AT = time(3, 30)


def build_scheduler(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    tick_seconds: float,
    quiet_window: tuple[time, time] | None,
    question_days: int,
    evidence_days: int,
    timezone: str,
    case_times: CaseTimes | None = None,
    on_queued: Callable[[], None] | None = None,
) -> AsyncIOScheduler:
    """A scheduler (not started) whose tick runs every ``tick_seconds`` and once at start,
    so duties that fell due while the bot was down are handled at once, and whose retention
    purge runs daily at 03:30 in ``timezone``."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        run_tick,
        "interval",
        seconds=tick_seconds,
        args=(sessionmaker, quiet_window, on_queued, case_times),
        id="tick",
        max_instances=1,
        coalesce=True,
        next_run_time=None,
        misfire_grace_time=None,
    )
    scheduler.add_job(
        run_purge,
        CronTrigger(hour=PURGE_AT.hour, minute=PURGE_AT.minute, timezone=ZoneInfo(timezone)),
        args=(sessionmaker, question_days, evidence_days),
        id="retention",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )
    return scheduler


async def run_purge(
    sessionmaker: async_sessionmaker[AsyncSession], question_days: int, evidence_days: int
) -> PurgeReport:
    """Delete what is past its retention period in one transaction and log the counts."""
    async with sessionmaker() as session, session.begin():
        report = await purge_expired(
            session, question_days=question_days, evidence_days=evidence_days
        )
    counts = ", ".join(f"{count} {kind}" for kind, count in report.counts().items() if count)
    log.info("retention: purged %s", counts or "nothing")
    return report
