"""Schools, their classes and students."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from campus.models import Guardianship, Person, School, SchoolClass, Student
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
        .where(Guardianship.guardian_id == guardian.id)
        .options(selectinload(Student.school_class))
        .order_by(Student.full_name)
    )
    return list(result)
