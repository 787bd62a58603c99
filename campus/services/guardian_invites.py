"""Guardian invites for printing: one fresh code per guardian who has not joined yet.

A student's guardians are the roster's guardian slots (1, 2, ...); a student without any gets
slot 1. A slot is filled while a guardian who joined with an invite for it is still linked to
the child, and open otherwise (an invite without a slot, from ``/addstudent``, counts as slot
1). Each open slot gets a new code and the earlier unused codes of the same student and slot
are revoked, so only the latest printed slip works. Codes are returned once, for printing,
and never stored.

No slip is issued for an extra, unnamed guardian: ``redeem_invite`` links whoever holds a
code, and the slot number only says which of the roster's guardians a slip is for. A further
guardian is added to the roster (``guardian2_name``, ...) and gets a slip on the next sheet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from campus.models import (
    GuardianRelation,
    Guardianship,
    GuardianSlot,
    Invite,
    InviteKind,
    School,
    SchoolClass,
    Student,
    utcnow,
)
from campus.services.audit import person_ref, record_event
from campus.services.invites import DEFAULT_TTL, issue_invite

#: The slot an invite without one (from ``/addstudent``) stands for.
FIRST_SLOT = 1


class GuardianInviteError(Exception):
    """A sheet or revocation that cannot be carried out; ``code`` is one of unknown_class,
    unknown_student, student_removed, student_not_in_class."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class GuardianSlip:
    """One printed invite: for one guardian slot of one student. ``code`` is the secret."""

    class_name: str
    student_number: str
    student_name: str
    slot: int
    guardian_name: str | None
    relation: GuardianRelation | None
    code: str
    expires_at: datetime


@dataclass(frozen=True)
class GuardianSheet:
    """The slips of one printing, in class, student number and slot order.

    ``replaced`` counts the earlier unused invites this printing revoked.
    """

    school_name: str
    timezone: str
    slips: list[GuardianSlip]
    replaced: int

    @property
    def students(self) -> int:
        """How many students the sheet has slips for."""
        return len({(slip.class_name, slip.student_number) for slip in self.slips})


async def _class_in_school(session: AsyncSession, school_id: int, class_id: int) -> SchoolClass:
    school_class = await session.get(SchoolClass, class_id)
    if school_class is None or school_class.school_id != school_id:
        raise GuardianInviteError("unknown_class")
    return school_class


async def _student_in_school(session: AsyncSession, school_id: int, student_id: int) -> Student:
    student = await session.get(Student, student_id)
    if student is None or student.school_id != school_id:
        raise GuardianInviteError("unknown_student")
    return student


async def _students_for_sheet(
    session: AsyncSession, school_id: int, class_id: int | None, student_id: int | None
) -> list[tuple[Student, str]]:
    """The students the sheet is for, with their class names."""
    if class_id is None and student_id is None:
        raise ValueError("a sheet is for a class or a student")
    if class_id is not None:
        await _class_in_school(session, school_id, class_id)
    if student_id is not None:
        student = await _student_in_school(session, school_id, student_id)
        if class_id is not None and student.class_id != class_id:
            raise GuardianInviteError("student_not_in_class")
        if student.removed_at is not None:
            raise GuardianInviteError("student_removed")
    query = (
        select(Student, SchoolClass.name)
        .join(SchoolClass, SchoolClass.id == Student.class_id)
        .where(Student.school_id == school_id, Student.removed_at.is_(None))
        .order_by(Student.student_number)
    )
    if student_id is not None:
        query = query.where(Student.id == student_id)
    else:
        query = query.where(Student.class_id == class_id)
    return [(student, class_name) for student, class_name in await session.execute(query)]


async def _roster_slots(
    session: AsyncSession, student_ids: Sequence[int]
) -> dict[int, dict[int, GuardianSlot]]:
    slots: dict[int, dict[int, GuardianSlot]] = defaultdict(dict)
    result = await session.scalars(
        select(GuardianSlot).where(GuardianSlot.student_id.in_(student_ids))
    )
    for slot in result:
        slots[slot.student_id][slot.slot] = slot
    return slots


async def _linked_slots(session: AsyncSession, student_ids: Sequence[int]) -> set[tuple[int, int]]:
    """(student, slot) pairs whose guardian joined and is still linked to the child. A
    guardian who used the codes of two slots fills only the first."""
    linked = {
        (guardian_id, student_id)
        for guardian_id, student_id in await session.execute(
            select(Guardianship.guardian_id, Guardianship.student_id).where(
                Guardianship.student_id.in_(student_ids)
            )
        )
    }
    used = await session.execute(
        select(Invite.student_id, Invite.guardian_slot, Invite.used_by_id)
        .where(
            Invite.kind == InviteKind.GUARDIAN,
            Invite.student_id.in_(student_ids),
            Invite.used_at.is_not(None),
        )
        .order_by(Invite.used_at, Invite.id)
    )
    filled: set[tuple[int, int]] = set()
    counted: set[tuple[int, int]] = set()
    for student_id, slot, guardian_id in used:
        if guardian_id is None or student_id is None:
            continue
        if (guardian_id, student_id) in linked and (guardian_id, student_id) not in counted:
            counted.add((guardian_id, student_id))
            filled.add((student_id, slot or FIRST_SLOT))
    return filled


async def _revoke(
    session: AsyncSession,
    school_id: int,
    student_ids: Sequence[int],
    *,
    only_slots: set[tuple[int, int]] | None,
    reason: str,
    actor_id: int | None,
) -> int:
    """Revoke the unused guardian invites of these students (of these (student, slot) pairs
    only, when given) with one audit entry listing them; returns how many."""
    if not student_ids:
        return 0
    unused = await session.execute(
        select(Invite.id, Invite.student_id, Invite.guardian_slot).where(
            Invite.school_id == school_id,
            Invite.kind == InviteKind.GUARDIAN,
            Invite.student_id.in_(student_ids),
            Invite.used_at.is_(None),
            Invite.revoked_at.is_(None),
        )
    )
    invite_ids = sorted(
        invite_id
        for invite_id, student_id, slot in unused
        if only_slots is None or (student_id, slot or FIRST_SLOT) in only_slots
    )
    if not invite_ids:
        return 0
    await session.execute(
        update(Invite)
        .where(Invite.id.in_(invite_ids), Invite.used_at.is_(None))
        .values(revoked_at=utcnow())
    )
    await record_event(
        session,
        "invite.revoked",
        person_ref(actor_id),
        {"school": school_id, "invites": invite_ids, "reason": reason},
    )
    return len(invite_ids)


async def issue_guardian_sheet(
    session: AsyncSession,
    school_id: int,
    *,
    class_id: int | None = None,
    student_id: int | None = None,
    actor_id: int | None = None,
    ttl: timedelta = DEFAULT_TTL,
) -> GuardianSheet:
    """Fresh guardian invites for a class, or for one student, in the caller's transaction.

    One code per guardian slot nobody has joined with yet; removed students get none. The
    earlier unused invites of the same student and slot are revoked. GuardianInviteError
    (unknown_class, unknown_student, student_not_in_class, student_removed) when the class or
    student is not this school's or cannot have invites. The audit ledger gets one entry per
    invite, one for the revocation and one for the sheet, with ids and counts only.
    """
    school = await session.get_one(School, school_id)
    students = await _students_for_sheet(session, school_id, class_id, student_id)
    student_ids = [student.id for student, _class_name in students]
    roster = await _roster_slots(session, student_ids)
    linked = await _linked_slots(session, student_ids)
    wanted: list[tuple[Student, str, int, GuardianSlot | None]] = []
    for student, class_name in students:
        slots = roster.get(student.id) or {}
        for number in sorted(slots) or [FIRST_SLOT]:
            if (student.id, number) not in linked:
                wanted.append((student, class_name, number, slots.get(number)))
    replaced = await _revoke(
        session,
        school_id,
        student_ids,
        only_slots={(student.id, number) for student, _name, number, _slot in wanted},
        reason="reissued",
        actor_id=actor_id,
    )
    slips = []
    for student, class_name, number, slot in wanted:
        invite, code = await issue_invite(
            session,
            school_id,
            InviteKind.GUARDIAN,
            student_id=student.id,
            guardian_slot=number,
            ttl=ttl,
            actor_id=actor_id,
        )
        slips.append(
            GuardianSlip(
                class_name=class_name,
                student_number=student.student_number,
                student_name=student.full_name,
                slot=number,
                guardian_name=slot.guardian_name if slot else None,
                relation=slot.relation if slot else None,
                code=code,
                expires_at=invite.expires_at,
            )
        )
    slips.sort(key=lambda slip: (slip.class_name, slip.student_number, slip.slot))
    await record_event(
        session,
        "invite_sheet.issued",
        person_ref(actor_id),
        {
            "school": school_id,
            "class": class_id,
            "student": student_id,
            "invites": len(slips),
            "replaced": replaced,
        },
    )
    return GuardianSheet(school.name, school.timezone, slips, replaced)


async def revoke_guardian_invites(
    session: AsyncSession, school_id: int, student_id: int, *, actor_id: int | None = None
) -> int:
    """Revoke every unused guardian invite of one student of this school (removed students
    included); returns how many. GuardianInviteError("unknown_student") for a student of
    another school."""
    await _student_in_school(session, school_id, student_id)
    return await _revoke(
        session, school_id, [student_id], only_slots=None, reason="revoked", actor_id=actor_id
    )


async def revoke_class_guardian_invites(
    session: AsyncSession, school_id: int, class_id: int, *, actor_id: int | None = None
) -> int:
    """Revoke every unused guardian invite of the students of one class of this school;
    returns how many. GuardianInviteError("unknown_class") for a class of another school."""
    await _class_in_school(session, school_id, class_id)
    student_ids = list(
        await session.scalars(
            select(Student.id).where(Student.school_id == school_id, Student.class_id == class_id)
        )
    )
    return await _revoke(
        session, school_id, student_ids, only_slots=None, reason="revoked", actor_id=actor_id
    )
