"""Text messages: sendMessage, the edit methods and deleteMessage(s)."""

from __future__ import annotations

from ..errors import bad_request
from ..keyboards import split_reply_markup
from ..models import JSON
from ..state import StoredMessage, now
from .base import Answer, Call, Target, api_method, require_int, resolve_chat
from .delivery import deliver, formatted_caption, formatted_text

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


@api_method("sendMessage")
async def send_message(call: Call) -> Answer:
    """Send a text message."""
    target = resolve_chat(call)
    message = deliver(call, target, formatted_text(call))
    return Answer(message.to_json())


def _message_to_edit(call: Call) -> tuple[Target, StoredMessage]:
    if call.params.get_str("inline_message_id"):
        raise bad_request("MESSAGE_ID_INVALID")
    target = resolve_chat(call)
    message_id = require_int(call, "message_id", "message identifier is not specified")
    message = target.conversation.get(message_id)
    if message is None:
        raise bad_request("message to edit not found")
    if not message.from_bot:
        raise bad_request("message can't be edited")
    return target, message


def _inline_markup(call: Call) -> JSON | None:
    inline, other = split_reply_markup(call.params.get_object("reply_markup"))
    if other is not None:
        raise bad_request("inline keyboard expected")
    return inline


def _apply(
    call: Call, target: Target, message: StoredMessage, content: JSON, inline: JSON | None
) -> Answer:
    unchanged = inline == message.inline_markup and all(
        message.content.get(key) == value for key, value in content.items()
    )
    if unchanged:
        raise bad_request(NOT_MODIFIED)
    call.runtime.limiter.acquire(
        call.bot.id, target.chat_id, is_group=target.is_group, is_edit=True
    )
    message.apply_edit(call.method, content, inline, now())
    return Answer(message.to_json())


@api_method("editMessageText")
async def edit_message_text(call: Call) -> Answer:
    """Replace a text message's text; without ``reply_markup`` its inline keyboard goes."""
    target, message = _message_to_edit(call)
    if "text" not in message.content:
        raise bad_request("there is no text in the message to edit")
    content = formatted_text(call)
    return _apply(call, target, message, content, _inline_markup(call))


@api_method("editMessageCaption")
async def edit_message_caption(call: Call) -> Answer:
    """Replace a media message's caption."""
    target, message = _message_to_edit(call)
    if "text" in message.content:
        raise bad_request("there is no caption in the message to edit")
    return _apply(call, target, message, formatted_caption(call), _inline_markup(call))


@api_method("editMessageReplyMarkup")
async def edit_message_reply_markup(call: Call) -> Answer:
    """Replace (or, without ``reply_markup``, remove) a message's inline keyboard."""
    target, message = _message_to_edit(call)
    return _apply(call, target, message, {}, _inline_markup(call))


@api_method("deleteMessage")
async def delete_message(call: Call) -> Answer:
    """Delete one message of the chat."""
    target = resolve_chat(call, check_access=False)
    message_id = require_int(call, "message_id", "message identifier is not specified")
    message = target.conversation.get(message_id)
    if message is None:
        raise bad_request("message to delete not found")
    message.deleted = True
    return Answer(True)


@api_method("deleteMessages")
async def delete_messages(call: Call) -> Answer:
    """Delete several messages; those already gone are skipped, as Telegram does."""
    target = resolve_chat(call, check_access=False)
    message_ids = call.params.get_list("message_ids") or []
    if not 1 <= len(message_ids) <= 100 or not all(isinstance(i, int) for i in message_ids):
        raise bad_request("message_ids must contain 1-100 message identifiers")
    for message_id in message_ids:
        message = target.conversation.get(message_id)
        if message is not None:
            message.deleted = True
    return Answer(True)
