"""answerCallbackQuery: the bot's answer to a pressed inline button."""

from __future__ import annotations

from ..errors import bad_request
from .base import Answer, Call, api_method

MAX_ANSWER_LENGTH = 200


@api_method("answerCallbackQuery")
async def answer_callback_query(call: Call) -> Answer:
    """Answer a button press once; the simulated user's ``press_button`` receives it."""
    query_id = call.params.get_str("callback_query_id") or ""
    pending = call.bot.callbacks.get(query_id)
    if pending is None or pending.answer.done():
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text = call.params.get_str("text")
    if text is not None and len(text) > MAX_ANSWER_LENGTH:
        raise bad_request("MESSAGE_TOO_LONG")
    pending.answer.set_result(
        {
            "text": text,
            "show_alert": call.params.get_bool("show_alert"),
            "url": call.params.get_str("url"),
            "cache_time": call.params.get_int("cache_time"),
        }
    )
    return Answer(True)
