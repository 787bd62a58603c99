"""Index texts and the on-disk embedding cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from knowledge_base.encoders import Encoder
from knowledge_base.index import EmbeddingCache, index_texts
from knowledge_base.knowledge import KnowledgeBase
from knowledge_base.retriever import RetrievalConfig, Retriever, default_config


def test_index_texts_cover_both_languages_and_fields(knowledge: KnowledgeBase) -> None:
    texts = index_texts(knowledge.entries)
    drowning = [t for t in texts if t.entry_id == "safety.drowning_prevention"]
    assert {t.lang for t in drowning} == {"en", "zh"}
    assert {t.field for t in drowning} == {"title", "question", "keywords", "answer"}
    assert sum(t.field == "question" for t in drowning) == 12


def test_second_build_reuses_the_cache(
    knowledge: KnowledgeBase,
    tmp_path: Path,
    counting_encoder: Encoder,
    fake_config: RetrievalConfig,
) -> None:
    first = Retriever(knowledge, [counting_encoder], EmbeddingCache(tmp_path), fake_config)
    embedded = counting_encoder.texts_embedded  # type: ignore[attr-defined]
    assert embedded > 0

    cache = EmbeddingCache(tmp_path)  # a new process would start like this
    second = Retriever(knowledge, [counting_encoder], cache, fake_config)
    assert cache.embedded_count == 0
    assert counting_encoder.texts_embedded == embedded  # type: ignore[attr-defined]
    np.testing.assert_array_equal(first._vectors["fake"], second._vectors["fake"])
    assert (tmp_path / f"{counting_encoder.name}.npz").exists()


def test_editing_one_entry_embeds_only_its_changed_texts(
    content_copy: Path,
    tmp_path: Path,
    counting_encoder: Encoder,
    fake_config: RetrievalConfig,
) -> None:
    cache_dir = tmp_path / "cache"
    knowledge = KnowledgeBase.load(content_copy)
    Retriever(knowledge, [counting_encoder], EmbeddingCache(cache_dir), fake_config)
    path = content_copy / "law.bullying.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data["questions"]["en"].append("is cyberbullying covered by the school rules")
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")

    cache = EmbeddingCache(cache_dir)
    Retriever(KnowledgeBase.load(content_copy), [counting_encoder], cache, fake_config)
    assert cache.embedded_count == 1


def test_cache_is_per_encoder_name(
    knowledge: KnowledgeBase,
    tmp_path: Path,
    counting_encoder: Encoder,
    fake_config: RetrievalConfig,
) -> None:
    Retriever(knowledge, [counting_encoder], EmbeddingCache(tmp_path), fake_config)
    counting_encoder.name = "fake-2"  # another model (or version) of the same family
    cache = EmbeddingCache(tmp_path)
    Retriever(knowledge, [counting_encoder], cache, fake_config)
    assert cache.embedded_count > 0  # a different model never reuses another's vectors


def test_without_a_cache_dir_everything_is_embedded_each_time(
    knowledge: KnowledgeBase, counting_encoder: Encoder, fake_config: RetrievalConfig
) -> None:
    cache = EmbeddingCache(None)
    Retriever(knowledge, [counting_encoder], cache, fake_config)
    Retriever(knowledge, [counting_encoder], cache, fake_config)
    questions = [t for t in index_texts(knowledge.entries) if t.field == "question"]
    assert cache.embedded_count == 2 * len(questions)


def test_default_config_uses_any_encoder(counting_encoder: Encoder) -> None:
    config = default_config([counting_encoder])
    assert config.signal_weights["fake"] == 1.0
    assert config.signal_weights["bm25"] > 0
