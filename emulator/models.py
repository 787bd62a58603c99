"""Simulated users and chats, and the Telegram JSON shapes built from them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

JSON: TypeAlias = dict[str, Any]
"""A JSON object as Telegram sends it."""

ChatType: TypeAlias = Literal["group", "supergroup"]


@dataclass(frozen=True)
class SimUser:
    """A simulated Telegram user. Their private chat with a bot has ``chat_id == id``."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    @property
    def chat_id(self) -> int:
        """The id of this user's private chat with any bot."""
        return self.id

    @property
    def full_name(self) -> str:
        """First and last name, as clients show them."""
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name

    def to_json(self) -> JSON:
        """The ``User`` object of this user."""
        user: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def chat_json(self) -> JSON:
        """The ``Chat`` object of this user's private chat."""
        chat: JSON = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            chat["last_name"] = self.last_name
        if self.username:
            chat["username"] = self.username
        return chat


@dataclass(frozen=True)
class SimGroup:
    """A simulated group or supergroup; every bot of the emulator is a member."""

    id: int
    title: str
    type: ChatType = "group"

    @property
    def chat_id(self) -> int:
        """The chat id (negative, ``-100…`` for supergroups)."""
        return self.id

    def chat_json(self) -> JSON:
        """The ``Chat`` object of this group."""
        return {"id": self.id, "type": self.type, "title": self.title}


@dataclass(frozen=True)
class BotIdentity:
    """Who a bot token is: the ``User`` the bot appears as."""

    id: int
    first_name: str
    username: str

    def to_json(self) -> JSON:
        """The ``User`` object that appears in the bot's messages."""
        return {
            "id": self.id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }

    def get_me_json(self) -> JSON:
        """The result of ``getMe``."""
        return {
            **self.to_json(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }


ChatTarget: TypeAlias = SimUser | SimGroup | int
"""Where a simulated action happens: a user (their private chat), a group or a raw chat id."""


def chat_id_of(target: ChatTarget) -> int:
    """The chat id a target stands for."""
    return target if isinstance(target, int) else target.chat_id


def user_id_of(user: SimUser | int) -> int:
    """The user id of a user or an id."""
    return user if isinstance(user, int) else user.id
