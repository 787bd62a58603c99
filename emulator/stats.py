"""Bookkeeping: calls per method, errors answered, and duplicate messages."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .models import JSON


@dataclass(frozen=True)
class Duplicate:
    """The same text (or caption) sent by a bot to the same chat more than once."""

    bot_id: int
    chat_id: int
    text: str
    count: int

    def to_json(self) -> JSON:
        """A description for the control API."""
        return {
            "bot_id": self.bot_id,
            "chat_id": self.chat_id,
            "text": self.text,
            "count": self.count,
        }


class Stats:
    """Counters over every Bot API call the emulator answered.

    ``calls`` and ``errors`` are keyed by the method's canonical name (``"sendMessage"``,
    whatever case the client used); ``errors`` by ``"<method>:<error_code>"``.
    """

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.messages_sent = 0
        self._texts: Counter[tuple[int, int, str]] = Counter()

    def record_call(self, method: str) -> None:
        """Count one call of ``method``."""
        self.calls[method] += 1

    def record_error(self, method: str, error_code: int) -> None:
        """Count one error answer."""
        self.errors[f"{method}:{error_code}"] += 1

    def record_message(self, bot_id: int, chat_id: int, text: str | None) -> None:
        """Count one message a bot sent, by its text, to find duplicates."""
        self.messages_sent += 1
        if text:
            self._texts[(bot_id, chat_id, text)] += 1

    def duplicates(self) -> list[Duplicate]:
        """Every text a bot sent to the same chat more than once, most repeated first."""
        found = [
            Duplicate(bot_id, chat_id, text, count)
            for (bot_id, chat_id, text), count in self._texts.items()
            if count > 1
        ]
        return sorted(found, key=lambda duplicate: -duplicate.count)

    @property
    def duplicate_count(self) -> int:
        """How many sends were repeats of an earlier one (a text sent 3 times counts 2)."""
        return sum(count - 1 for count in self._texts.values() if count > 1)

    def reset(self) -> None:
        """Forget everything counted so far."""
        self.calls.clear()
        self.errors.clear()
        self.messages_sent = 0
        self._texts.clear()

    def to_json(self) -> JSON:
        """A snapshot for the control API."""
        return {
            "calls": dict(self.calls),
            "errors": dict(self.errors),
            "messages_sent": self.messages_sent,
            "duplicate_count": self.duplicate_count,
            "duplicates": [duplicate.to_json() for duplicate in self.duplicates()],
        }
