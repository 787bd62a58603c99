"""/duty: an expert pauses, resumes, or sets the hours they take questions."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.filters import HasRole
from campus.models import Expert, Person, Role
from campus.services.staff import (
    StaffError,
    own_expert_profile,
    parse_duty_hours,
    set_duty_hours,
    set_on_duty,
)


class DutyToggle(CallbackData, prefix="duty"):
    """Pause (``on=False``) or resume (``on=True``)."""

    on: bool


def duty_text(expert: Expert) -> str:
    state = _("on duty") if expert.on_duty else _("paused: no questions are offered to you")
    hours = expert.duty_hours or _("at any time")
    return "\n".join(
        [
            _("You are {state}.").format(state=state),
            _("Hours you take questions (school time): {hours}").format(hours=hours),
            "",
            _("/duty 08:00-22:00 sets your hours; /duty always takes questions at any time."),
        ]
    )


def duty_keyboard(expert: Expert) -> InlineKeyboardMarkup:
    button = (
        InlineKeyboardButton(text=_("⏸ Pause"), callback_data=DutyToggle(on=False).pack())
        if expert.on_duty
        else InlineKeyboardButton(text=_("▶️ Resume"), callback_data=DutyToggle(on=True).pack())
    )
    return InlineKeyboardMarkup(inline_keyboard=[[button]])


async def show_or_set_duty(
    message: Message, command: CommandObject, session: AsyncSession, person: Person
) -> None:
    try:
        if command.args:
            expert = await set_duty_hours(session, person, parse_duty_hours(command.args))
            await session.commit()
        else:
            expert = await own_expert_profile(session, person)
    except StaffError as problem:
        if problem.code == "bad_hours":
            await message.answer(
                _("Please give hours as HH:MM-HH:MM, e.g. /duty 08:00-22:00, or /duty always.")
            )
        else:
            await message.answer(_("You have no expert profile. Ask the school administrator."))
        return
    await message.answer(duty_text(expert), reply_markup=duty_keyboard(expert))


async def toggle_duty(
    query: CallbackQuery, callback_data: DutyToggle, session: AsyncSession, person: Person | None
) -> None:
    if person is None or not isinstance(query.message, Message):
        await query.answer()
        return
    try:
        expert = await set_on_duty(session, person, callback_data.on)
    except StaffError:
        await query.answer(_("You have no expert profile."), show_alert=True)
        return
    await session.commit()
    await query.message.edit_text(duty_text(expert), reply_markup=duty_keyboard(expert))
    await query.answer()


async def refuse_duty(message: Message) -> None:
    await message.answer(_("/duty is for the school's experts. Nothing was changed."))


async def refuse_duty_button(query: CallbackQuery) -> None:
    await query.answer(
        _("Only the school's experts can use this button. Nothing was changed."), show_alert=True
    )


def build_router() -> Router:
    """The expert's own duty settings; a new router for every Dispatcher."""
    router = Router(name="expert_duty")
    router.message.filter(F.chat.type == "private")
    router.message.register(show_or_set_duty, Command("duty"), HasRole(Role.EXPERT))
    router.message.register(refuse_duty, Command("duty"))
    router.callback_query.register(toggle_duty, DutyToggle.filter(), HasRole(Role.EXPERT))
    router.callback_query.register(refuse_duty_button, DutyToggle.filter())
    return router
