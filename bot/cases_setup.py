"""The case deadlines the bot and the scheduler's tick work with, from the settings."""

from __future__ import annotations

from campus.services.cases import CaseTimes
from campus.settings import Settings


def case_times(settings: Settings) -> CaseTimes:
    """How long an offer waits for a claim and a claim for an answer, per category, and how
    often a crisis is paged again."""
    return CaseTimes(
        claim_minutes=dict(settings.case_claim_minutes),
        answer_hours=dict(settings.case_answer_hours),
        repage_minutes=settings.crisis_repage_minutes,
    )
