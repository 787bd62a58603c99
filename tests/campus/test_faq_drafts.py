"""FAQ drafts: an expert saves an answer, an administrator edits, approves or rejects it,
on both databases."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import campus.services.faq_drafts as faq_drafts
from campus.models import (
    AuditEvent,
    CaseKind,
    DraftStatus,
    Expert,
    FaqDraft,
    Guardianship,
    Person,
    Role,
    RoleGrant,
    School,
    SchoolClass,
    Student,
    as_utc,
)
from campus.services.audit import verify_chain
from campus.services.cases import CaseTimes, claim, open_case, reply
from campus.services.faq_drafts import (
    DraftError,
    approve_draft,
    create_draft_from_case,
    draft_questions,
    edit_draft,
    pending_drafts,
    reject_draft,
)
from campus.settings import load_settings
from knowledge_base.learned import load_learned_entries

TIMES = CaseTimes(claim_minutes={"law": 30}, answer_hours={"law": 12})
QUESTION = "My son Wang Xiaoming is 15 and wants a tattoo. Is that legal? Call me on 13812345678."
ANSWER = "No: no tattoo business may tattoo anyone under 18. Report a shop that does."


@dataclass
class World:
    school_id: int
    parent: int
    child: int
    handler: int
    other_expert: int
    admin: int
    other_admin: int


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
        school, other_school = School(name="Sunshine Primary"), School(name="Moon Middle")
        session.add_all([school, other_school])
        await session.flush()
        school_class = SchoolClass(school_id=school.id, name="9A", grade=9)
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
        # Lawyer B is off duty: every case is offered to Lawyer A, who handles it
        for telegram_id, name, on_duty in [(201, "Lawyer A", True), (202, "Lawyer B", False)]:
            person = await _person(session, telegram_id, name, school.id, Role.EXPERT)
            session.add(
                Expert(
                    person_id=person.id,
                    school_id=school.id,
                    categories=["law"],
                    languages=["en"],
                    on_duty=on_duty,
                )
            )
            experts.append(person)
        admin = await _person(session, 300, "Admin", school.id, Role.ADMIN)
        other_admin = await _person(session, 301, "Other admin", other_school.id, Role.ADMIN)
        await session.flush()
        return World(
            school.id,
            parent.id,
            child.id,
            experts[0].id,
            experts[1].id,
            admin.id,
            other_admin.id,
        )


async def _case(
    sessionmaker: async_sessionmaker[AsyncSession], world: World, *, answered: bool = True
) -> int:
    """A law case offered to and claimed by the handler, answered unless told otherwise."""
    async with sessionmaker() as session, session.begin():
        parent = await session.get(Person, world.parent)
        handler = await session.get(Person, world.handler)
        assert parent is not None and handler is not None
        case = await open_case(
            session,
            parent,
            world.school_id,
            QUESTION,
            kind=CaseKind.EXPERT,
            category="law",
            language="en",
            times=TIMES,
            student_id=world.child,
        )
        assert case.offered_to_id == handler.id
        await claim(session, case.id, handler, TIMES)
        if answered:
            await reply(session, case.id, handler, ANSWER, TIMES)
        return case.id


async def _save(sessionmaker: async_sessionmaker[AsyncSession], case_id: int, who: int) -> int:
    async with sessionmaker() as session, session.begin():
        person = await session.get(Person, who)
        assert person is not None
        return (await create_draft_from_case(session, case_id, person)).id


async def _as(
    sessionmaker: async_sessionmaker[AsyncSession],
    who: int,
    action: str,
    draft_id: int,
    **kw: object,
) -> object:
    """Run a review action as person ``who`` in its own transaction."""
    calls = {"approve": approve_draft, "reject": reject_draft, "edit": edit_draft}
    async with sessionmaker() as session, session.begin():
        person = await session.get(Person, who)
        assert person is not None
        return await calls[action](session, draft_id, person, **kw)  # type: ignore[operator]


async def _draft(sessionmaker: async_sessionmaker[AsyncSession], draft_id: int) -> FaqDraft:
    async with sessionmaker() as session:
        draft = await session.get(FaqDraft, draft_id)
        assert draft is not None
        return draft


async def _events(sessionmaker: async_sessionmaker[AsyncSession], prefix: str) -> list[AuditEvent]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(AuditEvent).where(AuditEvent.kind.startswith(prefix)).order_by(AuditEvent.id)
        )
        return list(rows)


async def test_only_the_handler_saves_and_only_after_answering(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    world = await _world(sessionmaker)
    unanswered = await _case(sessionmaker, world, answered=False)
    with pytest.raises(DraftError) as refused:
        await _save(sessionmaker, unanswered, world.handler)
    assert refused.value.code == "not_answered"

    case_id = await _case(sessionmaker, world)
    for who in (world.other_expert, world.admin, world.parent):
        with pytest.raises(DraftError) as refused:
            await _save(sessionmaker, case_id, who)
        assert refused.value.code == "not_handler"
    with pytest.raises(DraftError) as refused:
        await _save(sessionmaker, 999_999, world.handler)
    assert refused.value.code == "unknown_case"

    draft = await _draft(sessionmaker, await _save(sessionmaker, case_id, world.handler))
    assert draft.status == DraftStatus.PENDING
    assert (draft.school_id, draft.case_id, draft.category, draft.language) == (
        world.school_id,
        case_id,
        "law",
        "en",
    )
    # the parent's words as the expert saw them: no child's name, no phone number
    assert "tattoo" in draft.question
    assert "Wang Xiaoming" not in draft.question and "13812345678" not in draft.question
    assert draft.answer == ANSWER
    async with sessionmaker() as session:
        expert_id = await session.scalar(select(Expert.id).where(Expert.person_id == world.handler))
    assert draft.expert_pseudonym == f"Expert E{expert_id}"
    assert draft.review_due is not None
    assert as_utc(draft.review_due) - as_utc(draft.created_at) == timedelta(days=180)

    with pytest.raises(DraftError) as refused:
        await _save(sessionmaker, case_id, world.handler)
    assert refused.value.code == "already_pending"
    [created] = await _events(sessionmaker, "faq_draft.")
    assert created.kind == "faq_draft.created"
    assert created.actor == f"person:{world.handler}"
    assert created.payload == {"draft": draft.id, "case": case_id}
    assert "Lawyer" not in json.dumps(created.payload)


async def test_only_an_admin_of_the_school_approves_and_the_entry_is_written(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    world = await _world(sessionmaker)
    case_id = await _case(sessionmaker, world)
    draft_id = await _save(sessionmaker, case_id, world.handler)
    learned_dir = tmp_path / "kb-learned"
    for who in (world.other_admin, world.handler, world.parent):
        for action, kw in [
            ("approve", {"learned_dir": learned_dir}),
            ("reject", {}),
            ("edit", {"answer": "changed"}),
        ]:
            with pytest.raises(DraftError) as refused:
                await _as(sessionmaker, who, action, draft_id, **kw)
            assert refused.value.code == "not_admin", (who, action)
    assert not learned_dir.exists()
    async with sessionmaker() as session:
        other = await session.get(Person, world.other_admin)
        mine = await session.get(Person, world.admin)
        assert other is not None and mine is not None
        assert await pending_drafts(session, other) == []
        assert [d.id for d in await pending_drafts(session, mine)] == [draft_id]

    entry_id = await _as(sessionmaker, world.admin, "approve", draft_id, learned_dir=learned_dir)
    assert entry_id == "learned.law.1"
    [entry] = load_learned_entries(learned_dir)
    assert entry.id == entry_id
    assert entry.answer.en == ANSWER and entry.missing_languages == ["zh"]
    assert entry.questions.en == draft_questions(await _draft(sessionmaker, draft_id))
    assert entry.provenance is not None and entry.provenance.case == case_id
    assert entry.review.reviewer_role == "school admin"
    draft = await _draft(sessionmaker, draft_id)
    assert (draft.status, draft.entry_id, draft.reviewed_by_id) == (
        DraftStatus.APPROVED,
        entry_id,
        world.admin,
    )
    assert draft.reviewed_at is not None

    with pytest.raises(DraftError) as refused:
        await _as(sessionmaker, world.admin, "approve", draft_id, learned_dir=learned_dir)
    assert refused.value.code == "not_pending"
    with pytest.raises(DraftError) as refused:
        await _save(sessionmaker, case_id, world.handler)
    assert refused.value.code == "already_learned"
    assert [e.kind for e in await _events(sessionmaker, "faq_draft.")] == [
        "faq_draft.created",
        "faq_draft.approved",
    ]
    async with sessionmaker() as session:
        assert (await verify_chain(session)).intact


async def test_edits_are_what_gets_approved(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    world = await _world(sessionmaker)
    draft_id = await _save(sessionmaker, await _case(sessionmaker, world), world.handler)
    await _as(
        sessionmaker,
        world.admin,
        "edit",
        draft_id,
        question="Can a 15-year-old get a tattoo?",
        extra_questions=["is tattooing minors\nillegal", "Can a 15-year-old get a tattoo?", " "],
        answer="  Edited answer.  ",
        category="family",
    )
    draft = await _draft(sessionmaker, draft_id)
    assert draft_questions(draft) == [
        "Can a 15-year-old get a tattoo?",
        "is tattooing minors illegal",
    ]
    assert (draft.answer, draft.category) == ("Edited answer.", "family")
    for kw, code in [
        ({"answer": "   "}, "empty"),
        ({"question": ""}, "empty"),
        ({"category": "cooking"}, "bad_category"),
        ({"extra_questions": [f"way {n}" for n in range(20)]}, "too_long"),
    ]:
        with pytest.raises(DraftError) as refused:
            await _as(sessionmaker, world.admin, "edit", draft_id, **kw)
        assert refused.value.code == code
    # a refused edit changes nothing, even in a transaction that goes on to commit
    async with sessionmaker() as session:
        admin = await session.get(Person, world.admin)
        assert admin is not None
        with pytest.raises(DraftError):
            await edit_draft(session, draft_id, admin, answer="Half applied?", category="cooking")
        await session.commit()
    assert (await _draft(sessionmaker, draft_id)).answer == "Edited answer."
    learned_dir = tmp_path / "kb-learned"
    entry_id = await _as(sessionmaker, world.admin, "approve", draft_id, learned_dir=learned_dir)
    assert entry_id == "learned.family.1"
    [entry] = load_learned_entries(learned_dir)
    assert entry.questions.en == ["Can a 15-year-old get a tattoo?", "is tattooing minors illegal"]
    assert entry.answer.en == "Edited answer."
    [edited] = await _events(sessionmaker, "faq_draft.edited")
    assert edited.payload == {
        "draft": draft_id,
        "fields": ["question", "extra_questions", "answer", "category"],
    }


async def test_a_rejected_draft_writes_nothing(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    world = await _world(sessionmaker)
    case_id = await _case(sessionmaker, world)
    draft_id = await _save(sessionmaker, case_id, world.handler)
    learned_dir = tmp_path / "kb-learned"
    await _as(sessionmaker, world.admin, "reject", draft_id)
    draft = await _draft(sessionmaker, draft_id)
    assert (draft.status, draft.entry_id, draft.reviewed_by_id) == (
        DraftStatus.REJECTED,
        None,
        world.admin,
    )
    with pytest.raises(DraftError) as refused:
        await _as(sessionmaker, world.admin, "approve", draft_id, learned_dir=learned_dir)
    assert refused.value.code == "not_pending"
    assert not learned_dir.exists()
    # the expert may try again once a draft was rejected
    assert await _save(sessionmaker, case_id, world.handler) != draft_id


async def test_ids_are_never_reused_and_a_failed_approval_leaves_no_file(
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = await _world(sessionmaker)
    learned_dir = tmp_path / "kb-learned"
    first = await _save(sessionmaker, await _case(sessionmaker, world), world.handler)
    assert await _as(sessionmaker, world.admin, "approve", first, learned_dir=learned_dir) == (
        "learned.law.1"
    )
    (learned_dir / "learned.law.1.yaml").unlink()  # taken out by hand later
    second = await _save(sessionmaker, await _case(sessionmaker, world), world.handler)

    real_record = faq_drafts.record_event

    async def ledger_down(session: AsyncSession, kind: str, *args: object) -> AuditEvent:
        if kind == "faq_draft.approved":
            raise RuntimeError("ledger unavailable")
        return await real_record(session, kind, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(faq_drafts, "record_event", ledger_down)
    with pytest.raises(RuntimeError):
        await _as(sessionmaker, world.admin, "approve", second, learned_dir=learned_dir)
    assert list(learned_dir.iterdir()) == []
    assert (await _draft(sessionmaker, second)).status == DraftStatus.PENDING

    monkeypatch.setattr(faq_drafts, "record_event", real_record)
    assert await _as(sessionmaker, world.admin, "approve", second, learned_dir=learned_dir) == (
        "learned.law.2"
    )


def test_learned_entries_live_under_the_data_directory(tmp_path: Path) -> None:
    assert load_settings(data_dir=tmp_path).kb_learned_dir == tmp_path / "kb-learned"
