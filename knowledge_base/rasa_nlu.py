"""Rasa NLU client: ask a Rasa server which FAQ entry a question is about.

The server is ``rasa run --enable-api`` on a model trained from ``safecampus kb
export-rasa`` (docs/rasa.md). ``RasaNlu.parse`` posts to ``/model/parse`` and reads the
response selector of the ``faq`` retrieval intent: ``intent_response_key`` is
``faq/<key>``, and the key maps back to an entry id (``rasa_export.rasa_key``). Anything
that makes the answer unusable - no connection, a timeout, an HTTP error, a body that is
not the expected JSON, a key that names no current entry - raises ``RasaUnavailable``, so
the caller can fall back to the built-in retriever.

Whether a reading is confident enough to answer is ``RasaThresholds``' business: Rasa's
intent confidence saturates near 1.0 for anything that resembles an FAQ, so the
selector's confidence and its margin over the runner-up decide instead.
``knowledge_base.nlu_backend`` puts the two together for the bot.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any

import aiohttp

from knowledge_base.entries import URGENT_TOPIC_ID
from knowledge_base.rasa_export import RETRIEVAL_INTENT, build_key_map

if TYPE_CHECKING:
    # engine pulls in numpy and the encoders; the client itself needs neither
    from knowledge_base.engine import Decision


class RasaUnavailable(Exception):
    """Rasa gave no usable answer for this question; ``str()`` says why, in a few words."""


@dataclass(frozen=True)
class RasaReading:
    """What Rasa made of a question: DIET's intent and the selector's ranking of entries."""

    intent: str | None
    intent_confidence: float | None
    #: (entry id, selector confidence), Rasa's choice first
    ranking: tuple[tuple[str, float], ...]

    @property
    def entry_id(self) -> str:
        """The entry the response selector chose."""
        return self.ranking[0][0]

    @property
    def confidence(self) -> float:
        """The selector's confidence in its choice."""
        return self.ranking[0][1]

    @property
    def margin(self) -> float:
        """The choice's lead over the runner-up (its whole confidence when alone)."""
        runner_up = self.ranking[1][1] if len(self.ranking) > 1 else 0.0
        return self.confidence - runner_up

    @property
    def entry_ids(self) -> list[str]:
        """The ranked entry ids, best first."""
        return [entry_id for entry_id, _ in self.ranking]


@dataclass(frozen=True)
class RasaThresholds:
    """When a Rasa reading is trusted to answer on its own.

    The defaults were fitted on ``knowledge_base/calibration/questions.jsonl`` by
    ``bench/rasa/evaluate.py --calibrate`` for the pipeline in ``bench/rasa/config.yml``
    (Rasa 3.6.21, docs/rasa.md): the least strict pair under which at most 1 % of the
    out-of-scope and at most 5 % of the answered in-scope calibration questions would be
    answered wrongly, the confidence then raised by 0.4 in log-odds, as the built-in policy
    is. The selector's confidences are a softmax, so at 0.91 its lead is already large and
    the fit needed no margin. DIET's out_of_scope intent always declines. Another
    pipeline, other epochs or much changed content need a refit.
    """

    min_confidence: float = 0.9133
    min_margin: float = 0.0

    def accepts(self, reading: RasaReading) -> bool:
        """True when ``reading`` may be answered without the built-in retriever's say."""
        return (
            reading.intent in (None, RETRIEVAL_INTENT)
            and reading.confidence >= self.min_confidence
            and reading.margin >= self.min_margin
        )


class RasaNlu:
    """Client of a Rasa server's ``/model/parse``.

    ``key_map`` maps Rasa keys (the ``<key>`` of ``faq/<key>``) to entry ids, as in the
    exported ``entry_ids.json``; ``use_entries`` replaces it after a knowledge-base reload.
    The HTTP session is created on first use, inside the running event loop.
    """

    def __init__(
        self,
        url: str,
        *,
        key_map: Mapping[str, str],
        timeout: float = 2.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.key_map = dict(key_map)
        self.timeout = timeout
        self._session = session
        self._owns_session = session is None

    @classmethod
    def for_entries(cls, url: str, entry_ids: Iterable[str], **kwargs: Any) -> RasaNlu:
        """A client whose key map is derived from the entry ids, as the export does."""
        return cls(url, key_map=build_key_map(entry_ids), **kwargs)

    def use_entries(self, entry_ids: Iterable[str]) -> None:
        """Map Rasa keys to these entry ids from now on."""
        self.key_map = build_key_map(entry_ids)

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

    async def parse(self, text: str) -> RasaReading:
        """Rasa's reading of ``text``; raises ``RasaUnavailable`` when there is none."""
        return self.interpret(await self._post_parse(text))

    async def _post_parse(self, text: str) -> object:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.post(
                f"{self.url}/model/parse",
                json={"text": text},
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                if response.status != 200:
                    raise RasaUnavailable(f"HTTP {response.status}")
                body = await response.text()
        except TimeoutError:
            raise RasaUnavailable(f"no answer within {self.timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise RasaUnavailable(type(exc).__name__) from None
        try:
            return json.loads(body)
        except ValueError:
            raise RasaUnavailable("reply is not JSON") from None

    def interpret(self, payload: object) -> RasaReading:
        """Turn a ``/model/parse`` result into a reading; raises ``RasaUnavailable`` when
        it has no ``faq`` response selection or its choice names no current entry."""
        if not isinstance(payload, dict):
            raise RasaUnavailable("reply is not a JSON object")
        intent = payload.get("intent")
        intent_name = intent.get("name") if isinstance(intent, dict) else None
        intent_confidence = _number(intent.get("confidence")) if isinstance(intent, dict) else None
        selector = payload.get("response_selector")
        faq = selector.get(RETRIEVAL_INTENT) if isinstance(selector, dict) else None
        best = faq.get("response") if isinstance(faq, dict) else None
        if not isinstance(faq, dict) or not isinstance(best, dict):
            raise RasaUnavailable(f"reply has no '{RETRIEVAL_INTENT}' response selection")
        key = best.get("intent_response_key")
        confidence = _number(best.get("confidence"))
        if not isinstance(key, str) or confidence is None:
            raise RasaUnavailable("response selection without key or confidence")
        entry_id = self._entry_id(key)
        if entry_id is None:
            raise RasaUnavailable(f"unknown response key {key!r} (retrain the model?)")
        ranked = [(entry_id, confidence)]
        ranked += [item for item in self._ranking(faq.get("ranking")) if item[0] != entry_id]
        return RasaReading(
            intent=intent_name if isinstance(intent_name, str) else None,
            intent_confidence=intent_confidence,
            ranking=_unique(ranked),
        )

    def _entry_id(self, intent_response_key: str) -> str | None:
        prefix, _, key = intent_response_key.partition("/")
        return self.key_map.get(key) if prefix == RETRIEVAL_INTENT else None

    def _ranking(self, ranking: object) -> list[tuple[str, float]]:
        """The selector's ranking as (entry id, confidence); unknown keys are left out."""
        if not isinstance(ranking, list):
            return []
        ranked: list[tuple[str, float]] = []
        for item in ranking:
            if not isinstance(item, dict) or not isinstance(item.get("intent_response_key"), str):
                continue
            entry_id = self._entry_id(item["intent_response_key"])
            confidence = _number(item.get("confidence"))
            if entry_id is not None and confidence is not None:
                ranked.append((entry_id, confidence))
        return ranked


def _unique(ranked: list[tuple[str, float]]) -> tuple[tuple[str, float], ...]:
    """First occurrence of each entry id, order kept."""
    seen: dict[str, float] = {}
    for entry_id, confidence in ranked:
        seen.setdefault(entry_id, confidence)
    return tuple(seen.items())


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def combine(reading: RasaReading | None, decision: Decision) -> Decision:
    """The decision to act on when Rasa is the NLU backend.

    ``reading`` is an accepted Rasa reading (None when Rasa declined or was unavailable)
    and ``decision`` the built-in engine's. A crisis decision from the engine always wins;
    without a reading the engine's decision stands (the fallback). Otherwise Rasa's entry
    is answered - as a crisis when it is the urgent self-harm entry, as the built-in
    policy does - with Rasa's runners-up then the engine's suggestions as the top 3.
    """
    if decision.decision == "crisis" or reading is None:
        return decision
    top3 = list(dict.fromkeys([*reading.entry_ids, *decision.top3]))[:3]
    return replace(
        decision,
        decision="crisis" if reading.entry_id == URGENT_TOPIC_ID else "answer",
        entry_id=reading.entry_id,
        confidence=reading.confidence,
        top3=top3,
        crisis_kind=None,
    )
