"""Language detection and language codes."""

from __future__ import annotations

import pytest

from knowledge_base.language import detect_language, normalize_lang


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("how much screen time is ok for a 6 year old", "en"),
        ("孩子每天看多久手机合适", "zh"),
        ("孩子骑e-bike要戴头盔吗", "zh"),  # Chinese with an English term
        ("what does 双减 mean for homework", "en"),  # English with a Chinese term
        ("我女儿的iPad怎么设置parental controls", "zh"),
        ("?!", "en"),  # nothing to go on: the default
        ("12355", "en"),
    ],
)
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


def test_detect_language_default_is_used_for_empty_text() -> None:
    assert detect_language("  ", default="zh") == "zh"


@pytest.mark.parametrize(
    ("code", "expected"), [("en", "en"), ("EN-gb", "en"), ("zh-CN", "zh"), ("zh-hans", "zh")]
)
def test_normalize_lang(code: str, expected: str) -> None:
    assert normalize_lang(code) == expected


def test_normalize_lang_none_and_unsupported() -> None:
    assert normalize_lang(None) is None
    with pytest.raises(ValueError, match="unsupported"):
        normalize_lang("fr")
