"""The tick: APScheduler is only the clock; what is due lives in the database."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import time

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campus.services.cases import CaseTimes, run_case_duties
from campus.services.reminders import TickReport, plan_due_reminders

log = logging.getLogger(__name__)


async def run_tick(
    sessionmaker: async_sessionmaker[AsyncSession],
    quiet_window: tuple[time, time] | None,
    on_queued: Callable[[], None] | None = None,
    case_times: CaseTimes | None = None,
) -> TickReport:
    """Claim due reminders, second-guardian requests and deadline reports, then the cases'
    deadlines and crisis pages, each in one transaction; wake the delivery worker if
    anything was queued."""
    async with sessionmaker() as session, session.begin():
        report = await plan_due_reminders(session, quiet_window=quiet_window)
    queued = report.anything
    if report.anything:
        log.info(
            "tick: %d reminders, %d guardians asked, %d reports, %d postponed, %d skipped",
            report.reminders,
            report.guardians_asked,
            report.reports,
            report.postponed,
            report.skipped,
        )
    if case_times is not None:
        async with sessionmaker() as session, session.begin():
            cases = await run_case_duties(session, case_times)
        if cases.anything:
            queued = True
            log.info(
                "tick: %d cases offered to the next person, %d escalated, %d crises re-paged",
                cases.reoffered,
                cases.escalated,
                cases.repaged,
            )
    if queued and on_queued is not None:
        on_queued()
    return report
