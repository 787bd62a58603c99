"""What /cases shows: a person's offers and cases, the administrators' waiting list and the
response times per category, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campus.models import Case, CaseKind, CaseStatus, Person, School
from campus.services.case_stats import handler_cases, response_times, waiting_for_admins

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


class Cases:
    """Makes cases directly in the database, numbering their pseudonyms."""

    def __init__(self, session: AsyncSession, school_id: int) -> None:
        self.session = session
        self.school_id = school_id
        self.count = 0

    async def add(self, **fields: Any) -> Case:
        self.count += 1
        values: dict[str, Any] = {
            "kind": CaseKind.EXPERT,
            "category": "law",
            "language": "en",
            "created_at": NOW - timedelta(days=1),
            "declined_by": [],
            "grade": 4,
        } | fields
        case = Case(school_id=self.school_id, pseudonym=f"C{self.count:03d}", **values)
        self.session.add(case)
        await self.session.flush()
        return case


async def _school(session: AsyncSession, name: str = "Sunshine Primary") -> int:
    school = School(name=name, timezone="Asia/Shanghai")
    session.add(school)
    await session.flush()
    return school.id


async def _people(session: AsyncSession, *names: str) -> list[int]:
    people = [Person(full_name=name) for name in names]
    session.add_all(people)
    await session.flush()
    return [p.id for p in people]


async def test_response_times_per_category_over_the_last_30_days(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        school_id = await _school(session)
        other_school = await _school(session, "Another School")
        cases = Cases(session, school_id)
        start = NOW - timedelta(days=2)
        # law: claimed after 10 and 30 minutes, answered after 1 and 3 hours
        await cases.add(
            created_at=start, claimed_at=start + 10 * MIN, first_answer_at=start + 60 * MIN
        )
        await cases.add(
            created_at=start, claimed_at=start + 30 * MIN, first_answer_at=start + 180 * MIN
        )
        # law, claimed after 50 minutes and not answered yet
        await cases.add(created_at=start, claimed_at=start + 50 * MIN)
        # too old to count
        await cases.add(
            created_at=NOW - timedelta(days=40),
            claimed_at=NOW - timedelta(days=39),
            first_answer_at=NOW - timedelta(days=39),
        )
        await cases.add(category="psych")  # nobody took it
        await cases.add(
            kind=CaseKind.CRISIS,
            category="psych",
            created_at=start,
            claimed_at=start + 2 * MIN,
            acknowledged_at=start + 2 * MIN,
        )
        await cases.add(kind=CaseKind.SCHOOL, category="school", created_at=start)
        await Cases(session, other_school).add(created_at=start, claimed_at=start + MIN)

    async with sessionmaker() as session:
        figures = {t.category: t for t in await response_times(session, school_id, now=NOW)}
    assert sorted(figures) == ["crisis", "law", "psych", "school"]
    law = figures["law"]
    assert (law.cases, law.unanswered) == (3, 1)
    assert law.median_to_claim == 30 * MIN
    assert law.median_to_first_answer == 120 * MIN
    psych = figures["psych"]
    assert (psych.cases, psych.unanswered) == (1, 1)
    assert psych.median_to_claim is None and psych.median_to_first_answer is None
    crisis = figures["crisis"]
    assert (crisis.cases, crisis.median_to_claim, crisis.unanswered) == (1, 2 * MIN, 1)
    assert figures["school"].cases == 1


async def test_handler_cases_lists_open_offers_and_unresolved_cases_of_that_person(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        school_id = await _school(session)
        expert, colleague = await _people(session, "Expert", "Colleague")
        cases = Cases(session, school_id)
        offer = await cases.add(offered_to_id=expert, claim_due_at=NOW - MIN)
        await cases.add(offered_to_id=colleague, claim_due_at=NOW + MIN)
        handling = await cases.add(
            status=CaseStatus.CLAIMED, handler_id=expert, answer_due_at=NOW + timedelta(hours=3)
        )
        answered = await cases.add(status=CaseStatus.ANSWERED, handler_id=expert)
        await cases.add(status=CaseStatus.RESOLVED, handler_id=expert)
        # a case once offered to the expert and now handled by the colleague
        await cases.add(status=CaseStatus.CLAIMED, offered_to_id=expert, handler_id=colleague)

    async with sessionmaker() as session:
        mine = await handler_cases(session, expert)
    assert [line.pseudonym for line in mine.offers] == [offer.pseudonym]
    assert mine.offers[0].overdue(NOW) and mine.offers[0].timezone == "Asia/Shanghai"
    assert [line.pseudonym for line in mine.handling] == [handling.pseudonym, answered.pseudonym]
    assert not mine.handling[0].overdue(NOW) and mine.handling[1].due_at is None
    assert mine.handling[0].grade == 4 and mine.handling[0].category == "law"


async def test_waiting_for_admins_lists_escalations_not_taken_over_and_unacknowledged_crises(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        school_id = await _school(session)
        other_school = await _school(session, "Another School")
        slow_expert, admin = await _people(session, "Slow expert", "Admin")
        cases = Cases(session, school_id)
        hour_ago = NOW - timedelta(hours=1)
        nobody = await cases.add(status=CaseStatus.ESCALATED, escalated_at=hour_ago)
        late = await cases.add(
            status=CaseStatus.CLAIMED,
            handler_id=slow_expert,
            claimed_at=hour_ago - timedelta(days=1),
            escalated_at=hour_ago,
        )
        await cases.add(  # taken over by an administrator after the escalation
            status=CaseStatus.CLAIMED, handler_id=admin, claimed_at=NOW, escalated_at=hour_ago
        )
        await cases.add(status=CaseStatus.RESOLVED, escalated_at=hour_ago)
        crisis = await cases.add(kind=CaseKind.CRISIS, category="psych", pages=2)
        await cases.add(
            kind=CaseKind.CRISIS,
            category="psych",
            status=CaseStatus.CLAIMED,
            acknowledged_at=NOW,
            claimed_at=NOW,
        )
        await cases.add(status=CaseStatus.OPEN)
        await Cases(session, other_school).add(status=CaseStatus.ESCALATED, escalated_at=hour_ago)

    async with sessionmaker() as session:
        waiting = await waiting_for_admins(session, [school_id])
        none = await waiting_for_admins(session, [])
    assert [line.pseudonym for line in waiting] == [
        nobody.pseudonym,
        late.pseudonym,
        crisis.pseudonym,
    ]
    assert none == []
