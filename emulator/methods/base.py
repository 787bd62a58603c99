"""The method registry and what every method handler shares."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ApiError, bad_request, chat_not_found, forbidden
from ..models import JSON
from ..params import Params
from ..runtime import Runtime
from ..state import BotState, Conversation

logger = logging.getLogger("emulator")


@dataclass
class Call:
    """One Bot API call being answered."""

    runtime: Runtime
    bot: BotState
    params: Params
    method: str


@dataclass(frozen=True)
class Answer:
    """A successful result, with the optional ``description`` some methods add."""

    result: Any
    description: str | None = None


Handler = Callable[[Call], Awaitable[Answer]]


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: its canonical name and handler."""

    name: str
    handler: Handler


_REGISTRY: dict[str, MethodSpec] = {}


def api_method(name: str) -> Callable[[Handler], Handler]:
    """Register a handler for the Bot API method ``name`` (matched case-insensitively)."""

    def register(handler: Handler) -> Handler:
        _REGISTRY[name.lower()] = MethodSpec(name, handler)
        return handler

    return register


def lookup(name: str) -> MethodSpec | None:
    """The method called ``name`` in any letter case, if the emulator speaks it."""
    return _REGISTRY.get(name.lower())


def method_names() -> list[str]:
    """Every method the emulator speaks."""
    return sorted(spec.name for spec in _REGISTRY.values())


async def dispatch(
    runtime: Runtime, bot: BotState, spec: MethodSpec, params: Params
) -> tuple[int, JSON]:
    """Run a method; return the HTTP status and the Telegram-shaped body."""
    try:
        answer = await spec.handler(Call(runtime, bot, params, spec.name))
    except ApiError as error:
        runtime.stats.record_error(spec.name, error.error_code)
        return error.error_code, error.to_json()
    except Exception as error:
        logger.exception("emulator failed to answer %s", spec.name)
        runtime.internal_errors.append(traceback.format_exc())
        runtime.stats.record_error(spec.name, 500)
        return 500, ApiError(500, f"Internal Server Error: {error!r}").to_json()
    body: JSON = {"ok": True, "result": answer.result}
    if answer.description is not None:
        body["description"] = answer.description
    return 200, body


@dataclass(frozen=True)
class Target:
    """The chat a call acts on, resolved and checked."""

    chat_id: int
    chat: JSON
    is_group: bool
    conversation: Conversation


def resolve_chat(call: Call, *, name: str = "chat_id", check_access: bool = True) -> Target:
    """The chat named by ``chat_id``, with Telegram's answers for chats the bot cannot use.

    ``check_access`` adds the 403s (blocked, deactivated, never started) and the 400 of a
    group that became a supergroup.
    """
    raw = call.params.get_str(name)
    if raw is None or raw == "":
        raise bad_request(f"{name} is empty")
    try:
        chat_id = int(raw)
    except ValueError:
        raise chat_not_found() from None
    state = call.runtime.state
    user = state.users.get(chat_id)
    group = state.groups.get(chat_id)
    if user is not None:
        if check_access:
            if user.deactivated:
                raise forbidden("user is deactivated")
            if state.is_blocked(call.bot, chat_id):
                raise forbidden("bot was blocked by the user")
            if not user.starts_every_bot and chat_id not in call.bot.started:
                raise forbidden("bot can't initiate conversation with a user")
        return Target(chat_id, user.user.chat_json(), False, call.bot.conversation(chat_id))
    if group is not None:
        if check_access and group.migrated_to is not None:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=group.migrated_to,
            )
        return Target(chat_id, group.group.chat_json(), True, call.bot.conversation(chat_id))
    raise chat_not_found()


def require_int(call: Call, name: str, missing: str) -> int:
    """An integer parameter that must be present (``missing`` is the 400 detail)."""
    value = call.params.get_int(name)
    if value is None:
        raise bad_request(missing)
    return value
