"""Bot API call parameters, read from JSON, form-urlencoded, multipart or query strings.

aiogram 3 sends ``application/x-www-form-urlencoded`` when no file is attached and
``multipart/form-data`` otherwise, with every non-string value JSON-encoded (``"true"``,
``"42"``, ``'{"inline_keyboard": ...}'``) and uploads referenced as ``attach://<field>``.
Other clients send JSON bodies with native values; :class:`Params` reads both alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, MultipartReader, web
from multidict import MultiMapping

from .errors import bad_request
from .models import JSON


@dataclass(frozen=True)
class UploadedFile:
    """A file sent in a multipart request."""

    filename: str
    content_type: str
    data: bytes


class Params:
    """The parameters of one call, with Telegram's lenient type conversions."""

    def __init__(
        self, values: Mapping[str, Any], files: Mapping[str, UploadedFile] | None = None
    ) -> None:
        self.values = dict(values)
        self.files = dict(files or {})

    def __contains__(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def get_str(self, name: str) -> str | None:
        """A string parameter (numbers are turned into their text)."""
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        return json.dumps(value)

    def get_int(self, name: str, *, error: str | None = None) -> int | None:
        """An integer parameter; a non-integer answers 400 ``error`` (or ``<name> is invalid``)."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise bad_request(error or f"{name} is invalid") from None

    def get_float(self, name: str) -> float | None:
        """A numeric parameter."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"{name} is invalid") from None

    def get_bool(self, name: str) -> bool:
        """A boolean parameter; absent means false."""
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes")
        return bool(value)

    def get_json(self, name: str) -> Any:
        """A parameter holding a JSON-serialized object (as forms carry it) or a native one."""
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {name} JSON object") from None

    def get_object(self, name: str) -> JSON | None:
        """A JSON object parameter, or None when absent."""
        value = self.get_json(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise bad_request(f"can't parse {name} JSON object")
        return value

    def get_list(self, name: str) -> list[Any] | None:
        """A JSON array parameter, or None when absent."""
        value = self.get_json(name)
        if value is None:
            return None
        if not isinstance(value, list):
            raise bad_request(f"can't parse {name} JSON array")
        return value

    def get_file(self, name: str) -> UploadedFile | str | None:
        """An ``InputFile`` parameter: an upload, or a string (file_id or URL)."""
        if name in self.files:
            return self.files[name]
        value = self.get_str(name)
        if value and value.startswith("attach://"):
            attached = self.files.get(value.removeprefix("attach://"))
            if attached is None:
                raise bad_request(f"file of field {name} not found in the request")
            return attached
        return value or None


async def read_request_params(request: web.Request) -> Params:
    """Read a Bot API request's parameters, whatever its encoding."""
    values: dict[str, Any] = dict(request.query)
    files: dict[str, UploadedFile] = {}
    content_type = request.content_type
    if request.can_read_body:
        if content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad_request("can't parse JSON body") from None
            if isinstance(body, dict):
                values.update(body)
        elif content_type == "multipart/form-data":
            await _read_multipart(await request.multipart(), values, files)
        elif content_type == "application/x-www-form-urlencoded":
            values.update(_single_values(await request.post()))
        else:
            await request.read()
    return Params(values, files)


async def read_multipart_params(reader: MultipartReader) -> Params:
    """Parameters from a multipart body, e.g. a method returned in a webhook's response."""
    values: dict[str, Any] = {}
    files: dict[str, UploadedFile] = {}
    await _read_multipart(reader, values, files)
    return Params(values, files)


async def _read_multipart(
    reader: MultipartReader, values: dict[str, Any], files: dict[str, UploadedFile]
) -> None:
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or not part.name:
            continue
        data = await part.read(decode=True)
        if part.filename is not None:
            files[part.name] = UploadedFile(
                filename=part.filename,
                content_type=part.headers.get("Content-Type", "application/octet-stream"),
                data=bytes(data),
            )
        else:
            values[part.name] = bytes(data).decode(part.get_charset("utf-8"))


def _single_values(form: MultiMapping[Any]) -> Iterable[tuple[str, Any]]:
    return ((key, form[key]) for key in form)
