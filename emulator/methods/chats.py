"""Chats: getChat, getChatMember(Count), sendChatAction, leaveChat."""

from __future__ import annotations

from ..errors import bad_request
from .base import Answer, Call, api_method, require_int, resolve_chat

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_NO_GIFTS = {
    "unlimited_gifts": False,
    "limited_gifts": False,
    "unique_gifts": False,
    "premium_subscription": False,
    "gifts_from_channels": False,
}


@api_method("getChat")
async def get_chat(call: Call) -> Answer:
    """The ``ChatFullInfo`` of a private chat or group."""
    target = resolve_chat(call, check_access=False)
    info = {
        **target.chat,
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": dict(_NO_GIFTS),
    }
    group = call.runtime.state.groups.get(target.chat_id)
    if group is not None and group.migrated_to is not None:
        info["migrate_to_chat_id"] = group.migrated_to
    return Answer(info)


@api_method("getChatMember")
async def get_chat_member(call: Call) -> Answer:
    """A user's membership: ``member`` of their private chat and of groups they are in."""
    target = resolve_chat(call, check_access=False)
    user_id = require_int(call, "user_id", "user_id is empty")
    state = call.runtime.state
    if user_id == call.bot.id:
        return Answer({"status": "member", "user": call.bot.user_json()})
    record = state.users.get(user_id)
    if record is None:
        raise bad_request("user not found")
    group = state.groups.get(target.chat_id)
    is_member = user_id in group.members if group is not None else user_id == target.chat_id
    if not is_member:
        return Answer({"status": "left", "user": record.user.to_json()})
    return Answer({"status": "member", "user": record.user.to_json()})


@api_method("getChatMemberCount")
async def get_chat_member_count(call: Call) -> Answer:
    """Members of a group plus the bot; 2 in a private chat."""
    target = resolve_chat(call, check_access=False)
    group = call.runtime.state.groups.get(target.chat_id)
    return Answer(len(group.members) + 1 if group is not None else 2)


@api_method("sendChatAction")
async def send_chat_action(call: Call) -> Answer:
    """Show "typing…" and the like; recorded in the bot's ``chat_actions``."""
    target = resolve_chat(call)
    action = call.params.get_str("action")
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    call.bot.chat_actions.append((target.chat_id, action))
    return Answer(True)


@api_method("leaveChat")
async def leave_chat(call: Call) -> Answer:
    """Accepted; the emulator keeps bots in every group."""
    resolve_chat(call, check_access=False)
    return Answer(True)
