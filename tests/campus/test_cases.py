"""Cases: routing to experts and teachers, claims, passes, relays, deadlines and crisis
pages, on both databases."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campus.models import (
    AuditEvent,
    Case,
    CaseKind,
    CaseMessage,
    CaseStatus,
    Expert,
    Guardianship,
    OutboxMessage,
    Person,
    Role,
    RoleGrant,
    School,
    SchoolClass,
    Student,
    TeacherAssignment,
)
from campus.services.audit import verify_chain
from campus.services.cases import (
    CaseError,
    CaseTimes,
    acknowledge_page,
    category_of_entry,
    claim,
    decline,
    load_case_outgoing,
    open_case,
    reply,
    resolve,
    run_case_duties,
)

T0 = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
TIMES = CaseTimes(claim_minutes={"law": 30}, answer_hours={"law": 12}, repage_minutes=5)


@dataclass
class World:
    school_id: int
    parent: int
    child: int
    law_a: int
    law_b: int
    psych: int
    admin: int
    teacher: int


async def _person(
    session: AsyncSession, telegram_id: int, name: str, school_id: int, role: Role
) -> Person:
    person = Person(telegram_user_id=telegram_id, full_name=name, language="en")
    session.add(person)
    await session.flush()
    session.add(RoleGrant(person_id=person.id, school_id=school_id, role=role))
    return person


async def _world(sessionmaker: async_sessionmaker[AsyncSession]) -> World:
    async with sessionmaker() as session, session.begin():
        school = School(name="Sunshine Primary", timezone="Asia/Shanghai")
        session.add(school)
        await session.flush()
        school_class = SchoolClass(school_id=school.id, name="4B", grade=4)
        session.add(school_class)
        await session.flush()
        child = Student(
            school_id=school.id,
            class_id=school_class.id,
            full_name="Wang Xiaoming",
            student_number="S1",
        )
        session.add(child)
        parent = await _person(session, 100, "Wang Li", school.id, Role.GUARDIAN)
        await session.flush()
        session.add(Guardianship(guardian_id=parent.id, student_id=child.id))
        experts = []
        for telegram_id, name, categories, languages in [
            (201, "Lawyer A", ["law"], ["en", "zh"]),
            (202, "Lawyer B", ["law"], ["en"]),
            (203, "Psychologist", ["psych"], ["en", "zh"]),
        ]:
            person = await _person(session, telegram_id, name, school.id, Role.EXPERT)
            session.add(
                Expert(
                    person_id=person.id,
                    school_id=school.id,
                    categories=categories,
                    languages=languages,
                )
            )
            experts.append(person)
        admin = await _person(session, 300, "Admin", school.id, Role.ADMIN)
        teacher = await _person(session, 400, "Teacher", school.id, Role.TEACHER)
        await session.flush()
        session.add(TeacherAssignment(teacher_id=teacher.id, class_id=school_class.id))
        return World(school.id, parent.id, child.id, *(e.id for e in experts), admin.id, teacher.id)


async def _open(
    sessionmaker: async_sessionmaker[AsyncSession],
    world: World,
    text: str = "Who pays if my son is hurt in PE? Call me on 13812345678.",
    *,
    kind: CaseKind = CaseKind.EXPERT,
    category: str = "law",
    at: datetime = T0,
) -> int:
    async with sessionmaker() as session, session.begin():
        parent = await session.get(Person, world.parent)
        assert parent is not None
        case = await open_case(
            session,
            parent,
            world.school_id,
            text,
            kind=kind,
            category=category,
            language="en",
            times=TIMES,
            student_id=world.child,
            now=at,
        )
        return case.id


async def _case(sessionmaker: async_sessionmaker[AsyncSession], case_id: int) -> Case:
    async with sessionmaker() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        return case


async def _chats(
    sessionmaker: async_sessionmaker[AsyncSession], case_id: int
) -> list[tuple[int, str]]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.case_id == case_id).order_by(OutboxMessage.id)
        )
        return [(row.chat_id, (row.payload or {})["event"]) for row in rows]


async def _as(
    sessionmaker: async_sessionmaker[AsyncSession],
    person_id: int,
    action: Callable[..., Awaitable[object]],
    case_id: int,
    *rest: object,
) -> object:
    """Call ``action(session, case_id, person, *rest)`` as the person, in one transaction."""
    async with sessionmaker() as session, session.begin():
        person = await session.get(Person, person_id)
        assert person is not None
        return await action(session, case_id, person, *rest)


def test_category_of_entry() -> None:
    assert category_of_entry("law.bullying") == "law"
    assert category_of_entry("psych.exam_anxiety") == "psych"
    assert category_of_entry("help.contact_teacher") == "school"
    assert category_of_entry(None) == "school"


async def test_offered_to_least_loaded_expert_of_the_category_then_claimed_and_answered(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    world = await _world(sessionmaker)
    case_id = await _open(sessionmaker, world)
    case = await _case(sessionmaker, case_id)
    assert case.status == CaseStatus.OPEN and case.grade == 4
    assert case.offered_to_id == world.law_a and len(case.pseudonym) == 4
    assert await _chats(sessionmaker, case_id) == [(201, "offer")]

    with pytest.raises(CaseError, match="not_offered"):
        await _as(sessionmaker, world.law_b, claim, case_id, TIMES)
    await _as(sessionmaker, world.law_a, claim, case_id, TIMES)
    with pytest.raises(CaseError, match="yours"):
        await _as(sessionmaker, world.law_a, claim, case_id, TIMES)
    await _as(
        sessionmaker, world.law_a, reply, case_id, "The school's insurance pays first.", TIMES
    )
    await _as(sessionmaker, world.parent, reply, case_id, "And if it does not?", TIMES)
    case = await _case(sessionmaker, case_id)
    assert case.status == CaseStatus.CLAIMED and case.first_answer_at is not None
    assert await _chats(sessionmaker, case_id) == [
        (201, "offer"),
        (100, "claimed"),
        (100, "answer"),
        (201, "follow_up"),
    ]
    # A second case now goes to the other, less busy lawyer.
    second = await _case(sessionmaker, await _open(sessionmaker, world, "Another law question"))
    assert second.offered_to_id == world.law_b


async def test_the_expert_sees_a_pseudonym_and_redacted_words_only(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    world = await _world(sessionmaker)
    case_id = await _open(
        sessionmaker, world, "I am Wang Li, my son Wang Xiaoming was hurt. Call 13812345678."
    )
    async with sessionmaker() as session:
        offer = await session.scalar(select(OutboxMessage).where(OutboxMessage.case_id == case_id))
        assert offer is not None
        shown = await load_case_outgoing(session, offer)
        original = await session.scalar(select(CaseMessage.text))
    assert shown is not None and not shown.to_parent
    for secret in ("Wang Li", "Wang Xiaoming", "13812345678"):
        assert secret not in shown.text
        assert original is not None and secret in original  # the parent's own copy is whole
    assert shown.pseudonym and shown.grade == 4


async def test_pass_and_not_my_area_move_on_then_the_admin_gets_it(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    world = await _world(sessionmaker)
    case_id = await _open(sessionmaker, world)
    await _as(sessionmaker, world.law_a, decline, case_id, "pass", TIMES)
    assert (await _case(sessionmaker, case_id)).offered_to_id == world.law_b
    await _as(sessionmaker, world.law_b, decline, case_id, "not_my_area", TIMES)
    case = await _case(sessionmaker, case_id)
    assert case.status == CaseStatus.ESCALATED and case.offered_to_id is None
    assert (300, "escalated") in await _chats(sessionmaker, case_id)
    # An administrator may take it over.
    await _as(sessionmaker, world.admin, claim, case_id, TIMES)
    assert (await _case(sessionmaker, case_id)).handler_id == world.admin


async def test_unclaimed_offers_move_on_and_unanswered_claims_escalate(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    world = await _world(sessionmaker)
    case_id = await _open(sessionmaker, world)
    async with sessionmaker() as session, session.begin():
        report = await run_case_duties(session, TIMES, now=T0 + timedelta(minutes=20))
    assert not report.anything
    async with sessionmaker() as session, session.begin():
        report = await run_case_duties(session, TIMES, now=T0 + timedelta(minutes=31))
    assert report.reoffered == 1
    assert (await _case(sessionmaker, case_id)).offered_to_id == world.law_b

    async with sessionmaker() as session, session.begin():
        person = await session.get(Person, world.law_b)
        assert person is not None
        await claim(session, case_id, person, TIMES, now=T0 + timedelta(minutes=40))
    async with sessionmaker() as session, session.begin():
        report = await run_case_duties(session, TIMES, now=T0 + timedelta(hours=13))
    assert report.escalated == 1
    case = await _case(sessionmaker, case_id)
    assert case.escalated_at is not None and case.answer_due_at is None
    assert (300, "escalated") in await _chats(sessionmaker, case_id)


async def test_school_questions_go_to_the_class_teacher(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    world = await _world(sessionmaker)
    case_id = await _open(
        sessionmaker, world, "When is the school trip?", kind=CaseKind.SCHOOL, category="law"
    )
    case = await _case(sessionmaker, case_id)
    assert case.category == "school" and case.offered_to_id == world.teacher
    await _as(sessionmaker, world.teacher, claim, case_id, TIMES)
    await _as(sessionmaker, world.teacher, reply, case_id, "On Friday.", TIMES)
    async with sessionmaker() as session:
        roles = list(
            await session.scalars(select(CaseMessage.author_role).order_by(CaseMessage.id))
        )
    assert roles == ["parent", "teacher"]


async def test_crisis_pages_until_someone_takes_it(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    world = await _world(sessionmaker)
    case_id = await _open(
        sessionmaker, world, "My son says he wants to die", kind=CaseKind.CRISIS, category="psych"
    )
    assert sorted(await _chats(sessionmaker, case_id)) == [(203, "page"), (300, "page")]
    async with sessionmaker() as session, session.begin():
        report = await run_case_duties(session, TIMES, now=T0 + timedelta(minutes=6))
    assert report.repaged == 1
    assert len(await _chats(sessionmaker, case_id)) == 4
    with pytest.raises(CaseError, match="not_on_call"):
        await _as(sessionmaker, world.law_a, acknowledge_page, case_id)
    await _as(sessionmaker, world.psych, acknowledge_page, case_id)
    async with sessionmaker() as session, session.begin():
        report = await run_case_duties(session, TIMES, now=T0 + timedelta(minutes=30))
    assert report.repaged == 0
    case = await _case(sessionmaker, case_id)
    assert case.handler_id == world.psych and case.pages == 2


async def test_resolve_and_rate_only_by_the_parent(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    world = await _world(sessionmaker)
    case_id = await _open(sessionmaker, world)
    with pytest.raises(CaseError, match="not_yours"):
        await _as(sessionmaker, world.law_a, resolve, case_id)
    async with sessionmaker() as session, session.begin():
        parent = await session.get(Person, world.parent)
        assert parent is not None
        with pytest.raises(CaseError, match="bad_rating"):
            await resolve(session, case_id, parent, rating=9)
    async with sessionmaker() as session, session.begin():
        parent = await session.get(Person, world.parent)
        assert parent is not None
        await resolve(session, case_id, parent, rating=5)
    case = await _case(sessionmaker, case_id)
    assert case.status == CaseStatus.RESOLVED and case.rating == 5
    async with sessionmaker() as session:
        events = list(await session.scalars(select(AuditEvent)))
        assert (await verify_chain(session)).intact
    assert {"case.opened", "case.resolved"} <= {e.kind for e in events}
    assert all("Wang" not in json.dumps(e.payload) for e in events)


async def test_a_further_crisis_message_joins_the_open_crisis(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    world = await _world(sessionmaker)
    first = await _open(
        sessionmaker, world, "My son says he wants to die", kind=CaseKind.CRISIS, category="psych"
    )
    again = await _open(
        sessionmaker,
        world,
        "He has locked himself in his room",
        kind=CaseKind.CRISIS,
        category="psych",
        at=T0 + timedelta(minutes=2),
    )
    assert again == first
    case = await _case(sessionmaker, first)
    assert case.pages == 2  # paged again at once with the new words
    async with sessionmaker() as session:
        pages = list(
            await session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == first))
        )
        shown = [await load_case_outgoing(session, row) for row in pages]
    assert {s.text for s in shown if s is not None} == {
        "My son says he wants to die",
        "He has locked himself in his room",
    }
    # Once someone has taken it, further messages go to them as follow-ups.
    await _as(sessionmaker, world.psych, acknowledge_page, first)
    await _open(
        sessionmaker,
        world,
        "He opened the door",
        kind=CaseKind.CRISIS,
        category="psych",
        at=T0 + timedelta(minutes=9),
    )
    assert (203, "follow_up") in await _chats(sessionmaker, first)
    assert (await _case(sessionmaker, first)).pages == 2
