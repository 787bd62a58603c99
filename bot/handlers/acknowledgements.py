"""The acknowledge button on notices and reminders."""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.notice_messages import AckPress, acknowledged_line, local_time
from campus.services.notices import AckOutcome, acknowledge

log = logging.getLogger(__name__)


async def press_acknowledge(
    query: CallbackQuery, callback_data: AckPress, session: AsyncSession
) -> None:
    message = query.message
    if not isinstance(message, Message):
        await query.answer(_("This message is too old. Please use the newest one."))
        return
    result = await acknowledge(
        session,
        callback_data.delivery,
        callback_data.version,
        telegram_user_id=query.from_user.id,
        chat_id=message.chat.id,
        message_id=message.message_id,
    )
    if result.outcome == AckOutcome.REFUSED:
        await query.answer(_("This button is not for you."), show_alert=True)
        return
    if result.outcome == AckOutcome.TRY_AGAIN:
        await query.answer(_("One moment, please: try again in a few seconds."))
        return
    if result.outcome == AckOutcome.STALE:
        await query.answer(
            _("This notice has been updated. Please confirm the newest message about it."),
            show_alert=True,
        )
        return
    assert result.acked_at is not None
    if result.outcome == AckOutcome.ALREADY:
        await query.answer(
            _("Already acknowledged at {time}. Thank you!").format(
                time=local_time(result.acked_at, result.timezone)
            )
        )
        return
    await session.commit()
    # The press is recorded: say so first. Showing the time on the message is a courtesy
    # that Telegram's flood control may refuse during a busy broadcast.
    await query.answer(_("Thank you!"))
    try:
        await message.edit_text(
            f"{message.text or ''}\n\n{acknowledged_line(result.acked_at, result.timezone)}",
            reply_markup=None,
        )
    except TelegramAPIError as problem:
        log.info(
            "acknowledgement %s recorded; the message was not edited: %s",
            message.message_id,
            problem,
        )


def build_router() -> Router:
    """The acknowledgement router; a new one for every Dispatcher."""
    router = Router(name="acknowledgements")
    router.callback_query.register(press_acknowledge, AckPress.filter())
    return router
