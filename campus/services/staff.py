"""A school's staff: teachers and the classes they teach, experts, and removing either role.

Every function takes the school the acting administrator runs and checks that the teacher,
expert or class belongs to it: ids arrive from button presses, which can be forged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from campus.models import (
    Expert,
    ExpertCategory,
    Invite,
    InviteKind,
    Person,
    Role,
    RoleGrant,
    SchoolClass,
    TeacherAssignment,
)
from campus.services.audit import person_ref, record_event
from campus.services.invites import DEFAULT_TTL, issue_invite
from campus.services.schools import revoke_role
from campus.settings import Language

#: The roles an administrator can take away from the chat or the command line.
REMOVABLE_ROLES = (Role.TEACHER, Role.EXPERT)
_CATEGORIES = frozenset(category.value for category in ExpertCategory)
_LANGUAGES = frozenset(language.value for language in Language)


class StaffError(Exception):
    """A staff request that cannot be carried out; ``code`` is one of unknown_teacher,
    unknown_expert, unknown_class, not_removable, no_categories, unknown_categories,
    no_languages, unknown_languages; ``details`` hold what the message needs."""

    def __init__(self, code: str, **details: object) -> None:
        super().__init__(code)
        self.code = code
        self.details = details


@dataclass(frozen=True)
class TaughtClass:
    """A class a teacher is assigned to."""

    class_id: int
    name: str
    head_teacher: bool


@dataclass(frozen=True)
class TeacherEntry:
    """A teacher of the school and the classes they teach, in name order."""

    person_id: int
    name: str
    classes: tuple[TaughtClass, ...]


@dataclass(frozen=True)
class ExpertEntry:
    """An expert of the school, known to administrators by a pseudonymous label only."""

    person_id: int
    label: str
    categories: tuple[str, ...]
    languages: tuple[str, ...]
    on_duty: bool


@dataclass(frozen=True)
class ExpertChoice:
    """What an expert invite grants: the categories they answer, in which languages."""

    categories: tuple[ExpertCategory, ...]
    languages: tuple[Language, ...]


def expert_label(expert_id: int) -> str:
    """The pseudonym under which administrators (and later parents) know an expert."""
    return f"E{expert_id}"


# --- teachers ------------------------------------------------------------------------------


async def _holds_role(session: AsyncSession, person_id: int, school_id: int, role: Role) -> bool:
    grant = await session.scalar(
        select(RoleGrant.id).where(
            RoleGrant.person_id == person_id,
            RoleGrant.school_id == school_id,
            RoleGrant.role == role,
        )
    )
    return grant is not None


async def find_teacher(session: AsyncSession, school_id: int, teacher_id: int) -> Person:
    """The person with this id if they teach at the school; StaffError(unknown_teacher)
    otherwise."""
    if not await _holds_role(session, teacher_id, school_id, Role.TEACHER):
        raise StaffError("unknown_teacher")
    return await session.get_one(Person, teacher_id)


async def _class_in_school(session: AsyncSession, school_id: int, class_id: int) -> SchoolClass:
    school_class = await session.get(SchoolClass, class_id)
    if school_class is None or school_class.school_id != school_id:
        raise StaffError("unknown_class")
    return school_class


async def teacher_assignments(
    session: AsyncSession, school_id: int, teacher_id: int
) -> dict[int, bool]:
    """The ids of the school's classes the teacher is assigned to, each with whether they are
    its head teacher; StaffError(unknown_teacher) when they do not teach at the school."""
    await find_teacher(session, school_id, teacher_id)
    result = await session.execute(
        select(TeacherAssignment.class_id, TeacherAssignment.is_head_teacher)
        .join(SchoolClass, SchoolClass.id == TeacherAssignment.class_id)
        .where(TeacherAssignment.teacher_id == teacher_id, SchoolClass.school_id == school_id)
    )
    return dict(result.all())


async def list_teachers(session: AsyncSession, school_id: int) -> list[TeacherEntry]:
    """The school's teachers in name order, each with the classes they teach."""
    teachers = list(
        await session.execute(
            select(Person.id, Person.full_name)
            .join(RoleGrant, RoleGrant.person_id == Person.id)
            .where(RoleGrant.school_id == school_id, RoleGrant.role == Role.TEACHER)
            .order_by(Person.full_name, Person.id)
        )
    )
    taught: dict[int, list[TaughtClass]] = {teacher_id: [] for teacher_id, _name in teachers}
    result = await session.execute(
        select(
            TeacherAssignment.teacher_id,
            SchoolClass.id,
            SchoolClass.name,
            TeacherAssignment.is_head_teacher,
        )
        .join(SchoolClass, SchoolClass.id == TeacherAssignment.class_id)
        .where(SchoolClass.school_id == school_id)
        .order_by(SchoolClass.name)
    )
    for teacher_id, class_id, class_name, head in result:
        if teacher_id in taught:
            taught[teacher_id].append(TaughtClass(class_id, class_name, head))
    return [
        TeacherEntry(teacher_id, name, tuple(taught[teacher_id])) for teacher_id, name in teachers
    ]


async def assign_teacher(
    session: AsyncSession,
    school_id: int,
    teacher_id: int,
    class_id: int,
    *,
    actor_id: int | None,
    head_teacher: bool = False,
) -> TeacherAssignment:
    """Assign a teacher of the school to one of its classes, or change whether they are its
    head teacher. A class has one head teacher: making a new one clears the flag of the
    previous one. StaffError (unknown_teacher, unknown_class) leaves everything unchanged."""
    await find_teacher(session, school_id, teacher_id)
    await _class_in_school(session, school_id, class_id)
    assignment = await session.scalar(
        select(TeacherAssignment).where(
            TeacherAssignment.teacher_id == teacher_id, TeacherAssignment.class_id == class_id
        )
    )
    if assignment is not None and assignment.is_head_teacher == head_teacher:
        return assignment
    if head_teacher:
        await session.execute(
            update(TeacherAssignment)
            .where(TeacherAssignment.class_id == class_id, TeacherAssignment.is_head_teacher)
            .values(is_head_teacher=False)
        )
    if assignment is None:
        assignment = TeacherAssignment(teacher_id=teacher_id, class_id=class_id)
        session.add(assignment)
    assignment.is_head_teacher = head_teacher
    await session.flush()
    await record_event(
        session,
        "teacher.assigned",
        person_ref(actor_id),
        {
            "school": school_id,
            "class": class_id,
            "teacher": person_ref(teacher_id),
            "head_teacher": head_teacher,
        },
    )
    return assignment


async def unassign_teacher(
    session: AsyncSession, school_id: int, teacher_id: int, class_id: int, *, actor_id: int | None
) -> bool:
    """Take a teacher of the school off one of its classes; False when they were not
    assigned to it. StaffError (unknown_teacher, unknown_class) leaves everything unchanged."""
    await find_teacher(session, school_id, teacher_id)
    await _class_in_school(session, school_id, class_id)
    result = await session.execute(
        delete(TeacherAssignment)
        .where(TeacherAssignment.teacher_id == teacher_id, TeacherAssignment.class_id == class_id)
        .returning(TeacherAssignment.id)
    )
    if not result.all():
        return False
    await record_event(
        session,
        "teacher.unassigned",
        person_ref(actor_id),
        {"school": school_id, "class": class_id, "teacher": person_ref(teacher_id)},
    )
    return True


async def classes_of_teacher(session: AsyncSession, teacher_id: int) -> list[SchoolClass]:
    """The classes a person teaches, in name order, in every school where they still hold
    the teacher role (an assignment outlives a role taken away by /forget_me)."""
    result = await session.scalars(
        select(SchoolClass)
        .join(TeacherAssignment, TeacherAssignment.class_id == SchoolClass.id)
        .join(
            RoleGrant,
            (RoleGrant.person_id == TeacherAssignment.teacher_id)
            & (RoleGrant.school_id == SchoolClass.school_id)
            & (RoleGrant.role == Role.TEACHER),
        )
        .where(TeacherAssignment.teacher_id == teacher_id)
        .order_by(SchoolClass.name, SchoolClass.id)
    )
    return list(result)


# --- experts -------------------------------------------------------------------------------


def _split(text: str) -> list[str]:
    return [
        part for part in (p.strip().lower() for p in text.replace("，", ",").split(",")) if part
    ]


def parse_expert_choice(categories: str, languages: str) -> ExpertChoice:
    """Read "law,psych" and "en,zh" into an ExpertChoice; StaffError (no_categories,
    unknown_categories, no_languages, unknown_languages with ``values``) otherwise."""
    category_names = _split(categories)
    language_names = _split(languages)
    if not category_names:
        raise StaffError("no_categories")
    unknown = [name for name in category_names if name not in _CATEGORIES]
    if unknown:
        raise StaffError("unknown_categories", values=unknown)
    if not language_names:
        raise StaffError("no_languages")
    unknown = [name for name in language_names if name not in _LANGUAGES]
    if unknown:
        raise StaffError("unknown_languages", values=unknown)
    return ExpertChoice(
        tuple(ExpertCategory(name) for name in dict.fromkeys(category_names)),
        tuple(Language(name) for name in dict.fromkeys(language_names)),
    )


async def issue_expert_invite(
    session: AsyncSession,
    school_id: int,
    choice: ExpertChoice,
    *,
    actor_id: int | None,
    ttl: timedelta = DEFAULT_TTL,
) -> tuple[Invite, str]:
    """An expert invite whose ``details`` hold the categories and languages it grants."""
    invite, code = await issue_invite(
        session, school_id, InviteKind.EXPERT, ttl=ttl, actor_id=actor_id
    )
    invite.details = {
        "categories": [category.value for category in choice.categories],
        "languages": [language.value for language in choice.languages],
    }
    await session.flush()
    return invite, code


async def list_experts(session: AsyncSession, school_id: int) -> list[ExpertEntry]:
    """The school's experts by label, without names: who they are is not the admin's
    business in the answering flow."""
    result = await session.execute(
        select(RoleGrant.person_id, Expert)
        .outerjoin(Expert, Expert.person_id == RoleGrant.person_id)
        .where(RoleGrant.school_id == school_id, RoleGrant.role == Role.EXPERT)
        .order_by(Expert.id, RoleGrant.person_id)
    )
    return [_expert_entry(person_id, expert) for person_id, expert in result]


def _expert_entry(person_id: int, expert: Expert | None) -> ExpertEntry:
    if expert is None:
        return ExpertEntry(person_id, f"P{person_id}", (), (), on_duty=False)
    return ExpertEntry(
        person_id,
        expert_label(expert.id),
        tuple(expert.categories),
        tuple(expert.languages),
        expert.on_duty,
    )


async def find_expert(session: AsyncSession, school_id: int, person_id: int) -> ExpertEntry:
    """The expert with this person id if they are an expert of the school;
    StaffError(unknown_expert) otherwise."""
    if not await _holds_role(session, person_id, school_id, Role.EXPERT):
        raise StaffError("unknown_expert")
    expert = await session.scalar(select(Expert).where(Expert.person_id == person_id))
    return _expert_entry(person_id, expert)


# --- removing a role -----------------------------------------------------------------------


async def remove_staff(
    session: AsyncSession, school_id: int, person_id: int, role: Role, *, actor_id: int | None
) -> None:
    """Take the teacher or expert role in a school away from a person.

    A teacher also loses their assignments to the school's classes. An expert's profile
    stays (off duty once they are an expert nowhere) so that answers they gave still point
    at it. StaffError (not_removable, unknown_teacher, unknown_expert) changes nothing.
    """
    if role not in REMOVABLE_ROLES:
        raise StaffError("not_removable")
    if not await _holds_role(session, person_id, school_id, role):
        raise StaffError("unknown_teacher" if role == Role.TEACHER else "unknown_expert")
    await revoke_role(session, person_id, school_id, role)
    if role == Role.TEACHER:
        school_classes = select(SchoolClass.id).where(SchoolClass.school_id == school_id)
        await session.execute(
            delete(TeacherAssignment).where(
                TeacherAssignment.teacher_id == person_id,
                TeacherAssignment.class_id.in_(school_classes),
            )
        )
    elif not await _expert_anywhere(session, person_id):
        await session.execute(
            update(Expert).where(Expert.person_id == person_id).values(on_duty=False)
        )
    await session.flush()
    await record_event(
        session,
        "staff.removed",
        person_ref(actor_id),
        {"school": school_id, "person": person_ref(person_id), "role": role.value},
    )


async def _expert_anywhere(session: AsyncSession, person_id: int) -> bool:
    grant = await session.scalar(
        select(RoleGrant.id).where(RoleGrant.person_id == person_id, RoleGrant.role == Role.EXPERT)
    )
    return grant is not None


async def own_expert_profile(session: AsyncSession, person: Person) -> Expert:
    """The expert profile of ``person``; StaffError ``not_expert`` if they have none."""
    expert = await session.scalar(select(Expert).where(Expert.person_id == person.id))
    if expert is None:
        raise StaffError("not_expert")
    return expert


def parse_duty_hours(text: str) -> str | None:
    """``"08:00-22:00"`` (a window may span midnight) or ``"always"`` (None); StaffError
    ``bad_hours`` otherwise."""
    cleaned = text.strip().lower().replace("–", "-").replace(" ", "")
    if cleaned in {"always", "any", "全天"}:
        return None
    start, sep, end = cleaned.partition("-")
    try:
        if not sep or time.fromisoformat(start) == time.fromisoformat(end):
            raise ValueError(cleaned)
    except ValueError:
        raise StaffError("bad_hours") from None
    return f"{time.fromisoformat(start):%H:%M}-{time.fromisoformat(end):%H:%M}"


async def set_on_duty(session: AsyncSession, person: Person, on_duty: bool) -> Expert:
    """An expert pauses (no questions are offered to them) or resumes."""
    expert = await own_expert_profile(session, person)
    expert.on_duty = on_duty
    await record_event(session, "expert.duty_changed", person_ref(person.id), {"on_duty": on_duty})
    return expert


async def set_duty_hours(session: AsyncSession, person: Person, hours: str | None) -> Expert:
    """The hours (school time, ``"08:00-22:00"``) an expert takes questions; None: any time."""
    expert = await own_expert_profile(session, person)
    expert.duty_hours = hours
    await record_event(session, "expert.hours_changed", person_ref(person.id), {"hours": hours})
    return expert
