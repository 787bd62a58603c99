"""Guardian invites for printing: one code per open slot, re-issue and revocation."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campus.models import (
    AuditEvent,
    GuardianRelation,
    Invite,
    InviteKind,
    Person,
    Student,
    utcnow,
)
from campus.roster import parse_roster
from campus.services.audit import verify_chain
from campus.services.guardian_invites import (
    GuardianInviteError,
    GuardianSheet,
    issue_guardian_sheet,
    revoke_class_guardian_invites,
    revoke_guardian_invites,
)
from campus.services.invites import InviteError, inspect_invite, issue_invite, redeem_invite
from campus.services.privacy import forget_person
from campus.services.roster import import_roster
from campus.services.schools import create_school, find_class, find_student

Maker = async_sessionmaker[AsyncSession]

ROSTER = """class,name,number,guardian1,relation1,guardian2,relation2
3A,Wang Fang,S001,Wang Li,mother,Wang Jun,father
3A,Li Lei,S002,Li Mei,mother,,
3A,<b>Bobby</b> & co,S003,,,,
4B,Zhao Min,S004,Zhao Hua,grandmother,,
"""
NAMES = ["Wang Fang", "Wang Li", "Wang Jun", "Li Lei", "Li Mei", "Bobby", "Zhao", "Sunshine"]


@dataclass(frozen=True)
class School:
    id: int
    class_3a: int
    class_4b: int


async def _school(sessionmaker: Maker, name: str = "Sunshine Primary") -> School:
    parsed = parse_roster(ROSTER.encode())
    assert parsed.ok, parsed.problems
    async with sessionmaker() as session, session.begin():
        school = await create_school(session, name, "Asia/Shanghai")
        await import_roster(session, school.id, parsed.rows, actor_id=None)
        class_3a = await find_class(session, school.id, "3A")
        class_4b = await find_class(session, school.id, "4B")
        assert class_3a is not None and class_4b is not None
        return School(school.id, class_3a.id, class_4b.id)


async def _student_id(sessionmaker: Maker, school_id: int, number: str) -> int:
    async with sessionmaker() as session:
        student = await find_student(session, school_id, number)
        assert student is not None
        return student.id


async def _sheet(
    sessionmaker: Maker,
    school_id: int,
    *,
    class_id: int | None = None,
    student_id: int | None = None,
) -> GuardianSheet:
    async with sessionmaker() as session, session.begin():
        return await issue_guardian_sheet(
            session, school_id, class_id=class_id, student_id=student_id
        )


async def _problem(sessionmaker: Maker, code: str) -> str | None:
    async with sessionmaker() as session:
        try:
            await inspect_invite(session, code)
        except InviteError as problem:
            return problem.code
    return None


async def _join(sessionmaker: Maker, code: str, telegram_user_id: int) -> Person:
    async with sessionmaker() as session, session.begin():
        parent = Person(telegram_user_id=telegram_user_id, full_name="Parent", roles=[])
        session.add(parent)
        await session.flush()
        await redeem_invite(session, code, parent)
        return parent


def _slots(sheet: GuardianSheet) -> list[tuple[str, str, int, str | None]]:
    return [
        (slip.class_name, slip.student_number, slip.slot, slip.guardian_name)
        for slip in sheet.slips
    ]


async def test_one_code_per_open_slot(sessionmaker: Maker) -> None:
    school = await _school(sessionmaker)
    sheet = await _sheet(sessionmaker, school.id, class_id=school.class_3a)
    assert sheet.school_name == "Sunshine Primary" and sheet.replaced == 0
    assert _slots(sheet) == [
        ("3A", "S001", 1, "Wang Li"),
        ("3A", "S001", 2, "Wang Jun"),
        ("3A", "S002", 1, "Li Mei"),
        ("3A", "S003", 1, None),  # no guardian on the roster: one slip for slot 1
    ]
    assert sheet.slips[0].relation == GuardianRelation.MOTHER
    assert sheet.students == 3
    assert len({slip.code for slip in sheet.slips}) == 4
    for slip in sheet.slips:
        assert await _problem(sessionmaker, slip.code) is None
        assert slip.expires_at > utcnow()
    async with sessionmaker() as session:
        stored = await session.execute(
            select(Invite.kind, Invite.guardian_slot).order_by(Invite.id)
        )
        assert [tuple(row) for row in stored if row.kind == InviteKind.GUARDIAN] == [
            (InviteKind.GUARDIAN, 1),
            (InviteKind.GUARDIAN, 2),
            (InviteKind.GUARDIAN, 1),
            (InviteKind.GUARDIAN, 1),
        ]


async def test_one_student_only(sessionmaker: Maker) -> None:
    school = await _school(sessionmaker)
    student_id = await _student_id(sessionmaker, school.id, "S004")
    sheet = await _sheet(sessionmaker, school.id, student_id=student_id)
    assert _slots(sheet) == [("4B", "S004", 1, "Zhao Hua")]
    with pytest.raises(GuardianInviteError) as caught:
        await _sheet(sessionmaker, school.id, student_id=student_id, class_id=school.class_3a)
    assert caught.value.code == "student_not_in_class"


async def test_reissue_revokes_the_older_code_of_the_same_slot(sessionmaker: Maker) -> None:
    school = await _school(sessionmaker)
    first = await _sheet(sessionmaker, school.id, class_id=school.class_3a)
    second = await _sheet(sessionmaker, school.id, class_id=school.class_3a)
    assert second.replaced == 4
    assert _slots(second) == _slots(first)
    for old, new in zip(first.slips, second.slips, strict=True):
        assert await _problem(sessionmaker, old.code) == "revoked"
        assert await _problem(sessionmaker, new.code) is None
    # The class next door keeps its slips.
    other = await _sheet(sessionmaker, school.id, class_id=school.class_4b)
    assert other.replaced == 0


async def test_a_link_from_addstudent_counts_as_slot_one(sessionmaker: Maker) -> None:
    school = await _school(sessionmaker)
    student_id = await _student_id(sessionmaker, school.id, "S003")
    async with sessionmaker() as session, session.begin():
        _invite, code = await issue_invite(
            session, school.id, InviteKind.GUARDIAN, student_id=student_id
        )
    sheet = await _sheet(sessionmaker, school.id, student_id=student_id)
    assert sheet.replaced == 1 and _slots(sheet) == [("3A", "S003", 1, None)]
    assert await _problem(sessionmaker, code) == "revoked"
    await _join(sessionmaker, sheet.slips[0].code, 501)
    assert (await _sheet(sessionmaker, school.id, student_id=student_id)).slips == []


async def test_joined_guardians_get_no_new_slip(sessionmaker: Maker) -> None:
    school = await _school(sessionmaker)
    first = await _sheet(sessionmaker, school.id, class_id=school.class_3a)
    mother = first.slips[0]
    assert (mother.student_number, mother.slot) == ("S001", 1)
    parent = await _join(sessionmaker, mother.code, 777)
    second = await _sheet(sessionmaker, school.id, class_id=school.class_3a)
    assert ("3A", "S001", 1, "Wang Li") not in _slots(second)
    assert ("3A", "S001", 2, "Wang Jun") in _slots(second)
    assert second.replaced == 3  # the used code is not revoked
    async with sessionmaker() as session:
        used = await session.scalar(select(Invite).where(Invite.used_by_id == parent.id))
        assert used is not None and used.revoked_at is None
    # A guardian who asks to be forgotten is no longer linked: the slot is open again.
    async with sessionmaker() as session, session.begin():
        await forget_person(session, await session.get_one(Person, parent.id))
    third = await _sheet(sessionmaker, school.id, class_id=school.class_3a)
    assert ("3A", "S001", 1, "Wang Li") in _slots(third)


async def test_one_guardian_using_two_slips_fills_one_slot(sessionmaker: Maker) -> None:
    school = await _school(sessionmaker)
    student_id = await _student_id(sessionmaker, school.id, "S001")
    sheet = await _sheet(sessionmaker, school.id, student_id=student_id)
    async with sessionmaker() as session, session.begin():
        parent = Person(telegram_user_id=900, full_name="Parent", roles=[])
        session.add(parent)
        await session.flush()
        for slip in sheet.slips:
            await redeem_invite(session, slip.code, parent)
    again = await _sheet(sessionmaker, school.id, student_id=student_id)
    assert [slip.slot for slip in again.slips] == [2]


async def test_another_school_cannot_touch_the_students(sessionmaker: Maker) -> None:
    school = await _school(sessionmaker)
    other = await _school(sessionmaker, "Moonlight Middle")
    student_id = await _student_id(sessionmaker, school.id, "S001")
    sheet = await _sheet(sessionmaker, school.id, student_id=student_id)
    with pytest.raises(GuardianInviteError) as caught:
        await _sheet(sessionmaker, other.id, class_id=school.class_3a)
    assert caught.value.code == "unknown_class"
    with pytest.raises(GuardianInviteError) as caught:
        await _sheet(sessionmaker, other.id, student_id=student_id)
    assert caught.value.code == "unknown_student"
    async with sessionmaker() as session, session.begin():
        with pytest.raises(GuardianInviteError) as caught:
            await revoke_guardian_invites(session, other.id, student_id)
        assert caught.value.code == "unknown_student"
        with pytest.raises(GuardianInviteError) as caught:
            await revoke_class_guardian_invites(session, other.id, school.class_3a)
        assert caught.value.code == "unknown_class"
        own = await find_student(session, other.id, "S001")  # the other school's S001
        assert own is not None and own.id != student_id
    for slip in sheet.slips:
        assert await _problem(sessionmaker, slip.code) is None


async def test_removed_students_get_no_invites(sessionmaker: Maker) -> None:
    school = await _school(sessionmaker)
    student_id = await _student_id(sessionmaker, school.id, "S002")
    async with sessionmaker() as session, session.begin():
        student = await session.get_one(Student, student_id)
        student.removed_at = utcnow()
    sheet = await _sheet(sessionmaker, school.id, class_id=school.class_3a)
    assert "S002" not in {slip.student_number for slip in sheet.slips}
    assert len(sheet.slips) == 3
    with pytest.raises(GuardianInviteError) as caught:
        await _sheet(sessionmaker, school.id, student_id=student_id)
    assert caught.value.code == "student_removed"


async def test_revoking_a_student_or_a_class(sessionmaker: Maker) -> None:
    school = await _school(sessionmaker)
    sheet = await _sheet(sessionmaker, school.id, class_id=school.class_3a)
    other = await _sheet(sessionmaker, school.id, class_id=school.class_4b)
    await _join(sessionmaker, sheet.slips[0].code, 321)  # S001 slot 1: used, stays used
    s001 = await _student_id(sessionmaker, school.id, "S001")
    async with sessionmaker() as session, session.begin():
        assert await revoke_guardian_invites(session, school.id, s001) == 1
        assert await revoke_guardian_invites(session, school.id, s001) == 0
    assert await _problem(sessionmaker, sheet.slips[0].code) == "used"
    assert await _problem(sessionmaker, sheet.slips[1].code) == "revoked"
    assert await _problem(sessionmaker, sheet.slips[2].code) is None
    async with sessionmaker() as session, session.begin():
        assert await revoke_class_guardian_invites(session, school.id, school.class_3a) == 2
    for slip in sheet.slips[1:]:
        assert await _problem(sessionmaker, slip.code) == "revoked"
    assert await _problem(sessionmaker, other.slips[0].code) is None


async def test_audit_entries_hold_ids_and_counts_only(sessionmaker: Maker) -> None:
    school = await _school(sessionmaker)
    sheet = await _sheet(sessionmaker, school.id, class_id=school.class_3a)
    again = await _sheet(sessionmaker, school.id, class_id=school.class_3a)
    async with sessionmaker() as session, session.begin():
        await revoke_class_guardian_invites(session, school.id, school.class_3a, actor_id=None)
        events = list(await session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
        assert (await verify_chain(session)).first_bad_id is None
    kinds = [event.kind for event in events]
    assert kinds.count("invite_sheet.issued") == 2
    assert kinds.count("invite.issued") == 8
    revoked = [event.payload for event in events if event.kind == "invite.revoked"]
    assert [(len(p["invites"]), p["reason"]) for p in revoked] == [(4, "reissued"), (4, "revoked")]
    sheets = [event.payload for event in events if event.kind == "invite_sheet.issued"]
    assert sheets[1] == {
        "school": school.id,
        "class": school.class_3a,
        "student": None,
        "invites": 4,
        "replaced": 4,
    }
    written = json.dumps([[event.actor, event.payload, event.note] for event in events])
    for secret in NAMES + [slip.code for slip in sheet.slips + again.slips]:
        assert secret not in written
