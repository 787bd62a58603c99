"""Files users and bots exchanged, kept in memory so tests can read their bytes."""

from __future__ import annotations

import mimetypes
import secrets
from dataclasses import dataclass
from pathlib import PurePosixPath

from .models import JSON

MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024
"""Telegram lets bots download files up to 20 MB with getFile."""

_FILE_ID_PREFIX = {"documents": "BQACAgIAAxkBAA", "photos": "AgACAgIAAxkBAA"}


@dataclass(frozen=True)
class StoredFile:
    """One file, addressable by ``file_id`` and downloadable at ``file_path``."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None
    source_url: str | None = None

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.data)

    def document_json(self) -> JSON:
        """The ``Document`` object of a message carrying this file."""
        document: JSON = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
        }
        if self.file_name:
            document["file_name"] = self.file_name
        if self.mime_type:
            document["mime_type"] = self.mime_type
        return document

    def photo_json(self) -> list[JSON]:
        """The ``PhotoSize`` list of a message carrying this photo (one size; not measured)."""
        return [
            {
                "file_id": self.file_id,
                "file_unique_id": self.file_unique_id,
                "file_size": self.size,
                "width": 800,
                "height": 600,
            }
        ]

    def file_json(self) -> JSON:
        """The result of ``getFile``."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
            "file_path": self.file_path,
        }


class FileStore:
    """Every file seen by the emulator."""

    def __init__(self) -> None:
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}

    def add(
        self,
        data: bytes,
        *,
        kind: str = "documents",
        file_name: str | None = None,
        mime_type: str | None = None,
        source_url: str | None = None,
    ) -> StoredFile:
        """Store ``data`` as a new file of ``kind`` (``documents`` or ``photos``)."""
        if mime_type in (None, "application/octet-stream") and file_name:
            mime_type = mimetypes.guess_type(file_name)[0] or mime_type
        suffix = PurePosixPath(file_name).suffix if file_name else ""
        if kind == "photos":
            suffix = ".jpg"
        stored = StoredFile(
            file_id=_FILE_ID_PREFIX.get(kind, "BQACAgIAAxkBAA") + secrets.token_urlsafe(36),
            file_unique_id="AgAD" + secrets.token_urlsafe(9),
            data=data,
            file_path=f"{kind}/file_{len(self._by_id)}{suffix}",
            file_name=file_name,
            mime_type=mime_type,
            source_url=source_url,
        )
        self._by_id[stored.file_id] = stored
        self._by_path[stored.file_path] = stored
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        """The file with this ``file_id``, if any."""
        return self._by_id.get(file_id)

    def by_path(self, file_path: str) -> StoredFile | None:
        """The file served at ``/file/bot<token>/<file_path>``, if any."""
        return self._by_path.get(file_path)
