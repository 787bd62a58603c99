"""parse_mode handling: Telegram's plain text, UTF-16 entity offsets and parse errors."""

from __future__ import annotations

import pytest

from emulator.errors import ApiError
from emulator.formatting import detect_commands, format_text


def _entities(text: str, mode: str) -> tuple[str, list[tuple[str, int, int]]]:
    plain, entities = format_text(text, mode, None)
    return plain, [(e["type"], e["offset"], e["length"]) for e in entities]


def test_html_offsets_count_utf16_units() -> None:
    plain, entities = _entities(
        "😀 <b>粗体</b> <a href='https://x.cn/?a=1&amp;b=2'>link</a>", "HTML"
    )
    assert plain == "😀 粗体 link"
    assert entities == [("bold", 3, 2), ("text_link", 6, 4)]
    _, raw = format_text("<a href='https://x.cn/?a=1&amp;b=2'>l</a>", "HTML", None)
    assert raw[0]["url"] == "https://x.cn/?a=1&b=2"


def test_html_pre_with_language_and_escapes() -> None:
    plain, raw = format_text(
        '<pre><code class="language-python">a &lt; b</code></pre>', "HTML", None
    )
    assert plain == "a < b"
    assert raw == [{"type": "pre", "offset": 0, "length": 5, "language": "python"}]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<script>x</script>", 'Unsupported start tag "script" at byte offset 0'),
        ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'expected "</b>", found "</i>"'),
        ("a < b", "at byte offset 2"),
    ],
)
def test_html_errors(text: str, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        format_text(text, "HTML", None)
    assert caught.value.error_code == 400
    assert caught.value.description.startswith("Bad Request: can't parse entities: ")
    assert message in caught.value.description


def test_markdown_v2() -> None:
    plain, entities = _entities(
        r"*bold* _it_ __under__ ~s~ ||sp|| `c\`d` [l](https://a.b/\)) 1\.5", "MarkdownV2"
    )
    assert plain == "bold it under s sp c`d l 1.5"
    assert entities == [
        ("bold", 0, 4),
        ("italic", 5, 2),
        ("underline", 8, 5),
        ("strikethrough", 14, 1),
        ("spoiler", 16, 2),
        ("code", 19, 3),
        ("text_link", 23, 1),
    ]
    with pytest.raises(ApiError, match=r"Character '\.' is reserved"):
        format_text("Score: 1.5", "MarkdownV2", None)
    with pytest.raises(ApiError, match="Can't find end of Bold entity at byte offset 0"):
        format_text("*open", "MarkdownV2", None)


def test_explicit_entities_win_and_text_is_trimmed() -> None:
    given = [{"type": "bold", "offset": 2, "length": 2}]
    assert format_text("  <b>  ", "HTML", given) == (
        "<b>",
        [{"type": "bold", "offset": 0, "length": 2}],
    )
    assert format_text("\n hi \n", None, None) == ("hi", [])


def test_commands_are_detected() -> None:
    assert detect_commands("/start abc") == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert detect_commands("see /help@school_bot now")[0]["length"] == 16
    assert detect_commands("and/or") == []
