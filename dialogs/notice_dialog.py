"""What the notice dialogs (/notify, /edit_notice) have in common: steps shown as screens,
Back and Cancel, and the end of a dialog.

Plain aiogram FSM. Each step is a screen: a text and inline buttons. A button press edits
the screen in place; a typed answer gets the next screen as a new message. Every button
carries the dialog's token and the screen's number, so a button of a finished dialog or of
an earlier screen changes nothing and is answered politely (callback data can also be
forged). The person's right to send is checked on every press and every typed answer, and
again by ``publish_notice`` / ``revise_notice``.
"""

from __future__ import annotations

import abc
import contextlib
import secrets
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from campus.models import Person
from dialogs import notice_texts as texts
from dialogs.notice_keyboards import Screen, keyboard


class TypedText(NamedTuple):
    """A step answered by typing a text: its length limit and the step that follows."""

    limit: int
    following: str


async def edit_pressed(
    query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None
) -> None:
    """Replace the message whose button was pressed (a repeated press is not an error)."""
    if not isinstance(query.message, Message):
        return
    try:
        await query.message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as problem:
        if "message is not modified" not in str(problem):
            raise


async def end_pressed(query: CallbackQuery, text: str) -> None:
    """Replace the pressed screen by a last word without buttons."""
    await edit_pressed(query, text, None)
    await query.answer()


async def remove_buttons(bot: Bot, chat_id: int, message_id: int | None) -> None:
    """Take the buttons off an earlier screen, which has been answered by typing."""
    if message_id is None:
        return
    with contextlib.suppress(TelegramBadRequest):  # gone, or already without buttons
        await bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id)


class NoticeDialog(abc.ABC):
    """One update's view of a dialog: its state, the person, and how steps are shown.

    A subclass names its steps (``fsm_state``), draws them (``screen``), says whether the
    person may still go on (``allowed``) and acts on presses and typed answers.
    """

    #: Kept in the dialog's data to find the dialog again on the next update.
    name: ClassVar[str]

    def __init__(
        self,
        state: FSMContext,
        session: AsyncSession,
        person: Person,
        i18n: I18n,
        bot: Bot,
        outbox_queued: Callable[[], None] | None = None,
    ) -> None:
        self.state = state
        self.session = session
        self.person = person
        self.i18n = i18n
        self.bot = bot
        # Wakes the delivery worker after a commit that queued messages.
        self.outbox_queued = outbox_queued

    @abc.abstractmethod
    def fsm_state(self, step: str) -> State: ...

    @abc.abstractmethod
    async def screen(self, step: str, data: dict[str, Any]) -> Screen: ...

    @abc.abstractmethod
    async def allowed(self, data: dict[str, Any]) -> bool: ...

    @abc.abstractmethod
    def refused(self) -> str: ...

    @abc.abstractmethod
    async def press(self, query: CallbackQuery, action: str, value: str) -> None: ...

    @abc.abstractmethod
    async def typed(self, message: Message, text: str) -> None: ...

    @property
    def lang(self) -> str:
        return self.person.language

    async def open(self, message: Message, step: str, **data: Any) -> None:
        """Start the dialog (replacing any other one) at ``step``."""
        await self.state.clear()
        token = secrets.token_hex(3)
        await self.state.set_data(
            {"dialog": self.name, "token": token, "screen": 0, "history": [], **data}
        )
        await self.show(message, step)

    async def show(
        self, target: Message | CallbackQuery, step: str, *, push: bool = True, note: str = ""
    ) -> None:
        """Show ``step``: in place of the pressed screen, or as a new message after a typed
        answer. ``push`` remembers the current step for Back."""
        data = await self.state.get_data()
        current = data.get("step")
        if current != step:
            if push and current:
                data["history"] = [*data["history"], current]
            data["screen"] += 1
        data["step"] = step
        await self.state.set_state(self.fsm_state(step))
        await self.state.set_data(data)
        screen = await self.screen(step, data)
        text = f"{note}\n\n{screen.text}" if note else screen.text
        markup = keyboard(screen, data["token"], data["screen"])
        if isinstance(target, CallbackQuery) and screen.before is None:
            await edit_pressed(target, text, markup)
            return
        message = target.message if isinstance(target, CallbackQuery) else target
        if not isinstance(message, Message):
            return
        answered = message.message_id if isinstance(target, CallbackQuery) else data.get("message")
        await remove_buttons(self.bot, message.chat.id, answered)
        if screen.before:
            await message.answer(screen.before)
        sent = await message.answer(text, reply_markup=markup)
        await self.state.update_data(message=sent.message_id)

    async def go_to(self, query: CallbackQuery, step: str) -> None:
        """Show ``step`` after a press and answer the press."""
        await self.show(query, step)
        await query.answer()

    async def refresh(self, query: CallbackQuery) -> None:
        """Show the current step again (after a toggle), keeping its buttons valid."""
        data = await self.state.get_data()
        await self.show(query, data["step"], push=False)

    async def back(self, query: CallbackQuery) -> None:
        data = await self.state.get_data()
        history = list(data["history"])
        if not history:
            await query.answer()
            return
        step = history.pop()
        await self.state.update_data(history=history)
        await self.show(query, step, push=False)
        await query.answer()

    async def cancel(self, query: CallbackQuery) -> None:
        await self.state.clear()
        await end_pressed(query, texts.cancelled())

    async def store_typed_text(
        self, message: Message, key: str, text: str, step: TypedText
    ) -> None:
        """Keep a typed text under ``key`` and go on, unless it is too long."""
        if await refuse_if_too_long(message, text, step.limit):
            return
        await self.state.update_data({key: text})
        await self.show(message, step.following)

    async def commit_and_deliver(self) -> None:
        """Commit what was published and wake the delivery worker."""
        await self.session.commit()
        if self.outbox_queued is not None:
            self.outbox_queued()


async def refuse_if_too_long(message: Message, text: str, limit: int) -> bool:
    """Answer that ``text`` is too long if it is; True when it was refused."""
    if len(text) <= limit:
        return False
    await message.answer(texts.too_long(len(text), limit))
    return True
