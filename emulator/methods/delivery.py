"""What every sending method does once its content is ready: record the bot's message."""

from __future__ import annotations

from ..errors import bad_request
from ..formatting import format_text, utf16_len
from ..keyboards import split_reply_markup
from ..models import JSON
from ..state import StoredMessage, now
from .base import Call, Target

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024


def formatted_text(call: Call, field: str = "text") -> JSON:
    """``text`` + ``parse_mode``/``entities`` as Telegram stores them, checked."""
    raw = call.params.get_str(field)
    if not raw:
        raise bad_request("message text is empty")
    text, entities = format_text(
        raw, call.params.get_str("parse_mode"), call.params.get_list("entities")
    )
    if not text:
        raise bad_request("message text is empty")
    if utf16_len(text) > MAX_TEXT_LENGTH:
        raise bad_request("message is too long")
    return {"text": text, "entities": entities or None}


def formatted_caption(call: Call) -> JSON:
    """``caption`` + ``parse_mode``/``caption_entities``, checked; empty when absent."""
    raw = call.params.get_str("caption")
    if not raw:
        return {"caption": None, "caption_entities": None}
    caption, entities = format_text(
        raw, call.params.get_str("parse_mode"), call.params.get_list("caption_entities")
    )
    if utf16_len(caption) > MAX_CAPTION_LENGTH:
        raise bad_request("message caption is too long")
    return {"caption": caption or None, "caption_entities": entities or None}


def reply_target(call: Call, target: Target) -> StoredMessage | None:
    """The message replied to (``reply_parameters`` or the older ``reply_to_message_id``)."""
    parameters = call.params.get_object("reply_parameters")
    if parameters is not None:
        raw_id = parameters.get("message_id")
        allow_missing = bool(parameters.get("allow_sending_without_reply"))
    else:
        raw_id = call.params.get_int("reply_to_message_id")
        allow_missing = call.params.get_bool("allow_sending_without_reply")
    if raw_id is None:
        return None
    try:
        replied = target.conversation.get(int(raw_id))
    except (TypeError, ValueError):
        replied = None
    if replied is None and not allow_missing:
        raise bad_request("message to be replied not found")
    return replied


def deliver(call: Call, target: Target, content: JSON) -> StoredMessage:
    """Check markup, reply and flood limits, then record a bot message in the chat."""
    inline, other = split_reply_markup(call.params.get_object("reply_markup"))
    replied = reply_target(call, target)
    extra: JSON = {}
    preview = call.params.get_object("link_preview_options")
    if preview:
        extra["link_preview_options"] = preview
    elif call.params.get_bool("disable_web_page_preview"):
        extra["link_preview_options"] = {"is_disabled": True}
    if call.params.get_bool("protect_content"):
        extra["has_protected_content"] = True
    call.runtime.limiter.acquire(call.bot.id, target.chat_id, is_group=target.is_group)
    message = StoredMessage(
        message_id=target.conversation.next_message_id(),
        chat=target.chat,
        date=now(),
        sender=call.bot.user_json(),
        from_bot=True,
        content={key: value for key, value in content.items() if value is not None},
        extra=extra,
        inline_markup=inline,
        reply_keyboard=other,
        reply_to=replied,
    )
    target.conversation.add(message)
    call.runtime.stats.record_message(call.bot.id, target.chat_id, message.text)
    return message
