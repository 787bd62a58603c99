"""School administration from the chat: classes, students, invites, and removing a student
or a guardian's link."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject, or_f
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.deep_linking import create_start_link
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.filters import HasRole
from bot.keyboards import GuardianRemoval, StudentRemoval
from bot.texts import admin_only_button, admin_only_command, no_name, relation_label
from campus.models import Guardianship, InviteKind, Person, Role, Student
from campus.services.invites import issue_invite
from campus.services.people import schools_where
from campus.services.schools import (
    SchoolError,
    add_student,
    create_class,
    find_class,
    find_student,
    get_guardianship,
    get_student,
    guardians_of,
    list_classes,
    remove_student,
    unlink_guardian,
)

ADMIN_COMMANDS = (
    "newclass",
    "addstudent",
    "invite_teacher",
    "kb_feedback",
    "kb_reload",
    "remove_student",
    "remove_guardian",
)
BUTTON_TEXT = 48


def school_of(person: Person, role: Role = Role.ADMIN) -> int:
    """The school where the person holds ``role`` (the first, if several)."""
    return schools_where(person, role)[0]


def short(text: str, limit: int = BUTTON_TEXT) -> str:
    """A name fit for a button: never empty, never too long."""
    text = text.strip() or no_name()
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def show_in_place(
    query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """Replace the message whose button was pressed; a second press on a button that
    changes nothing is not an error."""
    if not isinstance(query.message, Message):
        return
    try:
        await query.message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as problem:
        if "message is not modified" not in str(problem):
            raise


def _school_problem(error: SchoolError) -> str:
    problems = {
        "empty_name": _("Please add a name after the command."),
        "name_too_long": _("That name is too long (at most {limit} characters).").format(
            limit=error.details.get("limit", 64)
        ),
        "class_exists": _("Class {name} already exists.").format(name=error.details.get("name")),
        "unknown_student": _("That student is not at your school (any more). Nothing was changed."),
        "unknown_guardianship": _(
            "That guardian is not linked to a student of your school (any more). Nothing was "
            "changed."
        ),
    }
    return problems.get(error.code, _("That did not work. Please check and try again."))


async def new_class(
    message: Message, command: CommandObject, session: AsyncSession, person: Person
) -> None:
    try:
        school_class = await create_class(
            session, school_of(person), command.args or "", actor_id=person.id
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
    classes = await list_classes(session, school_of(person, role))
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
    school_id = school_of(person)
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
        + "\n\n"
        + _("Student number: {number}").format(number=student.student_number)
    )


async def invite_teacher(message: Message, session: AsyncSession, person: Person, bot: Bot) -> None:
    _invite, code = await issue_invite(
        session, school_of(person), InviteKind.TEACHER, actor_id=person.id
    )
    link = await create_start_link(bot, code)
    await session.commit()
    await message.answer(
        _("A one-time invite link for a teacher; it expires in 30 days:\n{link}").format(link=link)
    )


# --- removing a student or a guardian's link -----------------------------------------------


def _child(student: Student) -> str:
    return _("{child} ({class_name}, number {number})").format(
        child=student.full_name,
        class_name=student.school_class.name,
        number=student.student_number,
    )


def _guardian(link: Guardianship) -> str:
    return f"{short(link.guardian.full_name)} ({relation_label(link.relation)})"


async def _student_from_command(
    message: Message, command: CommandObject, session: AsyncSession, person: Person, usage: str
) -> Student | None:
    number = (command.args or "").strip()
    if not number:
        await message.answer(usage)
        return None
    student = await find_student(session, school_of(person), number)
    if student is None:
        await message.answer(
            _(
                "There is no student with number {number} at your school. A student's number "
                "is shown when they are added, and in the roster file."
            ).format(number=number)
        )
    return student


async def ask_to_remove_student(
    message: Message, command: CommandObject, session: AsyncSession, person: Person
) -> None:
    usage = _("Usage: /remove_student NUMBER, e.g. /remove_student S0001")
    student = await _student_from_command(message, command, session, person, usage)
    if student is None:
        return
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("Yes, remove"), callback_data=StudentRemoval(student=student.id, confirm=True)
    )
    builder.button(
        text=_("Cancel"), callback_data=StudentRemoval(student=student.id, confirm=False)
    )
    builder.adjust(1)
    await message.answer(
        _(
            "Remove {child} from the school?\n\n"
            "Their guardians' links are deleted and their unused invite links stop working. "
            "Notices already sent stay on record."
        ).format(child=_child(student)),
        reply_markup=builder.as_markup(),
    )


async def student_removal_chosen(
    query: CallbackQuery, callback_data: StudentRemoval, session: AsyncSession, person: Person
) -> None:
    if not callback_data.confirm:
        await show_in_place(query, _("Nothing was changed."))
        await query.answer()
        return
    school_id = school_of(person)
    try:
        student = await get_student(session, school_id, callback_data.student)
        removal = await remove_student(session, school_id, student.id, actor_id=person.id)
    except SchoolError as problem:
        await query.answer(_school_problem(problem), show_alert=True)
        return
    await session.commit()
    await show_in_place(
        query,
        _(
            "{child} was removed. Guardian links deleted: {guardians}. Unused invite links "
            "revoked: {invites}."
        ).format(
            child=_child(student),
            guardians=removal.guardians_unlinked,
            invites=removal.invites_revoked,
        ),
    )
    await query.answer()


async def offer_guardians(
    message: Message, command: CommandObject, session: AsyncSession, person: Person
) -> None:
    usage = _("Usage: /remove_guardian NUMBER, e.g. /remove_guardian S0001")
    student = await _student_from_command(message, command, session, person, usage)
    if student is None:
        return
    links = await guardians_of(session, school_of(person), student.id)
    if not links:
        await message.answer(_("Nobody is linked to {child}.").format(child=_child(student)))
        return
    builder = InlineKeyboardBuilder()
    for link in links:
        builder.button(
            text=_guardian(link), callback_data=GuardianRemoval(step="ask", link=link.id)
        )
    builder.adjust(1)
    await message.answer(
        _("Guardians linked to {child}. Whom do you want to unlink?").format(child=_child(student)),
        reply_markup=builder.as_markup(),
    )


async def guardian_removal_chosen(
    query: CallbackQuery, callback_data: GuardianRemoval, session: AsyncSession, person: Person
) -> None:
    if callback_data.step == "no":
        await show_in_place(query, _("Nothing was changed."))
        await query.answer()
        return
    school_id = school_of(person)
    try:
        link = await get_guardianship(session, school_id, callback_data.link)
        guardian, child = _guardian(link), _child(link.student)
        if callback_data.step == "yes":
            await unlink_guardian(session, school_id, link.id, actor_id=person.id)
    except SchoolError as problem:
        await query.answer(_school_problem(problem), show_alert=True)
        return
    if callback_data.step != "yes":
        await show_in_place(query, *_confirm_unlink(guardian, child, callback_data.link))
        await query.answer()
        return
    await session.commit()
    await show_in_place(
        query,
        _("{guardian} is no longer linked to {child}. They were not told.").format(
            guardian=guardian, child=child
        ),
    )
    await query.answer()


def _confirm_unlink(guardian: str, child: str, link_id: int) -> tuple[str, InlineKeyboardMarkup]:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Yes, unlink"), callback_data=GuardianRemoval(step="yes", link=link_id))
    builder.button(text=_("Cancel"), callback_data=GuardianRemoval(step="no", link=link_id))
    builder.adjust(1)
    text = _(
        "Unlink {guardian} from {child}?\n\n"
        "They will no longer receive notices about this child. SafeCampus does not tell them: "
        "if they should know, tell them yourself."
    ).format(guardian=guardian, child=child)
    return text, builder.as_markup()


# --- refusals ------------------------------------------------------------------------------


async def refuse_without_role(message: Message) -> None:
    await message.answer(_("Sorry, this command is for school staff. /help shows what you can do."))


async def refuse_admin_command(message: Message) -> None:
    await message.answer(admin_only_command())


async def refuse_button(query: CallbackQuery) -> None:
    await query.answer(admin_only_button(), show_alert=True)


def build_router() -> Router:
    """The admin router; a new one for every Dispatcher."""
    router = Router(name="admin")
    router.message.filter(F.chat.type == "private")
    admin = HasRole(Role.ADMIN)
    router.message.register(new_class, Command("newclass"), admin)
    router.message.register(show_classes, Command("classes"), HasRole(Role.ADMIN, Role.TEACHER))
    router.message.register(new_student, Command("addstudent"), admin)
    router.message.register(invite_teacher, Command("invite_teacher"), admin)
    router.message.register(ask_to_remove_student, Command("remove_student"), admin)
    router.message.register(offer_guardians, Command("remove_guardian"), admin)
    router.message.register(refuse_admin_command, Command(*ADMIN_COMMANDS))
    router.message.register(refuse_without_role, Command("classes"))
    router.callback_query.register(student_removal_chosen, StudentRemoval.filter(), admin)
    router.callback_query.register(guardian_removal_chosen, GuardianRemoval.filter(), admin)
    router.callback_query.register(
        refuse_button, or_f(StudentRemoval.filter(), GuardianRemoval.filter())
    )
    return router
