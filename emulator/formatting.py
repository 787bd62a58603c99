"""Message formatting: ``parse_mode`` (HTML, MarkdownV2, Markdown) to plain text + entities.

Telegram parses formatted text on its side and returns the plain text with ``entities``
whose offsets and lengths count UTF-16 code units; this module does the same, and fails
the way Telegram does (``Bad Request: can't parse entities: ...``) on markup Telegram
rejects, so a bot that forgets to escape user input fails here as it would in production.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import ApiError, bad_request
from .models import JSON

_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_ENTITY = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]+);")
_HTML_ATTRIBUTE = re.compile(
    r"""([a-zA-Z_:-][a-zA-Z0-9_:.-]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?"""
)
_MARKDOWN_V2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MARKDOWN_V2_TOGGLES = (
    ("||", "spoiler"),
    ("__", "underline"),
    ("*", "bold"),
    ("_", "italic"),
    ("~", "strikethrough"),
)
_ENTITY_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}
_COMMAND = re.compile(r"(?<!\S)/[a-zA-Z0-9_]{1,32}(?:@[a-zA-Z0-9_]{3,32})?(?![^\s])")


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Telegram's entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def parse_error(detail: str) -> ApiError:
    """The 400 Telegram answers for markup it cannot parse."""
    return bad_request(f"can't parse entities: {detail}")


def format_text(
    text: str, parse_mode: str | None, entities: list[JSON] | None
) -> tuple[str, list[JSON]]:
    """Turn a message's raw text into what Telegram stores: plain text and entities.

    Explicit ``entities`` win over ``parse_mode``, as in the Bot API. Leading and trailing
    whitespace is trimmed as Telegram does.
    """
    if entities is not None:
        plain, found = text, [_checked_entity(entity) for entity in entities]
    elif not parse_mode:
        plain, found = text, []
    else:
        mode = parse_mode.lower()
        if mode == "html":
            plain, found = _HtmlParser(text).parse()
        elif mode == "markdownv2":
            plain, found = _MarkdownV2Parser(text).parse()
        elif mode == "markdown":
            plain, found = _parse_legacy_markdown(text)
        else:
            raise bad_request("unsupported parse_mode")
    return _strip(plain, found)


def _checked_entity(entity: object) -> JSON:
    if not (
        isinstance(entity, dict)
        and isinstance(entity.get("type"), str)
        and isinstance(entity.get("offset"), int)
        and isinstance(entity.get("length"), int)
    ):
        raise bad_request("can't parse entities JSON object")
    return dict(entity)


def detect_commands(text: str) -> list[JSON]:
    """``bot_command`` entities Telegram adds to a user's message (``/start``, ``/help@bot``)."""
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: match.start()]),
            "length": utf16_len(match.group()),
        }
        for match in _COMMAND.finditer(text)
    ]


def _strip(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    stripped = text.strip()
    if stripped == text:
        return text, _sorted(entities)
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    kept: list[JSON] = []
    for entity in entities:
        start = max(0, int(entity["offset"]) - lead)
        end = min(size, int(entity["offset"]) + int(entity["length"]) - lead)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, _sorted(kept)


def _sorted(entities: list[JSON]) -> list[JSON]:
    return sorted(entities, key=lambda e: (int(e["offset"]), -int(e["length"])))


@dataclass
class _Open:
    """An entity whose start was seen and whose end is awaited."""

    type: str
    start: int
    byte_offset: int
    tag: str = ""
    attrs: dict[str, str] = field(default_factory=dict)


class _Output:
    """Plain text being built, with the UTF-16 position needed for entity offsets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.position = 0
        self.entities: list[JSON] = []

    def write(self, chunk: str) -> None:
        self.parts.append(chunk)
        self.position += utf16_len(chunk)

    def close(self, opened: _Open, **extra: str) -> None:
        length = self.position - opened.start
        if length > 0:
            self.entities.append(
                {"type": opened.type, "offset": opened.start, "length": length, **extra}
            )

    def result(self) -> tuple[str, list[JSON]]:
        return "".join(self.parts), self.entities


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


class _HtmlParser:
    """Telegram's HTML subset; anything else is an error, as in the Bot API."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.out = _Output()
        self.stack: list[_Open] = []

    def parse(self) -> tuple[str, list[JSON]]:
        source, index = self.source, 0
        while index < len(source):
            char = source[index]
            if char == "<":
                index = self._tag(index)
            elif char == "&":
                match = _HTML_ENTITY.match(source, index)
                decoded = _decode_html_entity(match.group(1)) if match else None
                if match and decoded is not None:
                    self.out.write(decoded)
                    index = match.end()
                else:
                    self.out.write("&")
                    index += 1
            else:
                self.out.write(char)
                index += 1
        if self.stack:
            raise parse_error(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].tag}"'
            )
        return self.out.result()

    def _tag(self, index: int) -> int:
        offset = _byte_offset(self.source, index)
        end = self.source.find(">", index)
        if end == -1:
            raise parse_error(f"Unclosed start tag at byte offset {offset}")
        inner = self.source[index + 1 : end].strip()
        if inner.startswith("/"):
            self._end_tag(inner[1:].strip().lower(), offset)
        else:
            self._start_tag(inner, offset)
        return end + 1

    def _start_tag(self, inner: str, offset: int) -> None:
        name, _, rest = inner.partition(" ")
        name = name.lower().rstrip("/")
        if name not in _HTML_TAGS:
            raise parse_error(f'Unsupported start tag "{name}" at byte offset {offset}')
        attrs = {
            match.group(1).lower(): _unescape_html(
                match.group(2) or match.group(3) or match.group(4) or ""
            )
            for match in _HTML_ATTRIBUTE.finditer(rest)
        }
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise parse_error(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
        entity_type = _HTML_TAGS[name]
        if name == "blockquote" and "expandable" in attrs:
            entity_type = "expandable_blockquote"
        self.stack.append(_Open(entity_type, self.out.position, offset, name, attrs))

    def _end_tag(self, name: str, offset: int) -> None:
        if not self.stack:
            raise parse_error(f'Unexpected end tag "{name}" at byte offset {offset}')
        opened = self.stack.pop()
        if opened.tag != name:
            raise parse_error(
                f'Unmatched end tag at byte offset {offset}, expected "</{opened.tag}>", '
                f'found "</{name}>"'
            )
        if opened.type == "text_link":
            if href := opened.attrs.get("href"):
                self.out.close(opened, url=href)
        elif opened.type == "custom_emoji":
            self.out.close(opened, custom_emoji_id=opened.attrs.get("emoji-id", ""))
        elif opened.type == "code" and self.stack and self.stack[-1].type == "pre":
            # <pre><code class="language-x"> is one pre entity with a language.
            language = opened.attrs.get("class", "").removeprefix("language-")
            if language:
                self.stack[-1].attrs["language"] = language
        elif opened.type == "pre" and opened.attrs.get("language"):
            self.out.close(opened, language=opened.attrs["language"])
        else:
            self.out.close(opened)


def _decode_html_entity(name: str) -> str | None:
    if name.startswith(("#x", "#X")):
        code = int(name[2:], 16)
    elif name.startswith("#"):
        code = int(name[1:])
    else:
        return _HTML_NAMED_ENTITIES.get(name)
    return chr(code) if 0 < code <= 0x10FFFF else None


def _unescape_html(value: str) -> str:
    def replace(match: re.Match[str]) -> str:
        decoded = _decode_html_entity(match.group(1))
        return match.group() if decoded is None else decoded

    return _HTML_ENTITY.sub(replace, value)


class _MarkdownV2Parser:
    """Telegram's MarkdownV2, including its rule that reserved characters be escaped."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.out = _Output()
        self.stack: list[_Open] = []
        self.quote: _Open | None = None

    def parse(self) -> tuple[str, list[JSON]]:
        source, index = self.source, 0
        while index < len(source):
            index = self._step(index)
        if self.quote is not None:
            self.out.close(self.quote)
        if self.stack:
            opened = self.stack[-1]
            raise parse_error(
                f"Can't find end of {_ENTITY_NAMES.get(opened.type, opened.type)} entity "
                f"at byte offset {opened.byte_offset}"
            )
        return self.out.result()

    def _step(self, index: int) -> int:
        source = self.source
        char = source[index]
        if char == "\\":
            if index + 1 < len(source) and 0 < ord(source[index + 1]) < 127:
                self.out.write(source[index + 1])
                return index + 2
            raise self._reserved("\\")
        if char == "`":
            return self._code(index)
        if char == "\n":
            if self.quote is not None and not source.startswith(">", index + 1):
                self.out.close(self.quote)
                self.quote = None
            self.out.write("\n")
            return index + 1
        if char == ">" and (index == 0 or source[index - 1] == "\n"):
            if self.quote is None:
                self.quote = _Open("blockquote", self.out.position, 0)
            return index + 1
        for marker, entity_type in _MARKDOWN_V2_TOGGLES:
            if source.startswith(marker, index):
                self._toggle(entity_type, index)
                return index + len(marker)
        if char == "[" or (char == "!" and source.startswith("![", index)):
            entity_type = "custom_emoji" if char == "!" else "text_link"
            self.stack.append(_Open(entity_type, self.out.position, _byte_offset(source, index)))
            return index + (2 if char == "!" else 1)
        if char == "]":
            return self._link_end(index)
        if char in _MARKDOWN_V2_RESERVED:
            raise self._reserved(char)
        self.out.write(char)
        return index + 1

    def _toggle(self, entity_type: str, index: int) -> None:
        for position in range(len(self.stack) - 1, -1, -1):
            if self.stack[position].type == entity_type:
                self.out.close(self.stack.pop(position))
                return
        self.stack.append(_Open(entity_type, self.out.position, _byte_offset(self.source, index)))

    def _code(self, index: int) -> int:
        source = self.source
        fence = "```" if source.startswith("```", index) else "`"
        entity_type = "pre" if fence == "```" else "code"
        body_start = index + len(fence)
        end = _find_unescaped(source, fence, body_start)
        if end == -1:
            raise parse_error(
                f"Can't find end of {entity_type.capitalize()} entity at byte offset "
                f"{_byte_offset(source, index)}"
            )
        body = source[body_start:end]
        language = ""
        if fence == "```" and "\n" in body:
            first_line, rest = body.split("\n", 1)
            if first_line and not any(c.isspace() for c in first_line):
                language, body = first_line, rest
        opened = _Open(entity_type, self.out.position, 0)
        self.out.write(re.sub(r"\\(.)", r"\1", body, flags=re.DOTALL))
        if language:
            self.out.close(opened, language=language)
        else:
            self.out.close(opened)
        return end + len(fence)

    def _link_end(self, index: int) -> int:
        source = self.source
        if not self.stack or self.stack[-1].type not in ("text_link", "custom_emoji"):
            raise self._reserved("]")
        if not source.startswith("(", index + 1):
            raise self._reserved("]")
        close = _find_unescaped(source, ")", index + 2)
        if close == -1:
            raise parse_error(
                f"Can't find end of a URL at byte offset {_byte_offset(source, index + 1)}"
            )
        url = re.sub(r"\\(.)", r"\1", source[index + 2 : close])
        opened = self.stack.pop()
        if opened.type == "custom_emoji":
            self.out.close(opened, custom_emoji_id=url.rpartition("id=")[2])
        else:
            self.out.close(opened, url=url)
        return close + 1

    def _reserved(self, char: str) -> ApiError:
        return parse_error(
            f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
        )


def _find_unescaped(source: str, needle: str, start: int) -> int:
    index = start
    while index < len(source):
        if source[index] == "\\":
            index += 2
            continue
        if source.startswith(needle, index):
            return index
        index += 1
    return -1


def _parse_legacy_markdown(source: str) -> tuple[str, list[JSON]]:
    """The old ``Markdown`` mode: ``*bold*``, ``_italic_``, code, pre and links, no nesting."""
    out = _Output()
    index = 0
    simple = {"*": "bold", "_": "italic"}
    while index < len(source):
        char = source[index]
        offset = _byte_offset(source, index)
        if char == "\\" and index + 1 < len(source) and source[index + 1] in "_*`[":
            out.write(source[index + 1])
            index += 2
            continue
        if char in simple or char in "`[":
            fence = "```" if source.startswith("```", index) else char
            closer = {"[": "]"}.get(fence, fence)
            end = source.find(closer, index + len(fence))
            if end == -1:
                raise parse_error(f"Can't find end of the entity starting at byte offset {offset}")
            opened = _Open(simple.get(char, "pre" if fence == "```" else "code"), out.position, 0)
            out.write(source[index + len(fence) : end])
            index = end + len(closer)
            if char == "[":
                url_end = source.find(")", index)
                if not source.startswith("(", index) or url_end == -1:
                    raise parse_error(
                        f"Can't find end of the entity starting at byte offset {offset}"
                    )
                out.close(_Open("text_link", opened.start, 0), url=source[index + 1 : url_end])
                index = url_end + 1
            else:
                out.close(opened)
            continue
        out.write(char)
        index += 1
    return out.result()
