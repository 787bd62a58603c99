"""Honouring Telegram's flood control for interactive replies.

A reply that meets 429 waits ``retry_after`` and is sent again, a bounded number of times and
only for short waits: a person is waiting for the answer. Bulk sending (notices) paces itself
instead and never relies on this.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import Response, TelegramMethod

log = logging.getLogger(__name__)


class RetryAfterMiddleware(BaseRequestMiddleware):
    """Waits out short flood-control pauses and tries again."""

    def __init__(self, *, attempts: int = 3, longest_wait: float = 10.0) -> None:
        self.attempts = attempts
        self.longest_wait = longest_wait

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        for attempt in range(1, self.attempts + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as flood:
                if attempt == self.attempts or flood.retry_after > self.longest_wait:
                    raise
                log.info(
                    "%s hit flood control; retrying in %ss",
                    type(method).__name__,
                    flood.retry_after,
                )
                await asyncio.sleep(flood.retry_after)
        raise AssertionError("unreachable")  # pragma: no cover
