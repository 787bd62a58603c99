"""Schools, their classes and students, and removing a student or a guardian's link.

A removed student keeps their row (``removed_at`` is set) so that past notices still read;
everything that lists students leaves them out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from campus.models import (
    Guardianship,
    Invite,
    Person,
    Role,
    School,
    SchoolClass,
    Student,
    utcnow,
)
from campus.services.audit import person_ref, record_event


class SchoolError(Exception):
    """A request about a school that cannot be carried out; ``code`` names the reason."""

    def __init__(self, code: str, **details: object) -> None:
        super().__init__(code)
        self.code = code
        self.details = details


MAX_NAME = 64
_GRADE_IN_NAME = re.compile(r"^\s*(\d{1,2})")


def clean_name(raw: str, *, limit: int = MAX_NAME) -> str:
    """Collapse white space and refuse empty or over-long names."""
    name = " ".join(raw.split())
    if not name:
        raise SchoolError("empty_name")
    if len(name) > limit:
        raise SchoolError("name_too_long", limit=limit)
    return name


async def create_school(session: AsyncSession, name: str, timezone: str) -> School:
    """A new school; the caller issues the admin claim invite."""
    school = School(name=clean_name(name, limit=200), timezone=timezone)
    session.add(school)
    await session.flush()
    await record_event(session, "school.created", "system", {"school": school.id})
    return school


async def create_class(
    session: AsyncSession, school_id: int, name: str, *, actor_id: int | None = None
) -> SchoolClass:
    """A class in a school; the grade is read from a leading number ("3A" is grade 3)."""
    name = clean_name(name)
    existing = await session.scalar(
        select(SchoolClass).where(
            SchoolClass.school_id == school_id, func.lower(SchoolClass.name) == name.lower()
        )
    )
    if existing is not None:
        raise SchoolError("class_exists", name=existing.name)
    match = _GRADE_IN_NAME.match(name)
    school_class = SchoolClass(
        school_id=school_id, name=name, grade=int(match.group(1)) if match else None
    )
    session.add(school_class)
    await session.flush()
    await record_event(
        session,
        "class.created",
        person_ref(actor_id),
        {"school": school_id, "class": school_class.id},
    )
    return school_class


async def find_class(session: AsyncSession, school_id: int, name: str) -> SchoolClass | None:
    """A class by its name, ignoring case and extra spaces."""
    wanted = " ".join(name.split()).lower()
    return await session.scalar(
        select(SchoolClass).where(
            SchoolClass.school_id == school_id, func.lower(SchoolClass.name) == wanted
        )
    )


async def list_classes(session: AsyncSession, school_id: int) -> list[SchoolClass]:
    """The school's classes in name order."""
    result = await session.scalars(
        select(SchoolClass).where(SchoolClass.school_id == school_id).order_by(SchoolClass.name)
    )
    return list(result)


async def add_student(
    session: AsyncSession,
    school_class: SchoolClass,
    full_name: str,
    student_number: str | None = None,
    *,
    actor_id: int | None = None,
) -> Student:
    """A student in a class; without a number one is assigned (S0001, S0002, ...)."""
    name = clean_name(full_name, limit=200)
    if student_number is None:
        count = await session.scalar(
            select(func.count(Student.id)).where(Student.school_id == school_class.school_id)
        )
        student_number = f"S{(count or 0) + 1:04d}"
    student = Student(
        school_id=school_class.school_id,
        class_id=school_class.id,
        full_name=name,
        student_number=clean_name(student_number),
    )
    session.add(student)
    await session.flush()
    await record_event(
        session,
        "student.added",
        person_ref(actor_id),
        {"school": school_class.school_id, "class": school_class.id, "student": student.id},
    )
    return student


async def children_of(session: AsyncSession, guardian: Person) -> list[Student]:
    """The children a guardian is linked to, with their classes loaded."""
    result = await session.scalars(
        select(Student)
        .join(Guardianship, Guardianship.student_id == Student.id)
        .where(Guardianship.guardian_id == guardian.id, Student.removed_at.is_(None))
        .options(selectinload(Student.school_class))
        .order_by(Student.full_name)
    )
    return list(result)


async def find_student(session: AsyncSession, school_id: int, number: str) -> Student | None:
    """A current (not removed) student of the school by their student number, with their
    class loaded."""
    return await session.scalar(
        select(Student)
        .where(
            Student.school_id == school_id,
            Student.student_number == number.strip(),
            Student.removed_at.is_(None),
        )
        .options(selectinload(Student.school_class))
    )


async def get_student(session: AsyncSession, school_id: int, student_id: int) -> Student:
    """A current student of the school by id, with their class loaded;
    SchoolError(unknown_student) for another school's or a removed student."""
    student = await session.scalar(
        select(Student)
        .where(
            Student.id == student_id,
            Student.school_id == school_id,
            Student.removed_at.is_(None),
        )
        .options(selectinload(Student.school_class))
    )
    if student is None:
        raise SchoolError("unknown_student")
    return student


@dataclass(frozen=True)
class StudentRemoval:
    """What removing a student undid."""

    guardians_unlinked: int
    invites_revoked: int


async def remove_student(
    session: AsyncSession, school_id: int, student_id: int, *, actor_id: int | None
) -> StudentRemoval:
    """Remove a student: the row stays (marked removed) as evidence, their guardians' links
    go and their unused invites are revoked. Guardians left without a child at the school
    lose their guardian role there. SchoolError(unknown_student) changes nothing."""
    student = await get_student(session, school_id, student_id)
    guardian_ids = list(
        await session.scalars(
            select(Guardianship.guardian_id).where(Guardianship.student_id == student.id)
        )
    )
    await session.execute(delete(Guardianship).where(Guardianship.student_id == student.id))
    revoked = await session.execute(
        update(Invite)
        .where(
            Invite.student_id == student.id,
            Invite.used_at.is_(None),
            Invite.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
        .returning(Invite.id)
    )
    invites_revoked = len(revoked.all())
    student.removed_at = utcnow()
    await session.flush()
    for guardian_id in guardian_ids:
        await _drop_guardian_role_if_childless(session, guardian_id, school_id)
    await record_event(
        session,
        "student.removed",
        person_ref(actor_id),
        {
            "school": school_id,
            "student": student.id,
            "guardians_unlinked": len(guardian_ids),
            "invites_revoked": invites_revoked,
        },
    )
    return StudentRemoval(len(guardian_ids), invites_revoked)


async def guardians_of(
    session: AsyncSession, school_id: int, student_id: int
) -> list[Guardianship]:
    """The links of a current student of the school to their guardians, oldest first, with
    the guardians loaded; SchoolError(unknown_student) otherwise."""
    await get_student(session, school_id, student_id)
    result = await session.scalars(
        select(Guardianship)
        .where(Guardianship.student_id == student_id)
        .options(selectinload(Guardianship.guardian))
        .order_by(Guardianship.linked_at, Guardianship.id)
    )
    return list(result)


async def get_guardianship(
    session: AsyncSession, school_id: int, guardianship_id: int
) -> Guardianship:
    """A guardian's link to a current student of the school, with the guardian, the student
    and their class loaded; SchoolError(unknown_guardianship) otherwise."""
    link = await session.scalar(
        select(Guardianship)
        .join(Student, Student.id == Guardianship.student_id)
        .where(
            Guardianship.id == guardianship_id,
            Student.school_id == school_id,
            Student.removed_at.is_(None),
        )
        .options(
            selectinload(Guardianship.guardian),
            selectinload(Guardianship.student).selectinload(Student.school_class),
        )
    )
    if link is None:
        raise SchoolError("unknown_guardianship")
    return link


async def unlink_guardian(
    session: AsyncSession, school_id: int, guardianship_id: int, *, actor_id: int | None
) -> None:
    """Delete a guardian's link to a student of the school; the guardian is not told. A
    guardian left without a child at the school loses their guardian role there.
    SchoolError(unknown_guardianship) changes nothing."""
    link = await get_guardianship(session, school_id, guardianship_id)
    guardian_id, student_id = link.guardian_id, link.student_id
    await session.delete(link)
    await session.flush()
    await _drop_guardian_role_if_childless(session, guardian_id, school_id)
    await record_event(
        session,
        "guardian.unlinked",
        person_ref(actor_id),
        {"school": school_id, "student": student_id, "guardian": person_ref(guardian_id)},
    )


async def _drop_guardian_role_if_childless(
    session: AsyncSession, guardian_id: int, school_id: int
) -> None:
    remaining = await session.scalar(
        select(func.count(Guardianship.id))
        .join(Student, Student.id == Guardianship.student_id)
        .where(
            Guardianship.guardian_id == guardian_id,
            Student.school_id == school_id,
            Student.removed_at.is_(None),
        )
    )
    if not remaining:
        await revoke_role(session, guardian_id, school_id, Role.GUARDIAN)


async def revoke_role(session: AsyncSession, person_id: int, school_id: int, role: Role) -> bool:
    """Take a role in a school away from a person; False when they did not hold it. The
    person's loaded roles stay in step, so role checks later in the update see the change."""
    person = await session.get_one(Person, person_id)
    grants = await person.awaitable_attrs.roles
    revoked = [grant for grant in grants if grant.school_id == school_id and grant.role == role]
    for grant in revoked:
        grants.remove(grant)
    await session.flush()
    return bool(revoked)
