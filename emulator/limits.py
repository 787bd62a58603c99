"""Telegram-like flood limits: per chat, per group per minute, and global, per bot.

Telegram documents "about one message per second in a chat", "no more than 20 messages
per minute in the same group" and "about 30 messages per second" overall; past them it
answers ``429 Too Many Requests: retry after N``. Sending methods (sendMessage, sendPhoto,
sendDocument, ...) count against all three limits. Edits count against the global limit
only: Telegram throttles them too, but a bot that edits a message right after sending it
(an acknowledged notice, a pressed button) must not be punished by the per-chat limit.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .errors import too_many_requests


@dataclass(frozen=True)
class EmulatorLimits:
    """Flood limits. Set a limit to None to switch it off, or ``enabled=False`` for all."""

    per_chat_per_s: float | None = 1.0
    """Messages per second into one chat (a token bucket refilled at this rate)."""
    per_chat_burst: int = 3
    """How many messages a quiet chat accepts at once before the per-chat rate applies."""
    group_per_min: int | None = 20
    """Messages per sliding minute into one group or supergroup."""
    global_per_s: float | None = 30.0
    """Messages per second across all chats of one bot (burst: one second's worth)."""
    enabled: bool = True

    @classmethod
    def off(cls) -> EmulatorLimits:
        """No flood limits at all."""
        return cls(enabled=False)


class _TokenBucket:
    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated = now

    def wait_time(self, now: float) -> float:
        """Seconds until one token is available (0 when one is)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1


class _SlidingWindow:
    def __init__(self, size: int, window: float) -> None:
        self.size = size
        self.window = window
        self.stamps: deque[float] = deque()

    def wait_time(self, now: float) -> float:
        while self.stamps and self.stamps[0] <= now - self.window:
            self.stamps.popleft()
        return 0.0 if len(self.stamps) < self.size else self.stamps[0] + self.window - now

    def take(self, now: float) -> None:
        self.stamps.append(now)


class RateLimiter:
    """Applies :class:`EmulatorLimits` to each bot's sends and edits."""

    def __init__(self, limits: EmulatorLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._chats: dict[tuple[int, int], _TokenBucket] = {}
        self._groups: dict[tuple[int, int], _SlidingWindow] = {}
        self._global: dict[int, _TokenBucket] = {}

    def reconfigure(self, limits: EmulatorLimits) -> None:
        """Switch to new limits, forgetting what was counted so far."""
        self.limits = limits
        self._chats.clear()
        self._groups.clear()
        self._global.clear()

    def acquire(self, bot_id: int, chat_id: int, *, is_group: bool, is_edit: bool = False) -> None:
        """Count one message, or raise the 429 Telegram would answer instead."""
        limits = self.limits
        if not limits.enabled:
            return
        now = self._clock()
        chat_bucket = group_window = None
        waits: list[float] = []
        if not is_edit and limits.per_chat_per_s:
            chat_bucket = self._chats.get((bot_id, chat_id))
            if chat_bucket is None:
                chat_bucket = _TokenBucket(
                    limits.per_chat_per_s, max(1, limits.per_chat_burst), now
                )
                self._chats[(bot_id, chat_id)] = chat_bucket
            waits.append(chat_bucket.wait_time(now))
        if not is_edit and is_group and limits.group_per_min:
            group_window = self._groups.setdefault(
                (bot_id, chat_id), _SlidingWindow(limits.group_per_min, 60.0)
            )
            waits.append(group_window.wait_time(now))
        global_bucket = None
        if limits.global_per_s:
            global_bucket = self._global.get(bot_id)
            if global_bucket is None:
                capacity = max(1.0, limits.global_per_s)
                global_bucket = _TokenBucket(limits.global_per_s, capacity, now)
                self._global[bot_id] = global_bucket
            waits.append(global_bucket.wait_time(now))
        wait = max(waits, default=0.0)
        if wait > 0:
            raise too_many_requests(max(1, math.ceil(wait)))
        if chat_bucket is not None:
            chat_bucket.take()
        if group_window is not None:
            group_window.take(now)
        if global_bucket is not None:
            global_bucket.take()
