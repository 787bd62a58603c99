"""Tokenising for BM25 and the alias matcher."""

from __future__ import annotations

from knowledge_base.lexical import KeywordMatcher, LexicalIndex, tokenize


def test_tokenize_mixes_english_and_jieba() -> None:
    tokens = tokenize("My child's e-bike helmets, 孩子骑电动车")
    assert {"child", "e-bike", "helmet"} <= set(tokens)
    assert "电动车" in tokens  # jieba search mode also yields the compound
    assert "my" not in tokens  # stopword


def test_bm25_scores_exact_terms() -> None:
    index = LexicalIndex(["e-bike helmet rules", "drowning in a lake", "双减 作业"])
    scores = index.scores("are e-bikes allowed")
    assert scores.argmax() == 0
    assert index.scores("双减是什么").argmax() == 2
    assert not index.scores("weather tomorrow").any()


def test_keyword_matcher_prefers_the_longer_alias() -> None:
    matcher = KeywordMatcher([["bullying", "被欺负"], ["bullying others", "欺负别人"]])
    victim, bully = matcher.scores("my son is bullying others")
    assert bully > 0 and victim == 0  # "bullying" inside "bullying others" is dropped
    victim, bully = matcher.scores("孩子在学校被欺负了")
    assert victim > 0 and bully == 0


def test_keyword_matcher_ignores_too_short_aliases() -> None:
    matcher = KeywordMatcher([["ab", "水"], ["110"]])
    assert not matcher.scores("ab 水").any()
    assert matcher.scores("call 110 now")[1] > 0


def test_shared_alias_counts_less() -> None:
    matcher = KeywordMatcher([["helmet", "e-bike"], ["helmet"], ["drowning"]])
    scores = matcher.scores("e-bike helmet")
    assert scores[0] > scores[1] > 0
