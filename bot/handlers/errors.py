"""The central error handler: log with the update id, apologise in the user's language."""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ErrorEvent
from aiogram.utils.i18n import gettext as _

log = logging.getLogger(__name__)


async def apologise(event: ErrorEvent) -> None:
    update = event.update
    log.error("update %s failed: %r", update.update_id, event.exception, exc_info=event.exception)
    text = _("Sorry, something went wrong on our side. Please try again in a minute.")
    try:
        if update.message is not None:
            await update.message.answer(text)
        elif update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
    except TelegramAPIError:
        log.warning("could not tell the user about the failure of update %s", update.update_id)


def build_router() -> Router:
    """The errors router; a new one for every Dispatcher."""
    router = Router(name="errors")
    router.errors.register(apologise)
    return router
