"""A school with a class, its teacher and the children's guardians as emulator users, made
directly in the database so notice tests start where onboarding ends."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from campus.models import (
    Guardianship,
    Notice,
    NoticeKind,
    OutboxMessage,
    OutboxState,
    Person,
    Role,
    RoleGrant,
    School,
    SchoolClass,
    Student,
    TeacherAssignment,
    utcnow,
)
from campus.services.notices import NoticeDraft, publish_notice
from emulator import SimUser
from tests.bot.conftest import LiveBot


@dataclass
class Family:
    child: str
    student_id: int
    guardians: list[SimUser]


@dataclass
class SchoolSetup:
    school_id: int
    class_id: int
    teacher: SimUser
    teacher_id: int
    families: list[Family] = field(default_factory=list)

    def family(self, child: str) -> Family:
        return next(f for f in self.families if f.child == child)


async def make_school(
    live: LiveBot,
    children: dict[str, int],
    *,
    timezone: str = "Asia/Shanghai",
    shared_parent_for: tuple[str, ...] = (),
) -> SchoolSetup:
    """A class 3A with one teacher; ``children`` maps a child's name to how many guardians
    they have. Children in ``shared_parent_for`` share their first guardian."""
    teacher = live.emu.create_user("Teacher Li", language_code="en")
    async with live.sessionmaker() as session, session.begin():
        school = School(name="Sunshine Primary", timezone=timezone)
        session.add(school)
        await session.flush()
        school_class = SchoolClass(school_id=school.id, name="3A", grade=3)
        teacher_person = Person(telegram_user_id=teacher.id, full_name="Li Wei", language="en")
        session.add_all([school_class, teacher_person])
        await session.flush()
        session.add(RoleGrant(person_id=teacher_person.id, school_id=school.id, role=Role.TEACHER))
        session.add(TeacherAssignment(teacher_id=teacher_person.id, class_id=school_class.id))
        setup = SchoolSetup(school.id, school_class.id, teacher, teacher_person.id)
        shared: tuple[SimUser, Person] | None = None
        for number, (child, guardian_count) in enumerate(children.items(), start=1):
            student = Student(
                school_id=school.id,
                class_id=school_class.id,
                full_name=child,
                student_number=f"S{number:03d}",
            )
            session.add(student)
            await session.flush()
            family = Family(child, student.id, [])
            for index in range(guardian_count):
                if index == 0 and child in shared_parent_for and shared is not None:
                    user, person = shared
                else:
                    user = live.emu.create_user(
                        f"Parent of {child} {index + 1}", language_code="en"
                    )
                    person = Person(
                        telegram_user_id=user.id, full_name=f"Parent {child} {index + 1}"
                    )
                    session.add(person)
                    await session.flush()
                    session.add(
                        RoleGrant(person_id=person.id, school_id=school.id, role=Role.GUARDIAN)
                    )
                    if index == 0 and child in shared_parent_for:
                        shared = (user, person)
                session.add(Guardianship(guardian_id=person.id, student_id=student.id))
                family.guardians.append(user)
            setup.families.append(family)
    return setup


def safety_alert(
    class_id: int,
    *,
    kind: NoticeKind = NoticeKind.SAFETY_ALERT,
    deadline: timedelta = timedelta(hours=24),
    reminders: tuple[timedelta, ...] = (timedelta(hours=4), timedelta(hours=12)),
    requires_ack: bool = True,
) -> NoticeDraft:
    return NoticeDraft(
        kind=kind,
        class_ids=(class_id,),
        title={"en": "Swimming safety"},
        body={"en": "Please remind {child} of {class_name} never to swim without an adult."},
        requires_ack=requires_ack,
        deadline=deadline,
        reminders=reminders,
    )


async def publish(
    live: LiveBot, setup: SchoolSetup, draft: NoticeDraft, *, sent_ago: timedelta = timedelta()
) -> int:
    """Publish as the teacher, as if it happened ``sent_ago``, and wake the worker."""
    async with live.sessionmaker() as session, session.begin():
        teacher = await session.get(Person, setup.teacher_id)
        assert teacher is not None
        await session.refresh(teacher, ["roles"])
        notice = await publish_notice(
            session, teacher, setup.school_id, draft, now=utcnow() - sent_ago
        )
        notice_id = notice.id
    live.app.delivery.nudge()
    return notice_id


async def wait_until_sent(live: LiveBot, within: float = 20.0) -> None:
    """Wait until nothing in the outbox is pending or being sent."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        async with live.sessionmaker() as session:
            busy = await session.scalar(
                select(func.count(OutboxMessage.id)).where(
                    OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.SENDING]),
                    OutboxMessage.due_at <= utcnow(),
                )
            )
        if not busy:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{busy} outbox messages still waiting")
        await asyncio.sleep(0.1)


async def notice_count(live: LiveBot) -> int:
    async with live.sessionmaker() as session:
        return int(await session.scalar(select(func.count(Notice.id))) or 0)


async def received(
    live: LiveBot, user: SimUser, count: int = 1, within: float = 10.0
) -> list[dict[str, Any]]:
    """The next ``count`` messages to ``user``, once the worker has recorded what it sent."""
    messages = await live.emu.wait_for_messages(user, count=count, timeout=within)
    await wait_until_sent(live)
    return messages


async def acknowledge(live: LiveBot, user: SimUser, message: dict[str, Any]) -> dict[str, Any]:
    """Press the message's acknowledge button; return the message once the bot has edited
    it (the bot answers the press first and edits after)."""
    await live.press(user, message, live.emu.button_texts(message)[0])
    async with asyncio.timeout(10):
        while True:
            current = next(
                m for m in live.emu.chat_log(user) if m["message_id"] == message["message_id"]
            )
            if current["edits"]:
                return current
            await asyncio.sleep(0.05)
