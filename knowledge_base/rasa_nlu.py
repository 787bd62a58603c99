"""Rasa NLU backend: ask a Rasa server which FAQ entry a question is about.

Enabled with ``SAFECAMPUS_NLU=rasa`` and ``SAFECAMPUS_RASA_URL`` (e.g.
``http://127.0.0.1:5005``, a server started with ``rasa run --enable-api`` on a model
trained from ``safecampus kb export-rasa``). ``RasaNlu.parse`` never raises for a
network or server problem: it returns None, and the caller answers with the built-in
retriever instead. How the bot uses it::

    decision_task = asyncio.to_thread(engine.ask, text, lang)
    guess, decision = await asyncio.gather(nlu.parse(text), decision_task)
    decision = combine(guess, decision)

The engine always runs, because its crisis detection stays the authority: ``combine``
never lets a Rasa guess replace a crisis decision.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any

import aiohttp

from knowledge_base.rasa_export import RETRIEVAL_INTENT, build_key_map

if TYPE_CHECKING:
    # engine pulls in numpy and the encoders; the client itself needs neither
    from knowledge_base.engine import Decision

logger = logging.getLogger(__name__)

NLU_ENV = "SAFECAMPUS_NLU"
RASA_URL_ENV = "SAFECAMPUS_RASA_URL"


@dataclass(frozen=True)
class RasaGuess:
    """Rasa's confident answer: the entry, the selector's confidence and margin."""

    entry_id: str
    confidence: float
    margin: float
    ranking: tuple[str, ...]
    intent_confidence: float | None = None


class RasaNlu:
    """Client of a Rasa server's ``/model/parse`` with its own acceptance threshold.

    Rasa's intent confidence saturates near 1.0 for anything resembling an FAQ, so the
    response selector's confidence (``min_confidence``) and its lead over the runner-up
    (``min_margin``) decide instead. ``key_map`` maps Rasa keys (``faq/<key>``) to entry
    ids, as in the exported ``entry_ids.json``.
    """

    def __init__(
        self,
        url: str,
        *,
        key_map: Mapping[str, str],
        timeout: float = 2.0,
        min_confidence: float = 0.5,
        min_margin: float = 0.1,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.key_map = dict(key_map)
        self.timeout = timeout
        self.min_confidence = min_confidence
        self.min_margin = min_margin
        self._session = session
        self._owns_session = session is None

    @classmethod
    def for_entries(cls, url: str, entry_ids: Iterable[str], **kwargs: Any) -> RasaNlu:
        """A client whose key map is derived from the entry ids, as the export does."""
        return cls(url, key_map=build_key_map(entry_ids), **kwargs)

    @classmethod
    def from_env(
        cls, entry_ids: Iterable[str], environ: Mapping[str, str] | None = None
    ) -> RasaNlu | None:
        """The client configured by ``SAFECAMPUS_NLU=rasa`` and ``SAFECAMPUS_RASA_URL``,
        or None when the built-in retriever is selected (the default)."""
        env = os.environ if environ is None else environ
        if env.get(NLU_ENV, "builtin").strip().lower() != "rasa":
            return None
        url = env.get(RASA_URL_ENV, "").strip()
        if not url:
            raise ValueError(f"{NLU_ENV}=rasa needs {RASA_URL_ENV}")
        return cls.for_entries(url, entry_ids)

    async def __aenter__(self) -> RasaNlu:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session if this client created it."""
        if self._session is not None and self._owns_session:
            await self._session.close()
            self._session = None

    async def parse(self, text: str) -> RasaGuess | None:
        """Rasa's guess for ``text``, or None (error, timeout, out of scope, not confident)."""
        payload = await self._post_parse(text)
        return None if payload is None else self.interpret(payload)

    async def _post_parse(self, text: str) -> dict[str, Any] | None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.post(
                f"{self.url}/model/parse",
                json={"text": text},
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                if response.status != 200:
                    logger.warning("rasa /model/parse returned HTTP %d", response.status)
                    return None
                body = await response.text()
        except (TimeoutError, aiohttp.ClientError) as exc:
            logger.warning("rasa /model/parse failed: %s", type(exc).__name__)
            return None
        try:
            payload = json.loads(body)
        except ValueError:
            logger.warning("rasa /model/parse returned invalid JSON")
            return None
        return payload if isinstance(payload, dict) else None

    def interpret(self, payload: Mapping[str, Any]) -> RasaGuess | None:
        """Turn a ``/model/parse`` result into a guess; None when it is not a confident FAQ."""
        intent = payload.get("intent")
        intent_name = intent.get("name") if isinstance(intent, dict) else None
        if intent_name is not None and intent_name != RETRIEVAL_INTENT:
            return None  # DIET chose out_of_scope: let the built-in policy decide
        selector = payload.get("response_selector")
        faq = selector.get(RETRIEVAL_INTENT) if isinstance(selector, dict) else None
        if not isinstance(faq, dict):
            return None
        best = faq.get("response")
        if not isinstance(best, dict):
            return None
        entry_id = self._entry_id(best.get("intent_response_key"))
        confidence = _number(best.get("confidence"))
        if entry_id is None or confidence is None:
            return None
        ranked = self._ranking(faq.get("ranking"))
        runner_up = max((conf for eid, conf in ranked if eid != entry_id), default=0.0)
        margin = confidence - runner_up
        if confidence < self.min_confidence or margin < self.min_margin:
            return None
        order = [entry_id, *(eid for eid, _ in ranked if eid != entry_id)]
        return RasaGuess(
            entry_id=entry_id,
            confidence=confidence,
            margin=margin,
            ranking=tuple(dict.fromkeys(order)),
            intent_confidence=_number(intent.get("confidence"))
            if isinstance(intent, dict)
            else None,
        )

    def _entry_id(self, intent_response_key: object) -> str | None:
        if not isinstance(intent_response_key, str):
            return None
        prefix, _, key = intent_response_key.partition("/")
        if prefix != RETRIEVAL_INTENT:
            return None
        return self.key_map.get(key)

    def _ranking(self, ranking: object) -> list[tuple[str, float]]:
        if not isinstance(ranking, list):
            return []
        ranked: list[tuple[str, float]] = []
        for item in ranking:
            if not isinstance(item, dict):
                continue
            entry_id = self._entry_id(item.get("intent_response_key"))
            confidence = _number(item.get("confidence"))
            if entry_id is not None and confidence is not None:
                ranked.append((entry_id, confidence))
        return ranked


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def combine(guess: RasaGuess | None, decision: Decision) -> Decision:
    """The decision to act on when Rasa is the NLU backend.

    A crisis decision from the engine always wins; without a confident guess the engine's
    decision stands (the fallback). Otherwise Rasa's entry is answered, with Rasa's
    runners-up then the engine's suggestions as the top 3.
    """
    if decision.decision == "crisis" or guess is None:
        return decision
    top3 = list(dict.fromkeys([*guess.ranking, *decision.top3]))[:3]
    return replace(
        decision,
        decision="answer",
        entry_id=guess.entry_id,
        confidence=guess.confidence,
        top3=top3,
        crisis_kind=None,
    )
