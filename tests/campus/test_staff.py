"""Teachers and their classes, experts, removing a staff role, a student or a guardian's link:
each refuses another school's objects and changes nothing then."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campus.models import (
    AuditEvent,
    Expert,
    ExpertCategory,
    Guardianship,
    Invite,
    InviteKind,
    Person,
    Role,
    RoleGrant,
    SchoolClass,
    Student,
    TeacherAssignment,
)
from campus.roster import RosterRow
from campus.services.invites import InviteError, issue_invite, redeem_invite
from campus.services.people import grant_role, roles_of
from campus.services.privacy import forget_person
from campus.services.roster import import_roster, roster_rows
from campus.services.schools import (
    SchoolError,
    add_student,
    children_of,
    create_class,
    create_school,
    find_student,
    guardians_of,
    remove_student,
    unlink_guardian,
)
from campus.services.staff import (
    StaffError,
    assign_teacher,
    classes_of_teacher,
    find_expert,
    issue_expert_invite,
    list_experts,
    list_teachers,
    parse_expert_choice,
    remove_staff,
    teacher_assignments,
    unassign_teacher,
)
from campus.settings import Language


@dataclass
class SchoolSetup:
    school_id: int
    class_3a: SchoolClass
    class_4b: SchoolClass
    teacher: Person
    student: Student


async def _person(session: AsyncSession, telegram_id: int, name: str) -> Person:
    person = Person(telegram_user_id=telegram_id, full_name=name, roles=[])
    session.add(person)
    await session.flush()
    return person


async def _school(session: AsyncSession, name: str, telegram_base: int) -> SchoolSetup:
    school = await create_school(session, name, "Asia/Shanghai")
    class_3a = await create_class(session, school.id, "3A")
    class_4b = await create_class(session, school.id, "4B")
    teacher = await _person(session, telegram_base + 1, f"Teacher of {name}")
    await grant_role(session, teacher, school.id, Role.TEACHER)
    student = await add_student(session, class_3a, f"Child of {name}", "S0001")
    return SchoolSetup(school.id, class_3a, class_4b, teacher, student)


async def _link_guardian(
    session: AsyncSession,
    setup: SchoolSetup,
    student: Student,
    telegram_id: int,
    name: str,
    *,
    guardian: Person | None = None,
) -> Person:
    """Link a new person (or ``guardian``) to the student with a redeemed invite."""
    _invite, code = await issue_invite(
        session, setup.school_id, InviteKind.GUARDIAN, student_id=student.id
    )
    guardian = guardian or await _person(session, telegram_id, name)
    await redeem_invite(session, code, guardian, relation="mother")
    return guardian


async def _count(session: AsyncSession, column: object) -> int:
    return await session.scalar(select(func.count(column))) or 0  # type: ignore[arg-type]


# --- teachers ------------------------------------------------------------------------------


async def test_assigning_lists_and_unassigning_a_teacher(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        north = await _school(session, "North", 100)
        teacher_id = north.teacher.id
        await assign_teacher(session, north.school_id, teacher_id, north.class_4b.id, actor_id=None)
        await assign_teacher(
            session,
            north.school_id,
            teacher_id,
            north.class_3a.id,
            actor_id=None,
            head_teacher=True,
        )
        assert [c.name for c in await classes_of_teacher(session, teacher_id)] == ["3A", "4B"]
        [entry] = await list_teachers(session, north.school_id)
        assert entry.name == "Teacher of North"
        assert [(c.name, c.head_teacher) for c in entry.classes] == [("3A", True), ("4B", False)]

        assert await unassign_teacher(
            session, north.school_id, teacher_id, north.class_4b.id, actor_id=None
        )
        assert not await unassign_teacher(
            session, north.school_id, teacher_id, north.class_4b.id, actor_id=None
        )
        assert await teacher_assignments(session, north.school_id, teacher_id) == {
            north.class_3a.id: True
        }
        kinds = list(await session.scalars(select(AuditEvent.kind).order_by(AuditEvent.id)))
        assert kinds.count("teacher.assigned") == 2 and kinds.count("teacher.unassigned") == 1


async def test_a_class_has_one_head_teacher(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        north = await _school(session, "North", 100)
        second = await _person(session, 150, "Second")
        await grant_role(session, second, north.school_id, Role.TEACHER)
        for teacher in (north.teacher, second):
            await assign_teacher(
                session,
                north.school_id,
                teacher.id,
                north.class_3a.id,
                actor_id=None,
                head_teacher=True,
            )
        heads = await session.execute(
            select(TeacherAssignment.teacher_id, TeacherAssignment.is_head_teacher).order_by(
                TeacherAssignment.teacher_id
            )
        )
        assert [tuple(row) for row in heads] == [(north.teacher.id, False), (second.id, True)]


async def test_another_schools_teacher_or_class_is_refused_and_nothing_changes(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        north = await _school(session, "North", 100)
        south = await _school(session, "South", 200)
        await assign_teacher(
            session, south.school_id, south.teacher.id, south.class_3a.id, actor_id=None
        )
        parent = await _link_guardian(session, north, north.student, 300, "Li Na")
        before = await _count(session, TeacherAssignment.id), await _count(session, AuditEvent.id)

        attempts = [
            # North's admin with South's teacher, South's class, and a parent.
            (south.teacher.id, north.class_3a.id),
            (north.teacher.id, south.class_3a.id),
            (parent.id, north.class_3a.id),
        ]
        for teacher_id, class_id in attempts:
            with pytest.raises(StaffError) as assigning:
                await assign_teacher(session, north.school_id, teacher_id, class_id, actor_id=1)
            with pytest.raises(StaffError) as unassigning:
                await unassign_teacher(session, north.school_id, teacher_id, class_id, actor_id=1)
            assert assigning.value.code == unassigning.value.code
            assert assigning.value.code in {"unknown_teacher", "unknown_class"}
        with pytest.raises(StaffError):
            await unassign_teacher(
                session, north.school_id, south.teacher.id, south.class_3a.id, actor_id=1
            )
        with pytest.raises(StaffError):
            await remove_staff(session, north.school_id, south.teacher.id, Role.TEACHER, actor_id=1)
        after = await _count(session, TeacherAssignment.id), await _count(session, AuditEvent.id)
        assert after == before
        assert [c.name for c in await classes_of_teacher(session, south.teacher.id)] == ["3A"]


async def test_removing_a_teacher_takes_their_classes_in_that_school_only(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        north = await _school(session, "North", 100)
        south = await _school(session, "South", 200)
        # The same person teaches in both schools.
        await grant_role(session, north.teacher, south.school_id, Role.TEACHER)
        for setup in (north, south):
            await assign_teacher(
                session, setup.school_id, north.teacher.id, setup.class_3a.id, actor_id=None
            )
        await remove_staff(session, north.school_id, north.teacher.id, Role.TEACHER, actor_id=7)
        classes = await classes_of_teacher(session, north.teacher.id)
        assert [(c.school_id, c.name) for c in classes] == [(south.school_id, "3A")]
        assert await list_teachers(session, north.school_id) == []
        with pytest.raises(StaffError) as caught:
            await remove_staff(session, north.school_id, north.teacher.id, Role.TEACHER, actor_id=7)
        assert caught.value.code == "unknown_teacher"
        with pytest.raises(StaffError) as caught:
            await remove_staff(session, south.school_id, north.teacher.id, Role.ADMIN, actor_id=7)
        assert caught.value.code == "not_removable"
        event = await session.scalar(select(AuditEvent).where(AuditEvent.kind == "staff.removed"))
        assert event is not None
        assert event.actor == "person:7"
        assert event.payload == {
            "school": north.school_id,
            "person": f"person:{north.teacher.id}",
            "role": "teacher",
        }


async def test_a_forgotten_teacher_teaches_no_class(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        north = await _school(session, "North", 100)
        await assign_teacher(
            session, north.school_id, north.teacher.id, north.class_3a.id, actor_id=None
        )
        await forget_person(session, north.teacher)
        assert await classes_of_teacher(session, north.teacher.id) == []


# --- experts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("categories", "languages", "code"),
    [
        ("", "en", "no_categories"),
        ("law,cooking", "en", "unknown_categories"),
        ("law", "", "no_languages"),
        ("law", "en,fr", "unknown_languages"),
    ],
)
def test_bad_expert_choices_are_refused(categories: str, languages: str, code: str) -> None:
    with pytest.raises(StaffError) as caught:
        parse_expert_choice(categories, languages)
    assert caught.value.code == code


def test_expert_choice_is_read_leniently() -> None:
    choice = parse_expert_choice(" Law , psych，law ", "ZH,en")
    assert choice.categories == (ExpertCategory.LAW, ExpertCategory.PSYCHOLOGY)
    assert choice.languages == (Language.ZH, Language.EN)


async def test_an_expert_invite_makes_an_expert_with_its_categories(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        north = await _school(session, "North", 100)
        choice = parse_expert_choice("law,psych", "en,zh")
        invite, code = await issue_expert_invite(session, north.school_id, choice, actor_id=None)
        assert invite.kind == InviteKind.EXPERT
        assert invite.details == {"categories": ["law", "psych"], "languages": ["en", "zh"]}
        expert_person = await _person(session, 500, "Dr Wu")
        await redeem_invite(session, code, expert_person)
        assert Role.EXPERT in roles_of(expert_person)
        expert = await session.scalar(select(Expert).where(Expert.person_id == expert_person.id))
        assert expert is not None
        assert (expert.school_id, expert.categories, expert.languages, expert.on_duty) == (
            north.school_id,
            ["law", "psych"],
            ["en", "zh"],
            True,
        )
        [entry] = await list_experts(session, north.school_id)
        assert entry.label == f"E{expert.id}" and "Wu" not in entry.label
        assert entry.categories == ("law", "psych")
        with pytest.raises(InviteError):
            await redeem_invite(session, code, expert_person)

        # A newer invite replaces the categories.
        _invite, code = await issue_expert_invite(
            session, north.school_id, parse_expert_choice("safety", "zh"), actor_id=None
        )
        await redeem_invite(session, code, expert_person)
        await session.refresh(expert)
        assert (expert.categories, expert.languages) == (["safety"], ["zh"])
        assert await _count(session, Expert.id) == 1


async def test_removing_an_expert_keeps_the_profile_off_duty(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        north = await _school(session, "North", 100)
        south = await _school(session, "South", 200)
        _invite, code = await issue_expert_invite(
            session, north.school_id, parse_expert_choice("law", "en"), actor_id=None
        )
        expert_person = await _person(session, 500, "Dr Wu")
        await redeem_invite(session, code, expert_person)
        with pytest.raises(StaffError) as caught:
            await remove_staff(
                session, south.school_id, expert_person.id, Role.EXPERT, actor_id=None
            )
        assert caught.value.code == "unknown_expert"
        with pytest.raises(StaffError):
            await find_expert(session, south.school_id, expert_person.id)
        await remove_staff(session, north.school_id, expert_person.id, Role.EXPERT, actor_id=None)
        assert await list_experts(session, north.school_id) == []
        expert = await session.scalar(select(Expert).where(Expert.person_id == expert_person.id))
        assert expert is not None and expert.on_duty is False
        assert Role.EXPERT not in roles_of(await session.get_one(Person, expert_person.id))


# --- removing a student or a guardian's link -----------------------------------------------


async def test_removing_a_student_keeps_the_row_and_undoes_the_links(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        north = await _school(session, "North", 100)
        sibling = await add_student(session, north.class_3a, "Sibling", "S0002")
        mother = await _link_guardian(session, north, north.student, 300, "Li Na")
        await _link_guardian(session, north, sibling, 300, "Li Na", guardian=mother)
        father = await _link_guardian(session, north, north.student, 301, "Wang Wei")
        unused, _code = await issue_invite(
            session, north.school_id, InviteKind.GUARDIAN, student_id=north.student.id
        )

        removal = await remove_student(
            session, north.school_id, north.student.id, actor_id=north.teacher.id
        )
        assert (removal.guardians_unlinked, removal.invites_revoked) == (2, 1)
        student = await session.get_one(Student, north.student.id)
        assert student.removed_at is not None and student.full_name == "Child of North"
        assert (
            await session.scalar(
                select(func.count(Guardianship.id)).where(Guardianship.student_id == student.id)
            )
            == 0
        )
        await session.refresh(unused)
        assert unused.revoked_at is not None
        used = await session.scalar(
            select(func.count(Invite.id)).where(
                Invite.student_id == student.id, Invite.used_at.is_not(None)
            )
        )
        assert (
            used == 2
            and await session.scalar(
                select(func.count(Invite.id)).where(
                    Invite.used_at.is_not(None), Invite.revoked_at.is_not(None)
                )
            )
            == 0
        )
        # The mother still has the sibling; the father has no child left at the school.
        assert [c.full_name for c in await children_of(session, mother)] == ["Sibling"]
        assert Role.GUARDIAN in roles_of(await session.get_one(Person, mother.id))
        assert Role.GUARDIAN not in roles_of(await session.get_one(Person, father.id))
        assert await find_student(session, north.school_id, "S0001") is None
        rows, _slots = await roster_rows(session, north.school_id)
        assert [row.student_number for row in rows] == ["S0002"]
        with pytest.raises(SchoolError) as caught:
            await remove_student(session, north.school_id, student.id, actor_id=None)
        assert caught.value.code == "unknown_student"

        event = await session.scalar(select(AuditEvent).where(AuditEvent.kind == "student.removed"))
        assert event is not None and event.payload == {
            "school": north.school_id,
            "student": student.id,
            "guardians_unlinked": 2,
            "invites_revoked": 1,
        }
        ledger = json.dumps([e.payload for e in await session.scalars(select(AuditEvent))])
        assert "Li Na" not in ledger and "Child of North" not in ledger


async def test_a_removed_student_is_not_counted_as_kept_by_an_import(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        north = await _school(session, "North", 100)
        await add_student(session, north.class_3a, "Stays", "S0002")
        await remove_student(session, north.school_id, north.student.id, actor_id=None)
        report = await import_roster(
            session, north.school_id, [RosterRow(2, "3A", "New", "S0003", ())], actor_id=None
        )
        assert report.students_not_in_file == 1


async def test_another_schools_student_or_guardian_is_refused(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        north = await _school(session, "North", 100)
        south = await _school(session, "South", 200)
        await _link_guardian(session, south, south.student, 300, "Li Na")
        [link] = await guardians_of(session, south.school_id, south.student.id)
        before = (
            await _count(session, Guardianship.id),
            await _count(session, RoleGrant.id),
            await _count(session, AuditEvent.id),
        )
        with pytest.raises(SchoolError):
            await remove_student(session, north.school_id, south.student.id, actor_id=None)
        with pytest.raises(SchoolError):
            await guardians_of(session, north.school_id, south.student.id)
        with pytest.raises(SchoolError) as caught:
            await unlink_guardian(session, north.school_id, link.id, actor_id=None)
        assert caught.value.code == "unknown_guardianship"
        after = (
            await _count(session, Guardianship.id),
            await _count(session, RoleGrant.id),
            await _count(session, AuditEvent.id),
        )
        assert after == before
        south_student = await session.get_one(Student, south.student.id)
        assert south_student.removed_at is None


async def test_unlinking_a_guardian(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        north = await _school(session, "North", 100)
        mother = await _link_guardian(session, north, north.student, 300, "Li Na")
        father = await _link_guardian(session, north, north.student, 301, "Wang Wei")
        links = await guardians_of(session, north.school_id, north.student.id)
        assert [link.guardian.full_name for link in links] == ["Li Na", "Wang Wei"]
        await unlink_guardian(session, north.school_id, links[0].id, actor_id=None)
        assert await children_of(session, mother) == []
        assert Role.GUARDIAN not in roles_of(await session.get_one(Person, mother.id))
        assert [c.full_name for c in await children_of(session, father)] == ["Child of North"]
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.kind == "guardian.unlinked")
        )
        assert event is not None and event.payload == {
            "school": north.school_id,
            "student": north.student.id,
            "guardian": f"person:{mother.id}",
        }
