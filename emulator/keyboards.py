"""``reply_markup``: validated as Telegram does, and read back for tests."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .errors import bad_request
from .models import JSON

_INLINE_ACTIONS = (
    "callback_data",
    "url",
    "login_url",
    "web_app",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_URL_SCHEMES = ("http://", "https://", "tg://")
MAX_CALLBACK_DATA_BYTES = 64


def split_reply_markup(markup: JSON | None) -> tuple[JSON | None, JSON | None]:
    """Validate ``reply_markup``; return (inline keyboard, other markup).

    Only inline keyboards are part of a Message object; reply keyboards, keyboard removal
    and force-reply are instructions to the client, kept separately for tests.
    """
    if markup is None:
        return None, None
    if "inline_keyboard" in markup:
        return validate_inline_keyboard(markup), None
    if "keyboard" in markup:
        _validate_reply_keyboard(markup)
        return None, markup
    if markup.get("remove_keyboard") or markup.get("force_reply"):
        return None, markup
    raise bad_request("can't parse reply keyboard markup JSON object")


def validate_inline_keyboard(markup: JSON) -> JSON | None:
    """The inline keyboard as Telegram echoes it, or None when it has no buttons."""
    rows = markup.get("inline_keyboard")
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
        )
    kept = [[_inline_button(button) for button in row] for row in rows if row]
    return {"inline_keyboard": kept} if kept else None


def _inline_button(button: Any) -> JSON:
    if not isinstance(button, dict):
        raise bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    if not isinstance(button.get("text"), str):
        raise bad_request(
            'can\'t parse inline keyboard button: Field "text" must be of type String'
        )
    actions = [name for name in _INLINE_ACTIONS if button.get(name) is not None]
    if not actions:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    data = button.get("callback_data")
    if data is not None and (
        not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
    ):
        raise bad_request("BUTTON_DATA_INVALID")
    url = button.get("url")
    if url is not None and (not isinstance(url, str) or not url.startswith(_URL_SCHEMES)):
        raise bad_request("BUTTON_URL_INVALID")
    return dict(button)


def _validate_reply_keyboard(markup: JSON) -> None:
    rows = markup.get("keyboard")
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'field "keyboard" of the ReplyKeyboardMarkup should be an Array of Arrays'
        )
    for row in rows:
        for button in row:
            text = (
                button
                if isinstance(button, str)
                else (button.get("text") if isinstance(button, dict) else None)
            )
            if not isinstance(text, str):
                raise bad_request(
                    'can\'t parse keyboard button: Field "text" must be of type String'
                )


def iter_buttons(message: Mapping[str, Any]) -> Iterator[JSON]:
    """Every button of a message: its inline keyboard, else the reply keyboard sent with it."""
    inline = message.get("reply_markup")
    if isinstance(inline, dict) and "inline_keyboard" in inline:
        for row in inline["inline_keyboard"]:
            yield from row
        return
    other = message.get("reply_keyboard")
    if isinstance(other, dict):
        for row in other.get("keyboard", []):
            for button in row:
                yield {"text": button} if isinstance(button, str) else button


def button_texts(message: Mapping[str, Any]) -> list[str]:
    """The labels of a message's buttons, row by row."""
    return [str(button.get("text", "")) for button in iter_buttons(message)]


def callback_data_of(message: Mapping[str, Any], text: str) -> str:
    """The ``callback_data`` of the button labelled ``text``, or ValueError."""
    for button in iter_buttons(message):
        if button.get("text") == text and isinstance(button.get("callback_data"), str):
            return str(button["callback_data"])
    raise ValueError(f"no callback button {text!r}; buttons: {button_texts(message)!r}")


def callback_datas(markup: JSON | None) -> list[str]:
    """Every ``callback_data`` of an inline keyboard."""
    if not markup:
        return []
    return [
        str(button["callback_data"])
        for row in markup.get("inline_keyboard", [])
        for button in row
        if isinstance(button.get("callback_data"), str)
    ]
