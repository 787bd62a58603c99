"""The loaded knowledge base: entries by id, in topic-list order."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from knowledge_base.entries import (
    DEFAULT_CONTENT_DIR,
    URGENT_TOPIC_ID,
    Entry,
    load_entries,
)


@dataclass(frozen=True)
class KnowledgeBase:
    """An immutable set of entries; build a new one to change content."""

    entries: tuple[Entry, ...]
    content_dir: Path | None = None
    _by_id: dict[str, Entry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {entry.id: entry for entry in self.entries})

    @classmethod
    def load(cls, content_dir: Path = DEFAULT_CONTENT_DIR) -> KnowledgeBase:
        """Load every entry of ``content_dir`` (raises ``ContentError`` on invalid files)."""
        return cls(entries=tuple(load_entries(content_dir)), content_dir=content_dir)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._by_id

    def get(self, entry_id: str) -> Entry | None:
        """Return the entry with ``entry_id``, or None."""
        return self._by_id.get(entry_id)

    @property
    def ids(self) -> list[str]:
        """Entry ids in load order."""
        return [entry.id for entry in self.entries]

    @property
    def urgent_entry(self) -> Entry | None:
        """The self-harm crisis entry the crisis reply points to, if present."""
        return self._by_id.get(URGENT_TOPIC_ID)

    def content_hash(self) -> str:
        """Stable hash of all entries' content (changes whenever any entry changes)."""
        digest = hashlib.sha256()
        for entry in sorted(self.entries, key=lambda e: e.id):
            digest.update(entry.model_dump_json().encode("utf-8"))
        return digest.hexdigest()
