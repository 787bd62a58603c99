"""School administration from the chat: classes, students, invites."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.deep_linking import create_start_link
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.filters import HasRole
from campus.models import InviteKind, Person, Role
from campus.services.invites import issue_invite
from campus.services.people import schools_where
from campus.services.schools import (
    SchoolError,
    add_student,
    create_class,
    find_class,
    list_classes,
)

ADMIN_COMMANDS = ("newclass", "addstudent", "invite_teacher", "kb_feedback", "kb_reload")


def _school_of(person: Person, role: Role) -> int:
    return schools_where(person, role)[0]


def _school_problem(error: SchoolError) -> str:
    problems = {
        "empty_name": _("Please add a name after the command."),
        "name_too_long": _("That name is too long (at most {limit} characters).").format(
            limit=error.details.get("limit", 64)
        ),
        "class_exists": _("Class {name} already exists.").format(name=error.details.get("name")),
    }
    return problems.get(error.code, _("That did not work. Please check and try again."))


async def new_class(
    message: Message, command: CommandObject, session: AsyncSession, person: Person
) -> None:
    try:
        school_class = await create_class(
            session, _school_of(person, Role.ADMIN), command.args or "", actor_id=person.id
        )
    except SchoolError as problem:
        await message.answer(_school_problem(problem))
        return
    await session.commit()
    await message.answer(
        _("Class {name} created. Add students with /addstudent {name} NAME.").format(
            name=school_class.name
        )
    )


async def show_classes(message: Message, session: AsyncSession, person: Person) -> None:
    role = Role.ADMIN if schools_where(person, Role.ADMIN) else Role.TEACHER
    classes = await list_classes(session, _school_of(person, role))
    if not classes:
        await message.answer(_("No classes yet. Create one with /newclass NAME."))
        return
    lines = [_("Classes:")] + [f"• {c.name}" for c in classes]
    await message.answer("\n".join(lines))


async def new_student(
    message: Message, command: CommandObject, session: AsyncSession, person: Person, bot: Bot
) -> None:
    class_name, _sep, student_name = (command.args or "").strip().partition(" ")
    if not class_name or not student_name.strip():
        await message.answer(_("Usage: /addstudent CLASS NAME, e.g. /addstudent 3A Wang Fang"))
        return
    school_id = _school_of(person, Role.ADMIN)
    school_class = await find_class(session, school_id, class_name)
    if school_class is None:
        await message.answer(
            _("There is no class {name}. /classes lists them.").format(name=class_name)
        )
        return
    try:
        student = await add_student(session, school_class, student_name, actor_id=person.id)
    except SchoolError as problem:
        await message.answer(_school_problem(problem))
        return
    _invite, code = await issue_invite(
        session, school_id, InviteKind.GUARDIAN, student_id=student.id, actor_id=person.id
    )
    link = await create_start_link(bot, code)
    await session.commit()
    await message.answer(
        _(
            "{child} added to {class_name}. Give this one-time link to a parent; it expires "
            "in 30 days:\n{link}"
        ).format(child=student.full_name, class_name=school_class.name, link=link)
    )


async def invite_teacher(message: Message, session: AsyncSession, person: Person, bot: Bot) -> None:
    _invite, code = await issue_invite(
        session, _school_of(person, Role.ADMIN), InviteKind.TEACHER, actor_id=person.id
    )
    link = await create_start_link(bot, code)
    await session.commit()
    await message.answer(
        _("A one-time invite link for a teacher; it expires in 30 days:\n{link}").format(link=link)
    )


async def refuse_without_role(message: Message) -> None:
    await message.answer(_("Sorry, this command is for school staff. /help shows what you can do."))


def build_router() -> Router:
    """The admin router; a new one for every Dispatcher."""
    router = Router(name="admin")
    router.message.filter(F.chat.type == "private")
    router.message.register(new_class, Command("newclass"), HasRole(Role.ADMIN))
    router.message.register(show_classes, Command("classes"), HasRole(Role.ADMIN, Role.TEACHER))
    router.message.register(new_student, Command("addstudent"), HasRole(Role.ADMIN))
    router.message.register(invite_teacher, Command("invite_teacher"), HasRole(Role.ADMIN))
    router.message.register(refuse_without_role, Command(*ADMIN_COMMANDS, "classes"))
    return router
