"""Bot API errors, answered as ``{"ok": false, "error_code": ..., "description": ...}``."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error the emulator answers to a Bot API call, shaped like Telegram's."""

    def __init__(
        self,
        error_code: int,
        description: str,
        *,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id

    def to_json(self) -> dict[str, Any]:
        """The response body Telegram sends for this error."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        parameters: dict[str, int] = {}
        if self.retry_after is not None:
            parameters["retry_after"] = self.retry_after
        if self.migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = self.migrate_to_chat_id
        if parameters:
            body["parameters"] = parameters
        return body


def bad_request(detail: str) -> ApiError:
    """A 400 answer: ``Bad Request: <detail>``."""
    return ApiError(400, f"Bad Request: {detail}")


def forbidden(detail: str) -> ApiError:
    """A 403 answer: ``Forbidden: <detail>``."""
    return ApiError(403, f"Forbidden: {detail}")


def too_many_requests(retry_after: int) -> ApiError:
    """A 429 answer carrying ``parameters.retry_after``."""
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


def conflict(detail: str) -> ApiError:
    """A 409 answer: ``Conflict: <detail>``."""
    return ApiError(409, f"Conflict: {detail}")


def chat_not_found() -> ApiError:
    """The answer for a chat id the bot cannot see."""
    return bad_request("chat not found")


def unauthorized() -> ApiError:
    """The answer for a well-formed but wrong token."""
    return ApiError(401, "Unauthorized")


def not_found() -> ApiError:
    """The answer for a path that is not ``/bot<token>/<method>`` with a token-like token."""
    return ApiError(404, "Not Found")


def method_not_found() -> ApiError:
    """The answer for a method name Telegram does not know."""
    return ApiError(404, "Not Found: method not found")
