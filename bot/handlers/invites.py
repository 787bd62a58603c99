"""Guardian invite sheets from the chat: ``/invites CLASS`` sends the slips to print (PDF) and
the same invites as a table (CSV); ``/revoke_invites NUMBER`` revokes a student's unused
guardian invites once the administrator confirms."""

from __future__ import annotations

import asyncio

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.filters import HasRole
from bot.handlers.admin import refuse_admin_command
from bot.texts import admin_only_button
from campus.invite_sheet import SLIPS_PER_PAGE, render_csv, render_pdf
from campus.models import Person, Role, Student
from campus.services.guardian_invites import (
    GuardianInviteError,
    GuardianSheet,
    issue_guardian_sheet,
    revoke_guardian_invites,
)
from campus.services.people import schools_where
from campus.services.schools import find_class, find_student

FILE_STEM_LIMIT = 40


class RevokeInvites(CallbackData, prefix="revinv"):
    """The answer to "revoke this student's unused invites?"."""

    student: int
    confirm: bool


def revoke_keyboard(student_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("Revoke the invites"), callback_data=RevokeInvites(student=student_id, confirm=True)
    )
    builder.button(text=_("Cancel"), callback_data=RevokeInvites(student=student_id, confirm=False))
    builder.adjust(1)
    return builder.as_markup()


def _file_stem(class_name: str) -> str:
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in class_name)
    return stem[:FILE_STEM_LIMIT] or "class"


def _render(sheet: GuardianSheet, bot_username: str) -> tuple[bytes, bytes]:
    return render_pdf(sheet, bot_username), render_csv(sheet, bot_username)


async def send_sheet(
    message: Message, command: CommandObject, session: AsyncSession, person: Person, bot: Bot
) -> None:
    class_name = (command.args or "").strip()
    if not class_name:
        await message.answer(_("Usage: /invites CLASS, e.g. /invites 3A"))
        return
    school_id = schools_where(person, Role.ADMIN)[0]
    school_class = await find_class(session, school_id, class_name)
    if school_class is None:
        await message.answer(
            _("There is no class {name}. /classes lists them.").format(name=class_name)
        )
        return
    sheet = await issue_guardian_sheet(
        session, school_id, class_id=school_class.id, actor_id=person.id
    )
    if not sheet.slips:
        await message.answer(
            _(
                "No invites to print for {class_name}: every guardian has joined, or the class "
                "has no students yet."
            ).format(class_name=school_class.name)
        )
        return
    username = (await bot.me()).username or ""
    # A class's slips take a moment to draw: keep the other chats moving meanwhile.
    pdf, csv = await asyncio.to_thread(_render, sheet, username)
    await session.commit()
    stem = _file_stem(school_class.name)
    await message.answer_document(
        BufferedInputFile(pdf, filename=f"invites-{stem}.pdf"),
        caption=_(
            "Invite slips for {class_name}: {count} (students: {students}). Print them, "
            "{per_page} to a page, and cut them apart. Only these slips work: earlier unused "
            "slips for the same guardians were cancelled."
        ).format(
            count=len(sheet.slips),
            students=sheet.students,
            class_name=school_class.name,
            per_page=SLIPS_PER_PAGE,
        ),
    )
    await message.answer_document(
        BufferedInputFile(csv, filename=f"invites-{stem}.csv"),
        caption=_("The same invites as a table (CSV), for the school office."),
    )


async def ask_to_revoke(
    message: Message, command: CommandObject, session: AsyncSession, person: Person
) -> None:
    number = (command.args or "").strip()
    if not number:
        await message.answer(_("Usage: /revoke_invites NUMBER, e.g. /revoke_invites S0001"))
        return
    student = await find_student(session, schools_where(person, Role.ADMIN)[0], number)
    if student is None:
        await message.answer(
            _(
                "There is no student with number {number} at your school. The numbers are in "
                "the roster (`safecampus roster export`)."
            ).format(number=number)
        )
        return
    await message.answer(
        _(
            "Revoke the unused invites for {child} ({class_name}, number {number})? Slips "
            "printed for this student stop working. Parents who already joined stay linked."
        ).format(
            child=student.full_name,
            class_name=student.school_class.name,
            number=student.student_number,
        ),
        reply_markup=revoke_keyboard(student.id),
    )


async def answer_revoke(
    query: CallbackQuery,
    callback_data: RevokeInvites,
    session: AsyncSession,
    person: Person | None,
) -> None:
    if not isinstance(query.message, Message):
        await query.answer()
        return
    # Checked again at the press: the button may be old, or the data forged.
    if person is None or not schools_where(person, Role.ADMIN):
        await query.answer(admin_only_button(), show_alert=True)
        return
    if not callback_data.confirm:
        await query.message.edit_text(_("Nothing was revoked."))
        await query.answer()
        return
    try:
        count = await revoke_guardian_invites(
            session, schools_where(person, Role.ADMIN)[0], callback_data.student, actor_id=person.id
        )
    except GuardianInviteError:  # a student of another school
        await query.answer(admin_only_button(), show_alert=True)
        return
    await session.commit()
    student = await session.get_one(Student, callback_data.student)
    if count:
        text = _(
            "Unused invites revoked for {child}: {count}. Their printed slips no longer work."
        ).format(count=count, child=student.full_name)
    else:
        text = _("{child} had no unused invites. Nothing changed.").format(child=student.full_name)
    await query.message.edit_text(text)
    await query.answer()


def build_router() -> Router:
    """The invite sheet router; a new one for every Dispatcher."""
    router = Router(name="invites")
    router.message.filter(F.chat.type == "private")
    router.message.register(send_sheet, Command("invites"), HasRole(Role.ADMIN))
    router.message.register(ask_to_revoke, Command("revoke_invites"), HasRole(Role.ADMIN))
    router.message.register(refuse_admin_command, Command("invites", "revoke_invites"))
    router.callback_query.register(answer_revoke, RevokeInvites.filter())
    return router
