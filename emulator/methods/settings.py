"""The bot's own settings: getMe, commands, menu button, name and descriptions."""

from __future__ import annotations

import copy
import json
import re

from ..errors import bad_request
from ..models import JSON
from .base import Answer, Call, api_method, resolve_chat

_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_SCOPES = {
    "default": (),
    "all_private_chats": (),
    "all_group_chats": (),
    "all_chat_administrators": (),
    "chat": ("chat_id",),
    "chat_administrators": ("chat_id",),
    "chat_member": ("chat_id", "user_id"),
}
_LANGUAGE = re.compile(r"^([a-z]{2})?$")
MAX_COMMANDS = 100


def scope_key(scope: JSON | None) -> str:
    """A canonical key for a ``BotCommandScope`` (absent means ``default``)."""
    scope = scope or {"type": "default"}
    kind = scope.get("type")
    if kind not in _SCOPES:
        raise bad_request("wrong scope type specified")
    fields = {"type": kind}
    for name in _SCOPES[str(kind)]:
        if scope.get(name) is None:
            raise bad_request(f"{name} is empty")
        fields[name] = str(scope[name])
    return json.dumps(fields, sort_keys=True)


def _commands_key(call: Call) -> tuple[str, str]:
    language = call.params.get_str("language_code") or ""
    if not _LANGUAGE.match(language):
        raise bad_request("invalid language code specified")
    return scope_key(call.params.get_object("scope")), language


@api_method("getMe")
async def get_me(call: Call) -> Answer:
    """The bot's own ``User``."""
    assert call.bot.identity is not None, "a bot answering calls has an identity"
    return Answer(call.bot.identity.get_me_json())


@api_method("setMyCommands")
async def set_my_commands(call: Call) -> Answer:
    """Set the command list for a scope and language."""
    commands = call.params.get_list("commands") or []
    if len(commands) > MAX_COMMANDS:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    kept: list[JSON] = []
    for command in commands:
        if not isinstance(command, dict) or not _COMMAND.match(str(command.get("command", ""))):
            raise bad_request("BOT_COMMAND_INVALID")
        description = command.get("description")
        if not isinstance(description, str) or not 1 <= len(description) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        kept.append({"command": command["command"], "description": description})
    key = _commands_key(call)
    if kept:
        call.bot.commands[key] = kept
    else:
        call.bot.commands.pop(key, None)
    return Answer(True)


@api_method("getMyCommands")
async def get_my_commands(call: Call) -> Answer:
    """The command list set for exactly this scope and language (no fallback)."""
    return Answer(copy.deepcopy(call.bot.commands.get(_commands_key(call), [])))


@api_method("deleteMyCommands")
async def delete_my_commands(call: Call) -> Answer:
    """Remove the command list of a scope and language."""
    call.bot.commands.pop(_commands_key(call), None)
    return Answer(True)


@api_method("setChatMenuButton")
async def set_chat_menu_button(call: Call) -> Answer:
    """Set the menu button of one private chat, or the default one."""
    chat_id = resolve_chat(call, check_access=False).chat_id if "chat_id" in call.params else None
    button = call.params.get_object("menu_button") or {"type": "default"}
    if button.get("type") not in ("default", "commands", "web_app"):
        raise bad_request("can't parse menu button JSON object")
    call.bot.menu_buttons[chat_id] = button
    return Answer(True)


@api_method("getChatMenuButton")
async def get_chat_menu_button(call: Call) -> Answer:
    """The menu button of a chat, falling back to the bot's default."""
    chat_id = resolve_chat(call, check_access=False).chat_id if "chat_id" in call.params else None
    buttons = call.bot.menu_buttons
    button = buttons.get(chat_id) or buttons.get(None) or {"type": "default"}
    return Answer(copy.deepcopy(button))


def _text_setting(setting: str, limit: int) -> None:
    """Register ``setMy<Setting>``/``getMy<Setting>`` storing one text per language."""
    field = "".join(("_" + char.lower()) if char.isupper() else char for char in setting).lstrip(
        "_"
    )

    async def set_text(call: Call) -> Answer:
        value = call.params.get_str(field) or ""
        if len(value) > limit:
            raise bad_request(f"{field} is too long")
        language = call.params.get_str("language_code") or ""
        if value:
            call.bot.texts[(field, language)] = value
        else:
            call.bot.texts.pop((field, language), None)
        return Answer(True)

    async def get_text(call: Call) -> Answer:
        language = call.params.get_str("language_code") or ""
        texts = call.bot.texts
        value = texts.get((field, language), texts.get((field, ""), ""))
        if field == "name" and not value and call.bot.identity is not None:
            value = call.bot.identity.first_name
        return Answer({field: value})

    api_method(f"setMy{setting}")(set_text)
    api_method(f"getMy{setting}")(get_text)


_text_setting("Description", 512)
_text_setting("ShortDescription", 120)
_text_setting("Name", 64)


@api_method("logOut")
async def log_out(call: Call) -> Answer:
    """Accepted and ignored."""
    return Answer(True)


@api_method("close")
async def close(call: Call) -> Answer:
    """Accepted and ignored."""
    return Answer(True)
