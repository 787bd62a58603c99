"""A school with two classes, two teachers, an admin and the children's guardians, made
directly in the database, and shortcuts to publish, "send" and acknowledge a notice without
Telegram: the starting point of the notice status and evidence tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campus.models import (
    Guardianship,
    NoticeKind,
    OutboxMessage,
    Person,
    Role,
    RoleGrant,
    School,
    SchoolClass,
    Student,
    TeacherAssignment,
)
from campus.services.notices import NoticeDraft, acknowledge, publish_notice
from campus.services.outbox import mark_failed, mark_sent

T0 = datetime(2025, 6, 2, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
MINUTE = timedelta(minutes=1)

#: class -> child -> guardians (a None Telegram id: a guardian who cannot be reached)
ROSTER: dict[str, dict[str, list[int | None]]] = {
    "3A": {"Wang Fang": [101, 102], "Li Lei": [103], "Chen Jing": [None], "Zhou Min": []},
    "3B": {
        "Sun Yu": [201],
        "Ma Li": [202],
        "He Bo": [203],
        **{f"Kid {n}": [210 + n] for n in range(1, 6)},
    },
}


@dataclass
class World:
    school_id: int
    teacher_id: int
    other_teacher_id: int
    admin_id: int
    parent_id: int
    classes: dict[str, int] = field(default_factory=dict)
    guardians: dict[int, int] = field(default_factory=dict)  # telegram id -> person id


async def _person(session: AsyncSession, name: str, telegram_id: int | None) -> Person:
    person = Person(full_name=name, telegram_user_id=telegram_id, language="en")
    session.add(person)
    await session.flush()
    return person


async def make_world(sessionmaker: async_sessionmaker[AsyncSession]) -> World:
    async with sessionmaker() as session, session.begin():
        school = School(name="Sunshine Primary", timezone="Asia/Shanghai")
        other_school = School(name="Moonlight Primary", timezone="Asia/Shanghai")
        session.add_all([school, other_school])
        await session.flush()
        teacher = await _person(session, "Li Wei", 1)
        other_teacher = await _person(session, "Wu Hua", 2)
        admin = await _person(session, "Zhang Min", 3)
        parent = await _person(session, "Some Parent", 4)
        world = World(school.id, teacher.id, other_teacher.id, admin.id, parent.id)
        session.add_all(
            [
                RoleGrant(person_id=teacher.id, school_id=school.id, role=Role.TEACHER),
                RoleGrant(person_id=other_teacher.id, school_id=school.id, role=Role.TEACHER),
                RoleGrant(person_id=admin.id, school_id=school.id, role=Role.ADMIN),
                RoleGrant(person_id=admin.id, school_id=other_school.id, role=Role.TEACHER),
                RoleGrant(person_id=parent.id, school_id=school.id, role=Role.GUARDIAN),
            ]
        )
        number = 0
        for class_name, children in ROSTER.items():
            school_class = SchoolClass(school_id=school.id, name=class_name, grade=3)
            session.add(school_class)
            await session.flush()
            world.classes[class_name] = school_class.id
            for teacher_id in (teacher.id, other_teacher.id):
                session.add(TeacherAssignment(teacher_id=teacher_id, class_id=school_class.id))
            for child, guardians in children.items():
                number += 1
                student = Student(
                    school_id=school.id,
                    class_id=school_class.id,
                    full_name=child,
                    student_number=f"S{number:03d}",
                )
                session.add(student)
                await session.flush()
                for index, telegram_id in enumerate(guardians, start=1):
                    guardian = await _person(session, f"Parent {child} {index}", telegram_id)
                    if telegram_id is not None:
                        world.guardians[telegram_id] = guardian.id
                    session.add(Guardianship(guardian_id=guardian.id, student_id=student.id))
        await session.flush()
    return world


def drill_draft(
    world: World, *, drill: bool = True, classes: tuple[str, ...] = ("3A", "3B")
) -> NoticeDraft:
    return NoticeDraft(
        kind=NoticeKind.SAFETY_ALERT,
        class_ids=tuple(world.classes[c] for c in classes),
        title={"en": "Fire drill", "zh": "消防演练"},
        body={"en": "{child} of {class_name}: the drill is at 10:00.", "zh": "{child}：十点演练。"},
        requires_ack=True,
        deadline=timedelta(hours=24),
        reminders=(timedelta(hours=4), timedelta(hours=12)),
        is_drill=drill,
    )


async def publish(
    sessionmaker: async_sessionmaker[AsyncSession],
    world: World,
    author_id: int,
    draft: NoticeDraft,
    now: datetime = T0,
) -> int:
    async with sessionmaker() as session, session.begin():
        author = await session.get(Person, author_id)
        assert author is not None
        await session.refresh(author, ["roles"])
        return (await publish_notice(session, author, world.school_id, draft, now=now)).id


async def outbox_of(session: AsyncSession, notice_id: int, telegram_id: int) -> OutboxMessage:
    return (
        await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.notice_id == notice_id, OutboxMessage.chat_id == telegram_id)
            .order_by(OutboxMessage.id.desc())
        )
    ).first() or _missing(telegram_id)


def _missing(telegram_id: int) -> OutboxMessage:
    raise AssertionError(f"no outbox message for chat {telegram_id}")


async def send(
    sessionmaker: async_sessionmaker[AsyncSession], notice_id: int, telegram_id: int, at: datetime
) -> None:
    async with sessionmaker() as session, session.begin():
        row = await outbox_of(session, notice_id, telegram_id)
        await mark_sent(session, row.id, 5000 + row.id, now=at)


async def ack(
    sessionmaker: async_sessionmaker[AsyncSession], notice_id: int, telegram_id: int, at: datetime
) -> None:
    async with sessionmaker() as session, session.begin():
        row = await outbox_of(session, notice_id, telegram_id)
        assert row.delivery_id is not None and row.telegram_message_id is not None
        assert row.version is not None
        result = await acknowledge(
            session,
            row.delivery_id,
            row.version,
            telegram_user_id=telegram_id,
            chat_id=telegram_id,
            message_id=row.telegram_message_id,
            now=at,
        )
        assert result.outcome == "recorded"


async def drill_with_answers(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[World, int]:
    """The drill to 3A and 3B, sent to most first guardians and acknowledged by some."""
    world = await make_world(sessionmaker)
    notice_id = await publish(sessionmaker, world, world.teacher_id, drill_draft(world))
    for telegram_id in (101, 103, 201, *range(211, 216)):
        await send(sessionmaker, notice_id, telegram_id, T0 + MINUTE)
    async with sessionmaker() as session, session.begin():
        await mark_failed(session, (await outbox_of(session, notice_id, 202)).id, "bad request")
    # He Bo's guardian (203) stays queued; Wang Fang's second guardian (102) is not asked yet.
    await ack(sessionmaker, notice_id, 101, T0 + 11 * MINUTE)  # 3A: 10 min
    for telegram_id, minutes in ((211, 1), (212, 2), (213, 3), (214, 4), (215, 20), (201, 30)):
        await ack(sessionmaker, notice_id, telegram_id, T0 + (1 + minutes) * MINUTE)
    return world, notice_id
