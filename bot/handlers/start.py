"""/start, with or without an invite code from a deep link."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.keyboards import JoinAnswer, join_keyboard
from bot.texts import categories_text, help_for, invite_problem
from campus.models import InviteKind, Person, Role
from campus.services.invites import (
    InviteError,
    InviteView,
    check_attempts,
    inspect_invite,
    record_failed_attempt,
    redeem_invite,
)

MAX_CODE_LENGTH = 64


async def start_with_invite(
    message: Message, command: CommandObject, session: AsyncSession, person: Person
) -> None:
    code = (command.args or "").strip()
    if len(code) > MAX_CODE_LENGTH:
        await _refuse(message, session, person, InviteError("unknown"))
        return
    try:
        await check_attempts(session, person.telegram_user_id or 0)
        view = await inspect_invite(session, code)
    except InviteError as problem:
        await _refuse(message, session, person, problem)
        return
    if view.invite.kind == InviteKind.GUARDIAN:
        await message.answer(_confirm_child_text(view), reply_markup=join_keyboard(code))
        return
    view = await redeem_invite(session, code, person)
    await session.commit()
    if view.invite.kind == InviteKind.ADMIN_CLAIM:
        text = _("You are now the administrator of {school}.").format(school=view.school.name)
        await message.answer(text + "\n\n" + help_for(frozenset({Role.ADMIN})))
    elif view.invite.kind == InviteKind.EXPERT:
        await message.answer(_expert_welcome(view) + "\n\n" + help_for(frozenset({Role.EXPERT})))
    else:
        text = _("Welcome! You are now a teacher at {school}.").format(school=view.school.name)
        await message.answer(text + "\n\n" + help_for(frozenset({Role.TEACHER})))


def _expert_welcome(view: InviteView) -> str:
    categories = (view.invite.details or {}).get("categories", [])
    return _("You are now an expert for {categories} at {school}.").format(
        categories=categories_text(categories), school=view.school.name
    )


async def _refuse(
    message: Message, session: AsyncSession, person: Person, problem: InviteError
) -> None:
    # Every failed code counts towards the limit, so codes cannot be guessed in bulk.
    if problem.code != "too_many_attempts":
        await record_failed_attempt(session, person.telegram_user_id or 0)
    await message.answer(invite_problem(problem.code))


def _confirm_child_text(view: InviteView) -> str:
    assert view.student is not None and view.school_class is not None
    return _(
        "This invite links you to:\n\n{child}, class {class_name}, {school}\n\nIs this your child?"
    ).format(
        child=view.student.full_name, class_name=view.school_class.name, school=view.school.name
    )


async def answer_join(
    query: CallbackQuery, callback_data: JoinAnswer, session: AsyncSession, person: Person | None
) -> None:
    if person is None or not isinstance(query.message, Message):
        await query.answer()
        return
    if not callback_data.accept:
        await query.message.edit_text(
            _(
                "Nothing was linked. If the name or class is wrong, please tell your child's "
                "teacher."
            )
        )
        await query.answer()
        return
    try:
        await check_attempts(session, query.from_user.id)
        view = await redeem_invite(session, callback_data.code, person)
        await session.commit()
    except InviteError as problem:
        if problem.code != "too_many_attempts":
            await record_failed_attempt(session, query.from_user.id)
        await query.message.edit_text(invite_problem(problem.code))
        await query.answer()
        return
    assert view.student is not None and view.school_class is not None
    await query.message.edit_text(
        _(
            "Done. You will receive notices about {child} ({class_name}) here.\n\n"
            "You can also write a question at any time. /help shows what I can do."
        ).format(child=view.student.full_name, class_name=view.school_class.name)
    )
    await query.answer(_("Linked"))


async def start_plain(message: Message, roles: frozenset[Role]) -> None:
    greeting = _("Welcome to SafeCampus!") if not roles else _("Welcome back!")
    await message.answer(greeting + "\n\n" + help_for(roles))


def build_router() -> Router:
    """The start router; a new one for every Dispatcher."""
    router = Router(name="start")
    router.message.filter(F.chat.type == "private")
    router.message.register(start_with_invite, CommandStart(deep_link=True))
    router.callback_query.register(answer_join, JoinAnswer.filter())
    router.message.register(start_plain, CommandStart())
    return router
