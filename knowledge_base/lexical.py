"""BM25 over the index texts: a small exact-term boost next to the embeddings.

BM25 alone misses paraphrases, and given much weight it hurts them; it earns its place
on aliases and exact terms (law names, "96110", "e-bike", "双减") that embeddings blur.
Chinese is segmented with jieba (search mode, so compounds also yield their parts).
"""

from __future__ import annotations

import importlib
import logging
import re
import threading
import unicodedata
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_LATIN_TOKEN = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_jieba_lock = threading.Lock()


@cache
def _stopwords() -> frozenset[str]:
    module = importlib.import_module("bm25s.stopwords")
    words: set[str] = set(module.STOPWORDS_EN_PLUS) | set(module.STOPWORDS_CHINESE)
    return frozenset(words)


@cache
def _jieba() -> Any:
    module = importlib.import_module("jieba")
    module.setLogLevel(logging.WARNING)
    with _jieba_lock:  # jieba builds its dictionary on first use; do it once
        module.initialize()
    return module


def _light_stem(word: str) -> str:
    """Fold English plurals and possessives ("helmets" -> "helmet", "child's" -> "child")."""
    word = word.removesuffix("'s")
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Lower-cased English words (lightly stemmed) and jieba words, stopwords removed."""
    text = unicodedata.normalize("NFKC", text).lower()
    stop = _stopwords()
    tokens: list[str] = []
    position = 0
    for match in _CJK_RUN.finditer(text):
        tokens.extend(_latin_tokens(text[position : match.start()], stop))
        tokens.extend(word for word in _jieba().cut_for_search(match.group()) if word not in stop)
        position = match.end()
    tokens.extend(_latin_tokens(text[position:], stop))
    return tokens


def _latin_tokens(text: str, stop: frozenset[str]) -> list[str]:
    return [
        _light_stem(word)
        for word in _LATIN_TOKEN.findall(text)
        if word not in stop and (len(word) > 1 or word.isdigit())
    ]


class LexicalIndex:
    """BM25 scores of a query against a fixed list of texts."""

    def __init__(self, texts: Sequence[str]) -> None:
        bm25s = importlib.import_module("bm25s")
        self.size = len(texts)
        self._bm25: Any = bm25s.BM25()
        corpus = [tokenize(text) or ["\u2205"] for text in texts]
        if corpus:
            self._bm25.index(corpus, show_progress=False)

    def scores(self, query: str) -> NDArray[np.float32]:
        """BM25 score of ``query`` against every text (zeros when nothing matches)."""
        tokens = [token for token in tokenize(query) if token in self._vocab]
        if not tokens or self.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)

    @property
    def _vocab(self) -> dict[str, int]:
        vocab: dict[str, int] = getattr(self._bm25, "vocab_dict", {}) or {}
        return vocab


def _keyword_pattern(keyword: str) -> re.Pattern[str] | None:
    """Pattern that finds ``keyword`` in normalised text; None if too short to be telling."""
    keyword = unicodedata.normalize("NFKC", keyword).lower().strip()
    if _CJK_RUN.search(keyword):
        return re.compile(re.escape(keyword)) if len(keyword) >= 2 else None
    if len(keyword) < 3 and not keyword.isdigit():
        return None
    # word boundaries, optional plural ("e-bike" finds "e-bikes")
    return re.compile(r"(?<![a-z0-9])" + re.escape(keyword) + r"(?:s|es)?(?![a-z0-9])")


class KeywordMatcher:
    """Which topics' aliases occur verbatim in a question: the exact-term boost.

    Writers list aliases per topic ("反家庭暴力法", "被欺负", "e-bike"). A match counts by
    how specific the alias is (aliases shared by several topics count less), and a match
    inside a longer match is dropped, so "bullying others" beats "bullying".
    """

    def __init__(self, topic_keywords: Sequence[Sequence[str]]) -> None:
        self.size = len(topic_keywords)
        owners: dict[str, set[int]] = {}
        for topic, keywords in enumerate(topic_keywords):
            for keyword in keywords:
                key = unicodedata.normalize("NFKC", keyword).lower().strip()
                owners.setdefault(key, set()).add(topic)
        self._patterns: list[tuple[str, re.Pattern[str], frozenset[int], float]] = []
        for key, topics in owners.items():
            pattern = _keyword_pattern(key)
            if pattern is not None:
                weight = float(np.log1p(self.size / len(topics)) / np.log1p(self.size))
                self._patterns.append((key, pattern, frozenset(topics), weight))

    def scores(self, query: str) -> NDArray[np.float32]:
        """Per topic: specificity (0-1] of its best alias found in ``query``, else 0."""
        text = unicodedata.normalize("NFKC", query).lower()
        matches: list[tuple[int, int, frozenset[int], float]] = []
        for key, pattern, topics, weight in self._patterns:
            if key not in text:  # cheap substring test first: most aliases are absent
                continue
            for found in pattern.finditer(text):
                matches.append((found.start(), found.end(), topics, weight))
        out = np.zeros(self.size, dtype=np.float32)
        for start, end, topics, weight in matches:
            nested = any(
                s <= start and end <= e and (e - s) > (end - start) for s, e, _, _ in matches
            )
            if nested:
                continue
            for topic in topics:
                out[topic] = max(out[topic], weight)
        return out
