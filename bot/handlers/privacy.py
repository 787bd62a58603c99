"""/privacy: what is stored, who sees it, how long; /forget_me: delete it."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.texts import privacy_notice
from campus.models import Person
from campus.services.privacy import forget_person


class ForgetChoice(CallbackData, prefix="forget"):
    confirm: bool


async def show_privacy(message: Message) -> None:
    await message.answer(privacy_notice())


async def ask_to_forget(message: Message) -> None:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Yes, delete my data"), callback_data=ForgetChoice(confirm=True))
    builder.button(text=_("Cancel"), callback_data=ForgetChoice(confirm=False))
    builder.adjust(1)
    await message.answer(
        _(
            "This deletes your name, your links to your children and the questions you "
            "asked. You will no longer receive the school's notices here.\n\n"
            "Records the school must keep as evidence (which notices were sent to you and "
            "when you acknowledged them) stay, without your name.\n\n"
            "Delete your data?"
        ),
        reply_markup=builder.as_markup(),
    )


async def forget_chosen(
    query: CallbackQuery, callback_data: ForgetChoice, session: AsyncSession, person: Person | None
) -> None:
    if person is None or not isinstance(query.message, Message):
        await query.answer()
        return
    if not callback_data.confirm:
        await query.message.edit_text(_("Nothing was deleted."))
        await query.answer()
        return
    report = await forget_person(session, person)
    await session.commit()
    await query.message.edit_text(
        _(
            "Your personal data has been deleted: {children} child link(s) and {questions} "
            "question(s). To use SafeCampus again, open a new invite link from the school."
        ).format(children=report.children_unlinked, questions=report.questions_deleted)
    )
    await query.answer()


def build_router() -> Router:
    """The privacy router."""
    router = Router(name="privacy")
    router.message.register(show_privacy, Command("privacy"))
    router.message.register(ask_to_forget, Command("forget_me"), F.chat.type == "private")
    router.callback_query.register(forget_chosen, ForgetChoice.filter())
    return router
