"""The packaged embedding seed: looked up after the cache and before the encoder."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from knowledge_base import encoders as encoders_module
from knowledge_base.cli import kb_group
from knowledge_base.entries import DEFAULT_CONTENT_DIR
from knowledge_base.index import (
    DEFAULT_SEED_DIR,
    EmbeddingCache,
    index_texts,
    text_key,
    vectors_file_name,
)
from knowledge_base.knowledge import KnowledgeBase
from knowledge_base.reject import load_reject_examples
from knowledge_base.retriever import RetrievalConfig, Retriever
from tests.knowledge_base.conftest import CountingEncoder

#: float16 keeps about three significant digits
FLOAT16_TOLERANCE = 2e-3


def _make_seed(knowledge: KnowledgeBase, config: RetrievalConfig, seed_dir: Path) -> Retriever:
    """Build an index with a fresh fake encoder and write what it embedded as a seed."""
    cache = EmbeddingCache(None, seed_dir=None, record=True)
    retriever = Retriever(knowledge, [CountingEncoder()], cache, config)
    assert cache.save_seed(seed_dir) == [seed_dir / vectors_file_name("fake-1")]
    return retriever


def test_texts_found_in_the_seed_are_not_embedded(
    knowledge: KnowledgeBase, tmp_path: Path, fake_config: RetrievalConfig
) -> None:
    seed_dir = tmp_path / "seed"
    original = _make_seed(knowledge, fake_config, seed_dir)

    encoder = CountingEncoder()
    cache = EmbeddingCache(tmp_path / "cache", seed_dir=seed_dir)
    seeded = Retriever(knowledge, [encoder], cache, fake_config)

    assert encoder.calls == 0
    assert cache.embedded_count == 0
    assert cache.seeded_count == len(original.texts)
    np.testing.assert_allclose(
        seeded._vectors["fake"], original._vectors["fake"], atol=FLOAT16_TOLERANCE
    )
    assert seeded._vectors["fake"].dtype == np.float32
    # seed hits stay in the seed: nothing was embedded, so nothing is written to the cache
    assert not (tmp_path / "cache" / vectors_file_name("fake-1")).exists()


def test_the_seed_is_stored_as_float16(
    knowledge: KnowledgeBase, tmp_path: Path, fake_config: RetrievalConfig
) -> None:
    _make_seed(knowledge, fake_config, tmp_path)
    with np.load(tmp_path / vectors_file_name("fake-1")) as stored:
        assert stored["vectors"].dtype == np.float16
        assert len(stored["keys"]) == len(stored["vectors"]) > 0


def test_a_changed_text_falls_back_to_the_encoder(
    content_copy: Path, tmp_path: Path, fake_config: RetrievalConfig
) -> None:
    seed_dir = tmp_path / "seed"
    _make_seed(KnowledgeBase.load(content_copy), fake_config, seed_dir)
    path = content_copy / "law.bullying.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data["questions"]["en"][0] = "does the school have to tell me what it did about the bully"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    changed = KnowledgeBase.load(content_copy)

    encoder = CountingEncoder()
    cache = EmbeddingCache(tmp_path / "cache", seed_dir=seed_dir)
    Retriever(changed, [encoder], cache, fake_config)
    assert cache.embedded_count == 1
    assert encoder.texts_embedded == 1
    assert (
        cache.seeded_count == sum(t.field == "question" for t in index_texts(changed.entries)) - 1
    )

    # the embedded text went to the writable cache: the next start embeds nothing
    again = EmbeddingCache(tmp_path / "cache", seed_dir=seed_dir)
    Retriever(changed, [encoder], again, fake_config)
    assert again.embedded_count == 0
    assert encoder.texts_embedded == 1


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:200])


def _garbage(path: Path) -> None:
    path.write_bytes(b"these are not the vectors you are looking for")


def _wrong_dimension(path: Path) -> None:
    np.savez(path, keys=np.array(["0" * 32], dtype="U32"), vectors=np.zeros((1, 3), np.float16))


@pytest.mark.parametrize("damage", [_truncate, _garbage, _wrong_dimension])
def test_a_corrupt_seed_file_is_ignored_with_a_warning(
    damage: object,
    knowledge: KnowledgeBase,
    tmp_path: Path,
    fake_config: RetrievalConfig,
    caplog: pytest.LogCaptureFixture,
) -> None:
    seed_dir = tmp_path / "seed"
    _make_seed(knowledge, fake_config, seed_dir)
    assert callable(damage)
    damage(seed_dir / vectors_file_name("fake-1"))

    encoder = CountingEncoder()
    cache = EmbeddingCache(tmp_path / "cache", seed_dir=seed_dir)
    with caplog.at_level(logging.WARNING, logger="knowledge_base.index"):
        retriever = Retriever(knowledge, [encoder], cache, fake_config)

    assert "embedding seed" in caplog.text
    assert cache.seeded_count == 0
    assert cache.embedded_count == encoder.texts_embedded == len(retriever.texts)
    fresh = CountingEncoder().encode([text.text for text in retriever.texts])
    np.testing.assert_array_equal(retriever._vectors["fake"], fresh)


def test_a_missing_seed_file_is_ignored_with_a_warning(
    knowledge: KnowledgeBase,
    tmp_path: Path,
    fake_config: RetrievalConfig,
    caplog: pytest.LogCaptureFixture,
) -> None:
    encoder = CountingEncoder()
    cache = EmbeddingCache(tmp_path / "cache", seed_dir=tmp_path / "no-seed-here")
    with caplog.at_level(logging.WARNING, logger="knowledge_base.index"):
        retriever = Retriever(knowledge, [encoder], cache, fake_config)
    assert "no embedding seed" in caplog.text
    assert cache.embedded_count == len(retriever.texts)


def test_the_seed_can_be_turned_off(
    knowledge: KnowledgeBase, tmp_path: Path, fake_config: RetrievalConfig
) -> None:
    _make_seed(knowledge, fake_config, tmp_path / "seed")
    cache = EmbeddingCache(tmp_path / "cache", seed_dir=None)
    retriever = Retriever(knowledge, [CountingEncoder()], cache, fake_config)
    assert cache.seeded_count == 0
    assert cache.embedded_count == len(retriever.texts)


def test_kb_seed_command_writes_the_seed(
    fixture_content: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(encoders_module, "make_encoder", lambda spec: CountingEncoder())
    out = tmp_path / "seed"
    result = CliRunner().invoke(
        kb_group,
        [
            "seed",
            "--out",
            str(out),
            "--content",
            str(fixture_content),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--encoders",
            "fake",
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {out / 'fake-1.npz'}" in result.output
    knowledge = KnowledgeBase.load(fixture_content)
    wanted = {text_key(t.text) for t in index_texts(knowledge.entries) if t.field == "question"}
    wanted |= {text_key(text) for texts in load_reject_examples().values() for text in texts}
    with np.load(out / "fake-1.npz") as stored:
        assert set(map(str, stored["keys"])) == wanted


def test_the_packaged_seed_covers_the_packaged_content() -> None:
    """Fails when the content changed without `safecampus kb seed` (a slow first start)."""
    files = sorted(DEFAULT_SEED_DIR.glob("*.npz"))
    assert files, f"no seed in {DEFAULT_SEED_DIR}: run `safecampus kb seed`"
    texts = index_texts(KnowledgeBase.load(DEFAULT_CONTENT_DIR).entries)
    questions = {text_key(t.text) for t in texts if t.field == "question"}
    questions |= {text_key(text) for texts in load_reject_examples().values() for text in texts}
    answers = {text_key(t.text) for t in texts if t.field == "answer"}
    for path in files:
        with zipfile.ZipFile(path) as archive:
            assert {"keys.npy", "vectors.npy"} <= set(archive.namelist())
        with np.load(path) as stored:
            keys = set(map(str, stored["keys"]))
            assert stored["vectors"].dtype == np.float16
        wanted = answers if path.stem.endswith("-passage") else questions
        assert not wanted - keys, f"{path.name} is stale: run `safecampus kb seed`"
    assert sum(path.stat().st_size for path in files) < 6_000_000
