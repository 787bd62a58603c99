"""``/_control/...``: the emulator's controls over HTTP, for other processes.

Every answer is ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}``
(400 for bad input, 404 for unknown ids, 408 when a wait timed out). Bodies are JSON.
User actions go to the only bot unless the body (or query string) names ``bot_id``.

=======  ==================================  ==============================================
GET      /_control                           base_url, bots, methods spoken
GET      /_control/users                     every simulated user
POST     /_control/users                     {first_name, last_name?, username?,
                                             language_code?, started?, id?} -> User
POST     /_control/users/{id}/block          {bot_id?}; also /unblock
POST     /_control/groups                    {title, members: [user_id], supergroup?} -> Chat
POST     /_control/groups/{chat_id}/migrate  -> the new supergroup Chat
POST     /_control/send_text                 {user_id, text, chat_id?, reply_to_message_id?}
POST     /_control/send_command              {user_id, command, args?, chat_id?}
POST     /_control/send_document             {user_id, filename, content_base64, mime_type?,
                                             caption?, chat_id?}
POST     /_control/press_button              {user_id, message_id, data, chat_id?,
                                             from_user_id?, timeout?, check_button?}
                                             -> {answer: {...} | null}
GET      /_control/chats/{chat_id}/messages  ?include_user=1 -> the chat log
POST     /_control/chats/{chat_id}/wait      {count?, timeout?} -> new bot messages
GET      /_control/files/{file_id}           the file's bytes
GET      /_control/faults                    active fault rules
POST     /_control/faults                    {kind, method? | methods?, count?, probability?,
                                             seed?, delay?, status?, retry_after?}
DELETE   /_control/faults                    clear them
GET/PUT  /_control/limits                    EmulatorLimits fields
GET      /_control/stats                     calls, errors, duplicates; DELETE resets
=======  ==================================  ==============================================
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .actions import UserActions
from .limits import EmulatorLimits
from .methods import method_names
from .models import JSON, SimUser

if TYPE_CHECKING:
    from .core import TelegramEmulator

PREFIX = "/_control"
_Handler = Callable[[web.Request], Awaitable[web.Response]]


class ControlError(Exception):
    """Bad input to a control endpoint."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _ok(result: Any) -> web.Response:
    return web.Response(
        text=json.dumps({"ok": True, "result": result}, ensure_ascii=False),
        content_type="application/json",
    )


def _fail(message: str, status: int) -> web.Response:
    return web.Response(
        text=json.dumps({"ok": False, "error": message}, ensure_ascii=False),
        status=status,
        content_type="application/json",
    )


def _guard(handler: _Handler) -> _Handler:
    async def guarded(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except ControlError as error:
            return _fail(str(error), error.status)
        except TimeoutError as error:
            return _fail(str(error) or "timed out", 408)
        except (ValueError, KeyError, TypeError, RuntimeError) as error:
            return _fail(str(error), 400)

    return guarded


async def _body(request: web.Request) -> JSON:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise ControlError("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ControlError("the body must be a JSON object")
    return body


def _required(body: JSON, name: str) -> Any:
    if body.get(name) is None:
        raise ControlError(f"{name} is required")
    return body[name]


class ControlRoutes:
    """The handlers behind ``/_control``."""

    def __init__(self, emulator: TelegramEmulator) -> None:
        self.emu = emulator

    def add_to(self, app: web.Application) -> None:
        """Mount the control routes on ``app``."""
        routes: list[tuple[str, str, _Handler]] = [
            ("GET", "", self.overview),
            ("GET", "/users", self.list_users),
            ("POST", "/users", self.create_user),
            ("POST", "/users/{user_id}/block", self.block),
            ("POST", "/users/{user_id}/unblock", self.unblock),
            ("POST", "/groups", self.create_group),
            ("POST", "/groups/{chat_id}/migrate", self.migrate_group),
            ("POST", "/send_text", self.send_text),
            ("POST", "/send_command", self.send_command),
            ("POST", "/send_document", self.send_document),
            ("POST", "/press_button", self.press_button),
            ("GET", "/chats/{chat_id}/messages", self.chat_log),
            ("POST", "/chats/{chat_id}/wait", self.wait_for_messages),
            ("GET", "/files/{file_id}", self.file_content),
            ("GET", "/faults", self.list_faults),
            ("POST", "/faults", self.add_fault),
            ("DELETE", "/faults", self.clear_faults),
            ("GET", "/limits", self.get_limits),
            ("PUT", "/limits", self.set_limits),
            ("GET", "/stats", self.get_stats),
            ("DELETE", "/stats", self.reset_stats),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, PREFIX + path, _guard(handler))

    def _user(self, user_id: Any) -> SimUser:
        try:
            return self.emu.state.user(int(user_id)).user
        except ValueError as error:
            raise ControlError(str(error), 404) from None

    def _actions(self, request: web.Request, body: JSON) -> UserActions:
        bot_id = body.get("bot_id", request.query.get("bot_id"))
        if bot_id is None:
            return self.emu
        try:
            return self.emu.bot_by_id(int(bot_id))
        except KeyError as error:
            raise ControlError(str(error), 404) from None

    async def overview(self, request: web.Request) -> web.Response:
        """``GET /_control``: base URL, bots and the methods spoken."""
        return _ok(
            {
                "base_url": self.emu.base_url,
                "bots": [
                    {"id": bot.id, "username": bot.username, "webhook_url": bot.webhook_url}
                    for bot in self.emu.bots
                ],
                "methods": method_names(),
            }
        )

    async def list_users(self, request: web.Request) -> web.Response:
        """``GET /_control/users``."""
        return _ok([record.user.to_json() for record in self.emu.state.users.values()])

    async def create_user(self, request: web.Request) -> web.Response:
        """``POST /_control/users`` ``{first_name, last_name?, username?, language_code?,
        started?, id?}``."""
        body = await _body(request)
        user = self.emu.create_user(
            str(_required(body, "first_name")),
            body.get("last_name"),
            username=body.get("username"),
            language_code=body.get("language_code"),
            started=bool(body.get("started", True)),
            user_id=body.get("id"),
        )
        return _ok(user.to_json())

    async def block(self, request: web.Request) -> web.Response:
        """``POST /_control/users/{user_id}/block`` ``{bot_id?}``."""
        body = await _body(request)
        self._actions(request, body).block(self._user(request.match_info["user_id"]))
        return _ok(True)

    async def unblock(self, request: web.Request) -> web.Response:
        """``POST /_control/users/{user_id}/unblock`` ``{bot_id?}``."""
        body = await _body(request)
        self._actions(request, body).unblock(self._user(request.match_info["user_id"]))
        return _ok(True)

    async def create_group(self, request: web.Request) -> web.Response:
        """``POST /_control/groups`` ``{title, members: [user_id], supergroup?}``."""
        body = await _body(request)
        members = [self._user(user_id) for user_id in body.get("members", [])]
        group = self.emu.create_group(
            str(_required(body, "title")), members, supergroup=bool(body.get("supergroup"))
        )
        return _ok(group.chat_json())

    async def migrate_group(self, request: web.Request) -> web.Response:
        """``POST /_control/groups/{chat_id}/migrate``: the new supergroup."""
        return _ok(self.emu.migrate_group(int(request.match_info["chat_id"])).chat_json())

    async def send_text(self, request: web.Request) -> web.Response:
        """``POST /_control/send_text`` ``{user_id, text, chat_id?, reply_to_message_id?}``."""
        body = await _body(request)
        result = await self._actions(request, body).send_text(
            self._user(_required(body, "user_id")),
            str(_required(body, "text")),
            chat=body.get("chat_id"),
            reply_to=body.get("reply_to_message_id"),
        )
        return _ok(result)

    async def send_command(self, request: web.Request) -> web.Response:
        """``POST /_control/send_command`` ``{user_id, command, args?, chat_id?}``."""
        body = await _body(request)
        result = await self._actions(request, body).send_command(
            self._user(_required(body, "user_id")),
            str(_required(body, "command")),
            body.get("args"),
            chat=body.get("chat_id"),
        )
        return _ok(result)

    async def send_document(self, request: web.Request) -> web.Response:
        """``POST /_control/send_document`` ``{user_id, filename, content_base64,
        mime_type?, caption?, chat_id?}``."""
        body = await _body(request)
        try:
            data = base64.b64decode(str(_required(body, "content_base64")), validate=True)
        except ValueError:
            raise ControlError("content_base64 is not valid base64") from None
        result = await self._actions(request, body).send_document(
            self._user(_required(body, "user_id")),
            str(_required(body, "filename")),
            data,
            mime_type=body.get("mime_type"),
            caption=body.get("caption"),
            chat=body.get("chat_id"),
        )
        return _ok(result)

    async def press_button(self, request: web.Request) -> web.Response:
        """``POST /_control/press_button`` ``{user_id, message_id, data, chat_id?,
        from_user_id?, timeout?, check_button?}``: ``{"answer": ...}`` (null if unanswered)."""
        body = await _body(request)
        user = self._user(_required(body, "user_id"))
        message_id = int(_required(body, "message_id"))
        chat_id = int(body.get("chat_id", user.id))
        from_user = body.get("from_user_id")
        answer = await self._actions(request, body).press_button(
            user,
            {"message_id": message_id, "chat": {"id": chat_id}},
            str(_required(body, "data")),
            from_user=self._user(from_user) if from_user is not None else None,
            timeout=float(body.get("timeout", 5.0)),
            check_button=bool(body.get("check_button", True)),
        )
        return _ok({"answer": answer})

    async def chat_log(self, request: web.Request) -> web.Response:
        """``GET /_control/chats/{chat_id}/messages?include_user=1&bot_id=``."""
        include_user = request.query.get("include_user", "").lower() in ("1", "true", "yes")
        actions = self._actions(request, {})
        chat_id = int(request.match_info["chat_id"])
        return _ok(actions.chat_log(chat_id, include_user=include_user))

    async def wait_for_messages(self, request: web.Request) -> web.Response:
        """``POST /_control/chats/{chat_id}/wait`` ``{count?, timeout?}``: the new messages."""
        body = await _body(request)
        messages = await self._actions(request, body).wait_for_messages(
            int(request.match_info["chat_id"]),
            count=int(body.get("count", 1)),
            timeout=float(body.get("timeout", 5.0)),
        )
        return _ok(messages)

    async def file_content(self, request: web.Request) -> web.Response:
        """``GET /_control/files/{file_id}``: the file's bytes."""
        try:
            data = self.emu.file_bytes(request.match_info["file_id"])
        except KeyError as error:
            raise ControlError(str(error), 404) from None
        return web.Response(body=data, content_type="application/octet-stream")

    async def list_faults(self, request: web.Request) -> web.Response:
        """``GET /_control/faults``: the active fault rules."""
        return _ok([fault.to_json() for fault in self.emu.faults.active])

    async def add_fault(self, request: web.Request) -> web.Response:
        """``POST /_control/faults`` ``{kind, method? | methods?, count?, probability?, seed?,
        delay?, status?, retry_after?}``."""
        body = await _body(request)
        fault = self.emu.faults.add(
            body.get("methods", body.get("method")),
            kind=_required(body, "kind"),
            count=body.get("count"),
            probability=body.get("probability"),
            seed=body.get("seed"),
            delay=float(body.get("delay", 1.0)),
            status=int(body.get("status", 500)),
            retry_after=int(body.get("retry_after", 5)),
        )
        return _ok(fault.to_json())

    async def clear_faults(self, request: web.Request) -> web.Response:
        """``DELETE /_control/faults``."""
        self.emu.faults.clear()
        return _ok(True)

    async def get_limits(self, request: web.Request) -> web.Response:
        """``GET /_control/limits``."""
        return _ok(dataclasses.asdict(self.emu.limits))

    async def set_limits(self, request: web.Request) -> web.Response:
        """``PUT /_control/limits`` with any fields of :class:`EmulatorLimits`."""
        body = await _body(request)
        names = {field.name for field in dataclasses.fields(EmulatorLimits)}
        unknown = set(body) - names
        if unknown:
            raise ControlError(f"unknown limit fields: {sorted(unknown)}")
        limits = dataclasses.replace(self.emu.limits, **body)
        self.emu.set_limits(limits)
        return _ok(dataclasses.asdict(limits))

    async def get_stats(self, request: web.Request) -> web.Response:
        """``GET /_control/stats``: calls per method, errors, duplicates."""
        return _ok(self.emu.stats.to_json())

    async def reset_stats(self, request: web.Request) -> web.Response:
        """``DELETE /_control/stats``."""
        self.emu.stats.reset()
        return _ok(True)
