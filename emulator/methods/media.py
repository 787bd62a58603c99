"""Files: sendPhoto, sendDocument and getFile."""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import urlparse

from ..errors import ApiError, bad_request
from ..files import MAX_DOWNLOAD_SIZE, StoredFile
from ..params import UploadedFile
from .base import Answer, Call, api_method, resolve_chat
from .delivery import deliver, formatted_caption

MAX_UPLOAD_SIZE = 50 * 1024 * 1024


def _input_file(call: Call, field: str, kind: str) -> StoredFile:
    value = call.params.get_file(field)
    files = call.runtime.state.files
    if value is None:
        raise bad_request(f"there is no {field} in the request")
    if isinstance(value, UploadedFile):
        if not value.data:
            raise bad_request("file must be non-empty")
        if len(value.data) > MAX_UPLOAD_SIZE:
            raise ApiError(413, "Request Entity Too Large")
        return files.add(
            value.data, kind=kind, file_name=value.filename, mime_type=value.content_type
        )
    known = files.get(value)
    if known is not None:
        return known
    if value.startswith(("http://", "https://")):
        # The emulator does not fetch URLs: the file is recorded, empty, with its source.
        name = PurePosixPath(urlparse(value).path).name or None
        return files.add(b"", kind=kind, file_name=name, source_url=value)
    raise bad_request("wrong file identifier/HTTP URL specified")


@api_method("sendDocument")
async def send_document(call: Call) -> Answer:
    """Send a file as a document (upload, known file_id or URL)."""
    target = resolve_chat(call)
    stored = _input_file(call, "document", "documents")
    content = {"document": stored.document_json(), **formatted_caption(call)}
    return Answer(deliver(call, target, content).to_json())


@api_method("sendPhoto")
async def send_photo(call: Call) -> Answer:
    """Send a photo (upload, known file_id or URL)."""
    target = resolve_chat(call)
    stored = _input_file(call, "photo", "photos")
    content = {"photo": stored.photo_json(), **formatted_caption(call)}
    return Answer(deliver(call, target, content).to_json())


@api_method("getFile")
async def get_file(call: Call) -> Answer:
    """Where to download a file from: ``/file/bot<token>/<file_path>``."""
    file_id = call.params.get_str("file_id")
    stored = call.runtime.state.files.get(file_id) if file_id else None
    if stored is None:
        raise bad_request("invalid file_id")
    if stored.size > MAX_DOWNLOAD_SIZE:
        raise bad_request("file is too big")
    return Answer(stored.file_json())
