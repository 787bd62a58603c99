"""Every privileged command, document and button refuses people without the role, with a clear
message, and changes nothing; an administrator cannot reach another school's objects.

To protect a new command or button: add it to COMMANDS or BUTTONS below. The completeness
tests fail when a handler registered with ``HasRole`` is missing from these tables; a button
whose handler checks the role inside (like /revoke_invites' confirmation) must be added by
hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData, CallbackQueryFilter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.demo import first_link, start_code
from bot.filters import HasRole
from bot.handlers import get_routers
from bot.handlers.expert_duty import DutyToggle
from bot.handlers.invites import RevokeInvites
from bot.handlers.notice_status import NoticeStatusAction
from bot.keyboards import (
    GuardianRemoval,
    StaffRemoval,
    StudentRemoval,
    TeacherClass,
    TeacherPick,
)
from campus.models import (
    AuditEvent,
    Expert,
    Guardianship,
    Invite,
    Person,
    Role,
    RoleGrant,
    SchoolClass,
    Student,
    TeacherAssignment,
)
from campus.services.staff import assign_teacher
from emulator import SimUser
from tests.bot.conftest import LiveBot

COMMAND_REFUSAL = "this command is for school staff"
BUTTON_REFUSAL = "Only a school administrator can use this button. Nothing was changed."
ROSTER_REFUSAL = "Only a school administrator can import a roster. Nothing was changed."
NOTICE_REFUSAL = "only teachers and school administrators can send or edit notices"
NOTICE_STATUS_REFUSAL = (
    "You can see only the notices you sent (administrators: every notice of their school)."
)


@dataclass(frozen=True)
class World:
    """A school with one of everything, and people who hold each role in it."""

    admin: SimUser
    parent: SimUser
    teacher: SimUser
    expert: SimUser
    stranger: SimUser
    school_id: int
    class_id: int
    student_id: int
    student_number: str
    teacher_id: int
    expert_id: int
    guardianship_id: int


@dataclass(frozen=True)
class PrivilegedCommand:
    """A command only staff may use; ``{number}`` in ``text`` is the world's student, and
    ``refusal`` is part of what everybody else is told."""

    text: str
    teachers_may: bool = False
    refusal: str = COMMAND_REFUSAL
    experts_may: bool = False


@dataclass(frozen=True)
class PrivilegedButton:
    """A button only staff may press, as callback data forged for the world; ``refusal`` is
    what everybody else is told (the whole alert)."""

    what: str
    data: Callable[[World], CallbackData]
    teachers_may: bool = False
    refusal: str = BUTTON_REFUSAL
    experts_may: bool = False


# The tables: one line per privileged command or button of the bot.
COMMANDS = [
    PrivilegedCommand("/newclass 9Z"),
    PrivilegedCommand("/classes", teachers_may=True),
    PrivilegedCommand("/addstudent 3A Someone"),
    PrivilegedCommand("/invite_teacher"),
    PrivilegedCommand("/kb_feedback"),
    PrivilegedCommand("/kb_reload"),
    PrivilegedCommand("/teachers"),
    PrivilegedCommand("/assign"),
    PrivilegedCommand("/unassign"),
    PrivilegedCommand("/invite_expert law,psych en,zh"),
    PrivilegedCommand("/experts"),
    PrivilegedCommand("/remove_staff"),
    PrivilegedCommand("/remove_student {number}"),
    PrivilegedCommand("/remove_guardian {number}"),
    PrivilegedCommand("/invites 3A"),
    PrivilegedCommand("/revoke_invites {number}"),
    PrivilegedCommand("/notify", teachers_may=True, refusal=NOTICE_REFUSAL),
    PrivilegedCommand("/edit_notice 1", teachers_may=True, refusal=NOTICE_REFUSAL),
    PrivilegedCommand("/notices", teachers_may=True),
    PrivilegedCommand("/drafts"),
    PrivilegedCommand("/duty", refusal="/duty is for the school's experts", experts_may=True),
]
ROSTER_FILE = ("roster.csv", b"class,name,number\n9Z,Intruder,X1\n")
BUTTONS = [
    PrivilegedButton(
        "choose a teacher to assign", lambda w: TeacherPick(mode="assign", teacher=w.teacher_id)
    ),
    PrivilegedButton(
        "choose a teacher to unassign",
        lambda w: TeacherPick(mode="unassign", teacher=w.teacher_id),
    ),
    PrivilegedButton(
        "tap a class to assign",
        lambda w: TeacherClass(mode="assign", teacher=w.teacher_id, class_id=w.class_id),
    ),
    PrivilegedButton(
        "tap a class to unassign",
        lambda w: TeacherClass(mode="unassign", teacher=w.teacher_id, class_id=w.class_id),
    ),
    PrivilegedButton(
        "finish assigning", lambda w: TeacherClass(mode="assign", teacher=w.teacher_id, class_id=0)
    ),
    PrivilegedButton(
        "choose a teacher to remove",
        lambda w: StaffRemoval(step="ask", person=w.teacher_id, role=Role.TEACHER),
    ),
    PrivilegedButton(
        "confirm removing a teacher",
        lambda w: StaffRemoval(step="yes", person=w.teacher_id, role=Role.TEACHER),
    ),
    PrivilegedButton(
        "confirm removing an expert",
        lambda w: StaffRemoval(step="yes", person=w.expert_id, role=Role.EXPERT),
    ),
    PrivilegedButton(
        "confirm removing a student",
        lambda w: StudentRemoval(student=w.student_id, confirm=True),
    ),
    PrivilegedButton(
        "choose a guardian to unlink",
        lambda w: GuardianRemoval(step="ask", link=w.guardianship_id),
    ),
    PrivilegedButton(
        "confirm unlinking a guardian",
        lambda w: GuardianRemoval(step="yes", link=w.guardianship_id),
    ),
    PrivilegedButton(
        "confirm revoking a student's invites",
        lambda w: RevokeInvites(student=w.student_id, confirm=True),
    ),
    PrivilegedButton(
        "open a notice's status",
        lambda w: NoticeStatusAction(act="open", notice=1),
        teachers_may=True,
        refusal=NOTICE_STATUS_REFUSAL,
    ),
    PrivilegedButton(
        "pause an expert",
        lambda w: DutyToggle(on=False),
        refusal="Only the school's experts can use this button. Nothing was changed.",
        experts_may=True,
    ),
]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Many messages in a row from one person: no flood guard here."""
    return {"flood_rate_per_s": 1000.0, "flood_burst": 1000}


# --- the tables are complete ---------------------------------------------------------------


def _role_guarded_filters() -> tuple[set[str], set[type[CallbackData]]]:
    commands: set[str] = set()
    buttons: set[type[CallbackData]] = set()
    for router in get_routers():
        for observer, handlers in (("message", router.message), ("button", router.callback_query)):
            for handler in handlers.handlers:
                callbacks = [f.callback for f in handler.filters or []]
                if not any(isinstance(callback, HasRole) for callback in callbacks):
                    continue
                for callback in callbacks:
                    if observer == "message" and isinstance(callback, Command):
                        commands.update(str(command) for command in callback.commands)
                    if isinstance(callback, CallbackQueryFilter):
                        buttons.add(callback.callback_data)
    return commands, buttons


def test_every_role_guarded_command_is_in_the_table() -> None:
    guarded, _buttons = _role_guarded_filters()
    listed = {entry.text[1:].split()[0] for entry in COMMANDS}
    assert guarded, "no command is registered with HasRole: the introspection broke"
    assert guarded - listed == set(), "add these commands to COMMANDS"


def test_every_role_guarded_button_is_in_the_table() -> None:
    _commands, guarded = _role_guarded_filters()
    nobody = SimUser(0, "Nobody")
    world = World(nobody, nobody, nobody, nobody, nobody, 1, 2, 3, "S1", 4, 5, 6)
    listed = {type(entry.data(world)) for entry in BUTTONS}
    assert guarded, "no button is registered with HasRole: the introspection broke"
    assert guarded - listed == set(), "add buttons with this callback data to BUTTONS"


# --- people without the role are refused ---------------------------------------------------


async def _person_id(live: LiveBot, user: SimUser) -> int:
    async with live.sessionmaker() as session:
        person_id = await session.scalar(
            select(Person.id).where(Person.telegram_user_id == user.id)
        )
    assert person_id is not None
    return person_id


async def _join(live: LiveBot, user: SimUser, invite_reply: dict[str, Any]) -> dict[str, Any]:
    return await live.send(user, f"/start {start_code(first_link(invite_reply['text']))}")


async def build_world(live: LiveBot, admin_name: str = "Zhang") -> World:
    """A school with a class, a student linked to a parent, a teacher assigned to the class
    and an expert; every id the buttons need."""
    admin = await live.admin(admin_name)
    await live.send(admin, "/newclass 3A")
    parent = live.emu.create_user(f"Parent of {admin_name}", language_code="en")
    child = f"Child of {admin_name}"
    offer = await _join(live, parent, await live.send(admin, f"/addstudent 3A {child}"))
    assert "Linked" in (
        await live.emu.press_button(
            parent, offer, live.emu.button_data(offer, "Yes, this is my child"), timeout=10
        )
        or {}
    ).get("text", "")
    teacher = live.emu.create_user(f"Teacher of {admin_name}", language_code="en")
    joined = await _join(live, teacher, await live.send(admin, "/invite_teacher"))
    assert "You are now a teacher" in joined["text"]
    expert = live.emu.create_user(f"Expert of {admin_name}", language_code="en")
    joined = await _join(live, expert, await live.send(admin, "/invite_expert law en"))
    assert "You are now an expert" in joined["text"]
    stranger = live.emu.create_user(f"Stranger near {admin_name}", language_code="en")
    await live.send(stranger, "/help")

    teacher_id, expert_id = await _person_id(live, teacher), await _person_id(live, expert)
    async with live.sessionmaker() as session, session.begin():
        student = await session.scalar(
            select(Student)
            .join(Guardianship, Guardianship.student_id == Student.id)
            .join(Person, Person.id == Guardianship.guardian_id)
            .where(Person.telegram_user_id == parent.id)
        )
        assert student is not None
        link_id = await session.scalar(
            select(Guardianship.id).where(Guardianship.student_id == student.id)
        )
        assert link_id is not None
        await assign_teacher(
            session, student.school_id, teacher_id, student.class_id, actor_id=None
        )
    return World(
        admin,
        parent,
        teacher,
        expert,
        stranger,
        student.school_id,
        student.class_id,
        student.id,
        student.student_number,
        teacher_id,
        expert_id,
        link_id,
    )


async def snapshot(live: LiveBot) -> dict[str, int]:
    """Row counts of everything a privileged action could change."""

    async def count(session: AsyncSession, column: Any, *where: Any) -> int:
        return await session.scalar(select(func.count(column)).where(*where)) or 0

    async with live.sessionmaker() as session:
        return {
            "persons": await count(session, Person.id),
            "role grants": await count(session, RoleGrant.id),
            "classes": await count(session, SchoolClass.id),
            "students": await count(session, Student.id),
            "removed students": await count(session, Student.id, Student.removed_at.is_not(None)),
            "guardianships": await count(session, Guardianship.id),
            "teacher assignments": await count(session, TeacherAssignment.id),
            "head teachers": await count(
                session, TeacherAssignment.id, TeacherAssignment.is_head_teacher
            ),
            "experts on duty": await count(session, Expert.id, Expert.on_duty),
            "invites": await count(session, Invite.id),
            "revoked invites": await count(session, Invite.id, Invite.revoked_at.is_not(None)),
            "audit events": await count(session, AuditEvent.id),
        }


async def settled(live: LiveBot, user: SimUser) -> dict[str, Any]:
    """The answer to /help: one person's updates are handled in order, so the previous
    update's transaction is over by then. Returns the help message (a bot message to press
    forged buttons on)."""
    return await live.send(user, "/help")


@pytest.mark.parametrize("who", ["parent", "stranger", "teacher", "expert"])
async def test_people_without_the_role_are_refused_and_nothing_changes(
    live: LiveBot, who: str
) -> None:
    world = await build_world(live)
    user: SimUser = getattr(world, who)
    own_message = await settled(live, user)
    for entry in COMMANDS:
        if (who == "teacher" and entry.teachers_may) or (who == "expert" and entry.experts_may):
            continue
        text = entry.text.format(number=world.student_number)
        before = await snapshot(live)
        reply = await live.send(user, text)
        assert entry.refusal in reply["text"], f"{who} was not refused {text}"
        await settled(live, user)
        assert await snapshot(live) == before, f"{text} by the {who} changed something"

    before = await snapshot(live)
    await live.emu.send_document(user, *ROSTER_FILE, mime_type="text/csv")
    [reply] = await live.emu.wait_for_messages(user, count=1, timeout=10)
    assert reply["text"] == ROSTER_REFUSAL
    own_message = await settled(live, user)
    assert await snapshot(live) == before, f"a roster from the {who} changed something"

    for button in BUTTONS:
        if (who == "teacher" and button.teachers_may) or (who == "expert" and button.experts_may):
            continue
        data = button.data(world).pack()
        before = await snapshot(live)
        answer = await live.emu.press_button(
            user, own_message, data, check_button=False, timeout=10
        )
        assert answer is not None and answer["text"] == button.refusal, (
            f"{who} pressing '{button.what}' got {answer!r}"
        )
        assert answer.get("show_alert") is True
        own_message = await settled(live, user)
        assert await snapshot(live) == before, f"'{button.what}' by the {who} changed something"


async def test_a_parent_pressing_the_admins_own_button_is_refused(live: LiveBot) -> None:
    world = await build_world(live)
    confirmation = await live.send(world.admin, f"/remove_student {world.student_number}")
    data = live.emu.button_data(confirmation, "Yes, remove")
    before = await snapshot(live)
    answer = await live.emu.press_button(
        world.admin, confirmation, data, from_user=world.parent, timeout=10
    )
    assert answer is not None and answer["text"] == BUTTON_REFUSAL
    await settled(live, world.parent)
    assert await snapshot(live) == before
    assert live.emu.chat_log(world.admin)[-1]["edits"] == []


async def test_a_teacher_may_list_classes(live: LiveBot) -> None:
    world = await build_world(live)
    assert "3A" in (await live.send(world.teacher, "/classes"))["text"]


# --- an administrator cannot reach another school ------------------------------------------


async def test_an_admin_cannot_act_on_another_schools_objects(live: LiveBot) -> None:
    other = await build_world(live, "Liu")
    own = await build_world(live, "Zhang")
    admin = own.admin
    teachers = (await live.send(admin, "/teachers"))["text"]
    assert "Teacher of Zhang" in teachers and "Teacher of Liu" not in teachers
    experts = (await live.send(admin, "/experts"))["text"]
    assert experts.count("• ") == 1

    forged = [
        TeacherPick(mode="assign", teacher=other.teacher_id),
        TeacherClass(mode="assign", teacher=other.teacher_id, class_id=other.class_id),
        TeacherClass(mode="assign", teacher=own.teacher_id, class_id=other.class_id),
        TeacherClass(mode="unassign", teacher=other.teacher_id, class_id=other.class_id),
        TeacherClass(mode="assign", teacher=other.teacher_id, class_id=0),
        StaffRemoval(step="ask", person=other.teacher_id, role=Role.TEACHER),
        StaffRemoval(step="yes", person=other.teacher_id, role=Role.TEACHER),
        StaffRemoval(step="yes", person=other.expert_id, role=Role.EXPERT),
        StaffRemoval(step="yes", person=own.teacher_id, role=Role.ADMIN),
        StudentRemoval(student=other.student_id, confirm=True),
        GuardianRemoval(step="ask", link=other.guardianship_id),
        GuardianRemoval(step="yes", link=other.guardianship_id),
        RevokeInvites(student=other.student_id, confirm=True),
    ]
    own_message = await settled(live, admin)
    for data in forged:
        before = await snapshot(live)
        answer = await live.emu.press_button(
            admin, own_message, data.pack(), check_button=False, timeout=10
        )
        assert answer is not None and "Nothing was changed" in answer["text"], (data, answer)
        own_message = await settled(live, admin)
        assert await snapshot(live) == before, f"{data!r} changed another school"

    # Both schools numbered their first student S0001: the number names the admin's own.
    assert other.student_number == own.student_number
    offer = await live.send(admin, f"/remove_student {own.student_number}")
    assert "Child of Zhang" in offer["text"] and "Child of Liu" not in offer["text"]
    done = await live.press(admin, offer, "Yes, remove")
    assert "Child of Zhang (3A, number S0001) was removed" in done["text"]
    await settled(live, admin)
    async with live.sessionmaker() as session:
        theirs = await session.get_one(Student, other.student_id)
        ours = await session.get_one(Student, own.student_id)
        assert theirs.removed_at is None and ours.removed_at is not None
        links = await session.scalar(
            select(func.count(Guardianship.id)).where(Guardianship.student_id == theirs.id)
        )
        assert links == 1
