"""The tick: APScheduler is only the clock; what is due lives in the database."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import time

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campus.services.reminders import TickReport, plan_due_reminders

log = logging.getLogger(__name__)


async def run_tick(
    sessionmaker: async_sessionmaker[AsyncSession],
    quiet_window: tuple[time, time] | None,
    on_queued: Callable[[], None] | None = None,
) -> TickReport:
    """Claim due reminders, second-guardian requests and deadline reports in one
    transaction, and wake the delivery worker if anything was queued."""
    async with sessionmaker() as session, session.begin():
        report = await plan_due_reminders(session, quiet_window=quiet_window)
    if report.anything:
        log.info(
            "tick: %d reminders, %d guardians asked, %d reports, %d postponed, %d skipped",
            report.reminders,
            report.guardians_asked,
            report.reports,
            report.postponed,
            report.skipped,
        )
        if on_queued is not None:
            on_queued()
    return report
