"""Who decides how to answer a question: the built-in engine, or Rasa in front of it.

The bot asks ``await nlu.ask(text, lang)`` and gets the engine's ``Decision``. With the
built-in backend that is ``FaqEngine.ask`` in a worker thread. With Rasa
(``SAFECAMPUS_NLU=rasa``):

1. the crisis detector runs first; a message it flags is decided by the engine alone and
   never sent to Rasa, so a crisis reply never waits for, or depends on, the server;
2. otherwise Rasa's ``/model/parse`` and the engine run side by side (the engine in a
   thread, the HTTP call on the event loop); a reading that passes ``RasaThresholds`` is
   answered, anything else leaves the engine's decision (``rasa_nlu.combine``);
3. when Rasa is unavailable (no connection, timeout, HTTP error, malformed reply, a key
   naming no current entry) the engine's decision is used. One warning is logged when
   such an outage starts and one line when Rasa answers again, not one per question.
   During an outage Rasa is tried again at most every ``retry_after_s`` seconds; the
   questions in between go to the engine directly, so a hung server does not make every
   parent wait for the timeout.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from knowledge_base.crisis import detect_crisis
from knowledge_base.engine import Decision, FaqEngine
from knowledge_base.knowledge import KnowledgeBase
from knowledge_base.rasa_nlu import RasaNlu, RasaReading, RasaThresholds, RasaUnavailable, combine

logger = logging.getLogger(__name__)


class Nlu(Protocol):
    """What the bot needs from an NLU backend."""

    async def ask(self, question: str, lang: str | None = None) -> Decision:
        """Decide how to answer ``question`` (``lang`` en/zh, detected when None)."""
        ...

    async def close(self) -> None:
        """Release connections; the backend is not used afterwards."""
        ...


class BuiltinNlu:
    """The built-in retriever and policy, off the event loop."""

    def __init__(self, engine: FaqEngine) -> None:
        self.engine = engine

    async def ask(self, question: str, lang: str | None = None) -> Decision:
        """``FaqEngine.ask`` in a worker thread."""
        return await asyncio.to_thread(self.engine.ask, question, lang)

    async def close(self) -> None:
        """Nothing to release."""


class RasaBackedNlu:
    """Rasa's response selector in front of the built-in engine, with the engine's crisis
    detection first and the engine as the fallback (see the module docstring)."""

    def __init__(
        self,
        engine: FaqEngine,
        rasa: RasaNlu,
        thresholds: RasaThresholds | None = None,
        *,
        retry_after_s: float = 30.0,
    ) -> None:
        self.engine = engine
        self.rasa = rasa
        self.thresholds = thresholds or RasaThresholds()
        self.retry_after_s = retry_after_s
        self._keys_for: KnowledgeBase | None = None
        self._outage: str | None = None
        self._failed_at = 0.0

    async def ask(self, question: str, lang: str | None = None) -> Decision:
        """The decision for ``question``: Rasa's confident answer or the engine's."""
        text = question.strip()
        if (
            not text
            or (self.engine.detect_crises and detect_crisis(text) is not None)
            or self._pausing()
        ):
            return await asyncio.to_thread(self.engine.ask, text, lang)
        self._follow_reloads()
        async with asyncio.TaskGroup() as group:
            reading = group.create_task(self._read(text))
            decision = group.create_task(asyncio.to_thread(self.engine.ask, text, lang))
        accepted = reading.result()
        if accepted is not None and not self.thresholds.accepts(accepted):
            accepted = None
        return combine(accepted, decision.result())

    async def close(self) -> None:
        """Close the HTTP session to Rasa."""
        await self.rasa.close()

    @property
    def available(self) -> bool:
        """False from a failed call until the next successful one."""
        return self._outage is None

    def _pausing(self) -> bool:
        """True during an outage until ``retry_after_s`` have passed since the last try."""
        return self._outage is not None and time.monotonic() - self._failed_at < self.retry_after_s

    async def _read(self, text: str) -> RasaReading | None:
        try:
            reading = await self.rasa.parse(text)
        except RasaUnavailable as problem:
            self._failed_at = time.monotonic()
            if self._outage is None:
                logger.warning(
                    "Rasa NLU at %s unavailable (%s): answering with the built-in retriever "
                    "until it answers again (retrying every %g s)",
                    self.rasa.url,
                    problem,
                    self.retry_after_s,
                )
            self._outage = str(problem)
            return None
        if self._outage is not None:
            logger.info("Rasa NLU at %s answers again", self.rasa.url)
            self._outage = None
        return reading

    def _follow_reloads(self) -> None:
        """Map Rasa keys to the entries currently loaded (``kb reload`` swaps them)."""
        knowledge = self.engine.knowledge_base
        if knowledge is not self._keys_for:
            self.rasa.use_entries(knowledge.ids)
            self._keys_for = knowledge
