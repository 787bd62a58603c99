"""The Bot API methods the emulator speaks, registered by name on import."""

from __future__ import annotations

from . import callbacks, chats, media, messages, settings, updates
from .base import Answer, Call, MethodSpec, dispatch, lookup, method_names

__all__ = [
    "Answer",
    "Call",
    "MethodSpec",
    "callbacks",
    "chats",
    "dispatch",
    "lookup",
    "media",
    "messages",
    "method_names",
    "settings",
    "updates",
]
