"""What /cases shows: a person's open offers and the cases they handle, the cases waiting
for a school's administrators, and how fast each category of question gets answered.

Lines carry the case's pseudonym and the child's grade, never who the parent is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.models import Case, CaseKind, CaseStatus, School, as_utc, utcnow

#: The category a crisis is counted under in the response-time figures.
CRISIS_CATEGORY = "crisis"


@dataclass(frozen=True)
class CaseLine:
    """One case in a list: what it is about and by when something is due."""

    case_id: int
    pseudonym: str
    grade: int | None
    kind: CaseKind
    category: str
    due_at: datetime | None
    timezone: str

    def overdue(self, now: datetime) -> bool:
        """Whether its deadline has passed."""
        return self.due_at is not None and as_utc(self.due_at) < as_utc(now)


@dataclass(frozen=True)
class HandlerCases:
    """An expert's or teacher's open work: offers to claim, and cases they handle."""

    offers: list[CaseLine]
    handling: list[CaseLine]


@dataclass(frozen=True)
class CategoryTimes:
    """Response times of one category over a period."""

    category: str
    cases: int
    median_to_claim: timedelta | None
    median_to_first_answer: timedelta | None
    unanswered: int


def _line(case: Case, timezone: str, due_at: datetime | None) -> CaseLine:
    return CaseLine(case.id, case.pseudonym, case.grade, case.kind, case.category, due_at, timezone)


async def handler_cases(session: AsyncSession, person_id: int) -> HandlerCases:
    """The cases offered to ``person_id`` and not yet claimed, and the unresolved cases
    they handle, oldest first."""
    offered = await session.execute(
        select(Case, School.timezone)
        .join(School, School.id == Case.school_id)
        .where(Case.offered_to_id == person_id, Case.status == CaseStatus.OPEN)
        .order_by(Case.id)
    )
    handled = await session.execute(
        select(Case, School.timezone)
        .join(School, School.id == Case.school_id)
        .where(Case.handler_id == person_id, Case.status != CaseStatus.RESOLVED)
        .order_by(Case.id)
    )
    return HandlerCases(
        offers=[_line(case, zone, case.claim_due_at) for case, zone in offered],
        handling=[_line(case, zone, case.answer_due_at) for case, zone in handled],
    )


async def waiting_for_admins(session: AsyncSession, school_ids: Sequence[int]) -> list[CaseLine]:
    """Cases the administrators of these schools should act on: escalated and not taken
    over yet, and crises nobody has acknowledged."""
    if not school_ids:
        return []
    rows = await session.execute(
        select(Case, School.timezone)
        .join(School, School.id == Case.school_id)
        .where(
            Case.school_id.in_(school_ids),
            Case.status != CaseStatus.RESOLVED,
            or_(
                Case.status == CaseStatus.ESCALATED,
                # claimed before it was escalated: the late handler still has it
                and_(Case.escalated_at.is_not(None), Case.claimed_at < Case.escalated_at),
                and_(Case.kind == CaseKind.CRISIS, Case.acknowledged_at.is_(None)),
            ),
        )
        .order_by(Case.id)
    )
    return [_line(case, zone, case.escalated_at or case.created_at) for case, zone in rows]


async def response_times(
    session: AsyncSession, school_id: int, *, days: int = 30, now: datetime | None = None
) -> list[CategoryTimes]:
    """Per category, over the cases opened in the last ``days`` days: how many, the median
    time from the question to a claim and to the first answer, and how many have had no
    answer. Crises are counted as their own category; a crisis is claimed when someone
    acknowledges the page."""
    now = now or utcnow()
    rows = await session.execute(
        select(Case.kind, Case.category, Case.created_at, Case.claimed_at, Case.first_answer_at)
        .where(Case.school_id == school_id, Case.created_at >= now - timedelta(days=days))
        .order_by(Case.category)
    )
    to_claim: dict[str, list[timedelta]] = defaultdict(list)
    to_answer: dict[str, list[timedelta]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    unanswered: dict[str, int] = defaultdict(int)
    for kind, category, created_at, claimed_at, first_answer_at in rows:
        key = CRISIS_CATEGORY if kind == CaseKind.CRISIS else category
        counts[key] += 1
        if claimed_at is not None:
            to_claim[key].append(as_utc(claimed_at) - as_utc(created_at))
        if first_answer_at is not None:
            to_answer[key].append(as_utc(first_answer_at) - as_utc(created_at))
        else:
            unanswered[key] += 1
    return [
        CategoryTimes(
            category=key,
            cases=counts[key],
            median_to_claim=_median(to_claim[key]),
            median_to_first_answer=_median(to_answer[key]),
            unanswered=unanswered[key],
        )
        for key in sorted(counts)
    ]


def _median(durations: list[timedelta]) -> timedelta | None:
    if not durations:
        return None
    return timedelta(seconds=median(d.total_seconds() for d in durations))
