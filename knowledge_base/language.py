"""Telling English from Simplified Chinese in a parent's message."""

from __future__ import annotations

import re

from knowledge_base.entries import Lang

# CJK Unified Ideographs (+ extension A); enough for Simplified Chinese text.
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def cjk_count(text: str) -> int:
    """Number of Chinese characters in ``text``."""
    return len(_CJK.findall(text))


def detect_language(text: str, default: Lang = "en") -> Lang:
    """Guess whether ``text`` is English or Chinese.

    A Chinese word is about 1.5-2 characters, so the text is Chinese when its Chinese
    characters number at least 1.5 times its Latin words: "孩子骑e-bike要戴头盔吗" is
    Chinese; "what does 双减 mean" and "serious bad behaviour (严重不良行为)" are English.
    Text with neither gives ``default``.
    """
    chinese = cjk_count(text)
    latin = len(_LATIN_WORD.findall(text))
    if chinese == 0 and latin == 0:
        return default
    return "zh" if chinese >= 1.5 * latin else "en"


def normalize_lang(lang: str | None) -> Lang | None:
    """Map user-supplied language codes (``zh-CN``, ``zh-hans``, ``EN``) to ``en``/``zh``."""
    if not lang:
        return None
    code = lang.strip().lower()
    if code.startswith("zh"):
        return "zh"
    if code.startswith("en"):
        return "en"
    raise ValueError(f"unsupported language {lang!r}: expected en or zh")
