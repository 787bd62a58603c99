"""The router of the notice dialogs: /notify (``dialogs.notify``) and /edit_notice N
(``dialogs.edit_notice``). It starts them, hands each button press and typed answer to the
dialog it belongs to, and answers presses of buttons that no longer count."""

from __future__ import annotations

from collections.abc import Callable

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.filters import HasRole
from campus.models import Person, Role
from dialogs import notice_texts as texts
from dialogs.edit_notice import EditNoticeDialog, on_edit_notice
from dialogs.notice_dialog import NoticeDialog, end_pressed
from dialogs.notice_keyboards import Action, DialogPress
from dialogs.notify import ComposeDialog, on_notify
from dialogs.states import ComposeNotice, EditNotice

#: The dialogs by the name kept in their data.
DIALOGS: dict[str, type[NoticeDialog]] = {
    ComposeDialog.name: ComposeDialog,
    EditNoticeDialog.name: EditNoticeDialog,
}

TYPED_STEPS = StateFilter(
    ComposeNotice.field,
    ComposeNotice.own_title,
    ComposeNotice.own_body,
    ComposeNotice.send_time,
    EditNotice.title,
    EditNotice.body,
    EditNotice.change_note,
)
ANY_STEP = StateFilter(ComposeNotice, EditNotice)


async def refuse_notice_commands(message: Message) -> None:
    await message.answer(texts.staff_only())


async def on_button(
    query: CallbackQuery,
    callback_data: DialogPress,
    state: FSMContext,
    session: AsyncSession,
    person: Person | None,
    i18n: I18n,
    bot: Bot,
    outbox_queued: Callable[[], None] | None = None,
) -> None:
    """A dialog button: acted on only if it is on the newest screen of the open dialog."""
    data = await state.get_data()
    if person is None or not data or data.get("token") != callback_data.d:
        await query.answer(texts.dialog_ended(), show_alert=True)
        return
    if callback_data.n != data.get("screen"):
        await query.answer(texts.earlier_screen(), show_alert=True)
        return
    dialog = DIALOGS[data["dialog"]](state, session, person, i18n, bot, outbox_queued)
    if not await dialog.allowed(data):
        await state.clear()
        await end_pressed(query, dialog.refused())
        return
    if callback_data.a == Action.CANCEL:
        await dialog.cancel(query)
    elif callback_data.a == Action.BACK:
        await dialog.back(query)
    else:
        await dialog.press(query, callback_data.a, callback_data.v)


async def on_typed_answer(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    bot: Bot,
) -> None:
    """A message sent at a step that asks for a text."""
    data = await state.get_data()
    if not data.get("token"):
        await state.clear()
        await message.answer(texts.dialog_ended())
        return
    # A typed answer never publishes, so nothing is queued for delivery.
    dialog = DIALOGS[data["dialog"]](state, session, person, i18n, bot)
    if not await dialog.allowed(data):
        await state.clear()
        await message.answer(dialog.refused())
        return
    text = (message.text or "").strip()
    if not text:
        await message.answer(texts.send_text_please())
        return
    await dialog.typed(message, text)


async def on_text_at_button_step(message: Message) -> None:
    await message.answer(texts.use_the_buttons())


async def on_cancel(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(texts.cancelled())


def build_router() -> Router:
    """The notice dialogs' router; a new one for every Dispatcher."""
    router = Router(name="compose")
    router.message.filter(F.chat.type == "private")
    staff = HasRole(Role.TEACHER, Role.ADMIN)
    router.message.register(on_notify, Command("notify"), staff)
    router.message.register(on_edit_notice, Command("edit_notice"), staff)
    router.message.register(refuse_notice_commands, Command("notify", "edit_notice"))
    router.message.register(on_cancel, Command("cancel"), ANY_STEP)
    not_a_command = ~F.text.startswith("/")
    router.message.register(on_typed_answer, TYPED_STEPS, F.text, not_a_command)
    router.message.register(on_typed_answer, TYPED_STEPS, ~F.text)
    router.message.register(on_text_at_button_step, ANY_STEP, not_a_command)
    router.callback_query.register(on_button, DialogPress.filter())
    return router
