"""Greetings and thanks are not questions for the knowledge base."""

from __future__ import annotations

import re
from typing import Literal

SmallTalk = Literal["greeting", "thanks"]

_GREETINGS = {
    "hi",
    "hello",
    "hey",
    "good morning",
    "good afternoon",
    "good evening",
    "hi there",
    "hello there",
    "你好",
    "您好",
    "嗨",
    "哈喽",
    "早",
    "早上好",
    "上午好",
    "下午好",
    "晚上好",
    "在吗",
    "在不在",
    "老师好",
}
_THANKS = {
    "thanks",
    "thank you",
    "thank you very much",
    "thanks a lot",
    "thx",
    "ok thanks",
    "ok thank you",
    "谢谢",
    "谢谢你",
    "谢谢您",
    "多谢",
    "感谢",
    "好的谢谢",
    "好的，谢谢",
    "收到谢谢",
}
_NOISE = re.compile(r"[\s!！?？.。,，~～:：;；…]+")


def small_talk(text: str) -> SmallTalk | None:
    """ "greeting" or "thanks" when the whole message is one, else None."""
    normalised = _NOISE.sub(" ", text.lower()).strip()
    if normalised in _GREETINGS:
        return "greeting"
    if normalised in _THANKS or normalised.replace(" ", "") in _THANKS:
        return "thanks"
    return None
