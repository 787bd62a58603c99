"""Flood protection: a person who sends too much too fast is told once to slow down, then
ignored for a while. Other people are not affected.

The budget is a token bucket per Telegram user, kept in the process: with several processes
each keeps its own, which is good enough against a stuck client or a script.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update, User
from aiogram.utils.i18n import I18n

from bot.i18n import N_
from campus.services.people import language_from_telegram
from campus.settings import Language

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
Clock = Callable[[], float]
# Translated with the user's Telegram language: this runs before anything is looked up.
SLOW_DOWN = N_("Please slow down: I will answer again in a little while.")


@dataclass
class _Budget:
    tokens: float
    updated: float
    quiet_until: float = 0.0


class FloodGuard:
    """Decides whether a user's next update is handled: ``rate`` per second on average,
    ``burst`` at once; past that the user is muted for ``mute_seconds``."""

    def __init__(
        self,
        *,
        rate: float = 1.0,
        burst: int = 8,
        mute_seconds: float = 30.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.mute_seconds = mute_seconds
        self.clock = clock
        self._budgets: dict[int, _Budget] = {}

    def admit(self, user_id: int) -> bool | None:
        """True: handle it. False: the user just went over, warn them once. None: ignore."""
        now = self.clock()
        budget = self._budgets.get(user_id)
        if budget is None:
            budget = self._budgets[user_id] = _Budget(tokens=float(self.burst), updated=now)
        if now < budget.quiet_until:
            return None
        budget.tokens = min(self.burst, budget.tokens + (now - budget.updated) * self.rate)
        budget.updated = now
        if budget.tokens >= 1.0:
            budget.tokens -= 1.0
            return True
        budget.quiet_until = now + self.mute_seconds
        budget.tokens = float(self.burst)
        self._forget_idle(now)
        return False

    def _forget_idle(self, now: float) -> None:
        idle = [
            user_id
            for user_id, budget in self._budgets.items()
            if budget.quiet_until < now and now - budget.updated > self.burst / self.rate
        ]
        for user_id in idle:
            del self._budgets[user_id]


class ThrottlingMiddleware(BaseMiddleware):
    """Applies a FloodGuard to every update before any database work is done."""

    def __init__(self, guard: FloodGuard, i18n: I18n, default_language: Language) -> None:
        self.guard = guard
        self.i18n = i18n
        self.default_language = default_language

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None:
            return await handler(event, data)
        verdict = self.guard.admit(user.id)
        if verdict:
            return await handler(event, data)
        assert isinstance(event, Update)
        if verdict is False:
            locale = language_from_telegram(user.language_code, self.default_language).value
            text = self.i18n.gettext(SLOW_DOWN, locale=locale)
            if event.message is not None:
                await event.message.answer(text)
            elif event.callback_query is not None:
                await event.callback_query.answer(text, show_alert=True)
        elif event.callback_query is not None:
            await event.callback_query.answer()
        return None
