"""What simulated users do to a bot, and what tests read back from the chats.

:class:`UserActions` is shared by :class:`~emulator.TelegramEmulator` (acting on the only
bot) and :class:`BotHandle` (acting on one bot among several).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, TypeAlias

from .formatting import detect_commands, utf16_len
from .keyboards import button_texts, callback_data_of, callback_datas
from .methods.settings import scope_key
from .models import JSON, ChatTarget, SimGroup, SimUser, chat_id_of
from .runtime import Runtime
from .state import BotState, PendingCallback, StoredMessage, chat_instance, now

MessageRef: TypeAlias = Mapping[str, Any] | int
"""A message: a Message dict (``message_id`` and ``chat.id`` are used) or a message id."""


def _message_address(message: MessageRef, default_chat: int) -> tuple[int, int]:
    if isinstance(message, int):
        return default_chat, message
    chat = message.get("chat")
    chat_id = int(chat["id"]) if isinstance(chat, Mapping) else default_chat
    return chat_id, int(message["message_id"])


class UserActions:
    """Simulated users acting on one bot, and the chat records tests assert on."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def _target_bot(self) -> BotState:
        raise NotImplementedError

    # What users do.

    async def send_text(
        self,
        user: SimUser,
        text: str,
        *,
        chat: SimGroup | int | None = None,
        reply_to: MessageRef | None = None,
    ) -> JSON:
        """``user`` writes ``text`` to the bot (privately, or in ``chat``); returns the Message.

        ``bot_command`` entities are added as Telegram clients do.
        """
        content: JSON = {"text": text}
        if entities := detect_commands(text):
            content["entities"] = entities
        return self._post(user, content, chat, reply_to)

    async def send_command(
        self,
        user: SimUser,
        command: str,
        args: str | None = None,
        *,
        chat: SimGroup | int | None = None,
    ) -> JSON:
        """``user`` sends ``/command args`` (``/command@bot args`` in a group)."""
        head = "/" + command.lstrip("/")
        bot = self._target_bot()
        if chat is not None and bot.identity is not None:
            head += f"@{bot.identity.username}"
        text = f"{head} {args}" if args else head
        content: JSON = {
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": utf16_len(head)}],
        }
        return self._post(user, content, chat, None)

    async def send_document(
        self,
        user: SimUser,
        filename: str,
        data: bytes,
        *,
        mime_type: str | None = None,
        caption: str | None = None,
        chat: SimGroup | int | None = None,
    ) -> JSON:
        """``user`` sends a file; the bot can fetch it with getFile and download it."""
        stored = self._runtime.state.files.add(
            data, kind="documents", file_name=filename, mime_type=mime_type
        )
        content: JSON = {"document": stored.document_json()}
        if caption:
            content["caption"] = caption
        return self._post(user, content, chat, None)

    async def send_contact(
        self, user: SimUser, phone_number: str, *, chat: SimGroup | int | None = None
    ) -> JSON:
        """``user`` shares their own contact (as a ``request_contact`` button does)."""
        contact: JSON = {
            "phone_number": phone_number,
            "first_name": user.first_name,
            "user_id": user.id,
        }
        if user.last_name:
            contact["last_name"] = user.last_name
        return self._post(user, {"contact": contact}, chat, None)

    async def press_button(
        self,
        user: SimUser,
        message: MessageRef,
        data: str,
        *,
        from_user: SimUser | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - a bound on waiting for the bot, not I/O
        check_button: bool = True,
    ) -> JSON | None:
        """Press the inline button carrying ``data`` on a bot message in ``user``'s chat.

        ``from_user`` makes someone else press it (a forged or group press). Returns the
        bot's answerCallbackQuery (``text``, ``show_alert``, ``url``, ``cache_time``), or
        None if the bot did not answer within ``timeout`` seconds. ``check_button=False``
        allows data that is on no button of the message.
        """
        bot = self._target_bot()
        chat_id, message_id = _message_address(message, user.id)
        conversation = bot.conversations.get(chat_id)
        stored = conversation.get(message_id) if conversation else None
        if stored is None or not stored.from_bot:
            raise ValueError(f"no live bot message {message_id} in chat {chat_id}")
        if check_button and data not in callback_datas(stored.inline_markup):
            raise ValueError(
                f"message {message_id} has no button with callback_data {data!r}; "
                f"it has {callback_datas(stored.inline_markup)!r}"
            )
        query_id = self._runtime.state.next_callback_id()
        answer: asyncio.Future[JSON] = asyncio.get_running_loop().create_future()
        bot.callbacks[query_id] = PendingCallback(query_id, answer)
        query: JSON = {
            "id": query_id,
            "from": (from_user or user).to_json(),
            "message": stored.to_json(),
            "chat_instance": chat_instance(bot.id, chat_id),
            "data": data,
        }
        if bot.enqueue("callback_query", query) is None:
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(answer), timeout)
        except TimeoutError:
            return None

    def _post(
        self,
        user: SimUser,
        content: JSON,
        chat: SimGroup | int | None,
        reply_to: MessageRef | None,
    ) -> JSON:
        state = self._runtime.state
        record = state.user(user.id)
        bot = self._target_bot()
        if chat is None:
            chat_id, chat_json = user.id, record.user.chat_json()
            if state.is_blocked(bot, user.id):
                raise ValueError(f"{user.full_name} blocked the bot; unblock them first")
        else:
            group = state.group(chat_id_of(chat))
            if group.migrated_to is not None:
                raise ValueError(f"group {group.group.id} became {group.migrated_to}")
            if user.id not in group.members:
                raise ValueError(f"{user.full_name} is not a member of {group.group.title!r}")
            chat_id, chat_json = group.group.id, group.group.chat_json()
        conversation = bot.conversation(chat_id)
        replied = None
        if reply_to is not None:
            replied = conversation.get(_message_address(reply_to, chat_id)[1])
            if replied is None:
                raise ValueError(f"no message to reply to in chat {chat_id}")
        message = StoredMessage(
            message_id=conversation.next_message_id(),
            chat=chat_json,
            date=now(),
            sender=user.to_json(),
            from_bot=False,
            content=content,
            reply_to=replied,
        )
        conversation.add(message)
        if chat is None:
            bot.started.add(user.id)
        bot.enqueue("message", message.to_json())
        return message.to_json()

    # What tests read back.

    async def wait_for_messages(
        self,
        chat: ChatTarget,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a bound on waiting for the bot, not I/O
    ) -> list[JSON]:
        """Wait for ``count`` bot messages in ``chat`` not read yet, and return them.

        Raises TimeoutError saying what did arrive. Each message is a :meth:`chat_log` entry.
        """
        conversation = self._target_bot().conversation(chat_id_of(chat))
        messages = await conversation.wait_for_bot_messages(count, timeout)
        return [message.log_entry() for message in messages]

    def chat_log(self, chat: ChatTarget, *, include_user: bool = False) -> list[JSON]:
        """Every bot message in ``chat``, oldest first (with the user's if ``include_user``).

        Entries are Message dicts plus ``edits`` (one entry per edit: ``method``,
        ``edit_date`` and the content after it), ``original`` (the content as first sent),
        ``deleted`` and ``reply_keyboard`` (a reply keyboard / removal / force_reply sent
        with the message, which Telegram does not echo).
        """
        conversation = self._target_bot().conversations.get(chat_id_of(chat))
        if conversation is None:
            return []
        return [
            message.log_entry()
            for message in conversation.messages.values()
            if include_user or message.from_bot
        ]

    def last_message(self, chat: ChatTarget) -> JSON | None:
        """The bot's latest message in ``chat``, if any."""
        log = self.chat_log(chat)
        return log[-1] if log else None

    def chat_actions(self, chat: ChatTarget) -> list[str]:
        """The sendChatAction actions the bot sent to ``chat``, in order."""
        chat_id = chat_id_of(chat)
        return [action for target, action in self._target_bot().chat_actions if target == chat_id]

    def commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """The commands set with setMyCommands for exactly this scope and language."""
        return list(self._target_bot().commands.get((scope_key(scope), language_code), []))

    @staticmethod
    def button_texts(message: Mapping[str, Any]) -> list[str]:
        """The labels of a message's inline buttons (or of the reply keyboard sent with it)."""
        return button_texts(message)

    @staticmethod
    def button_data(message: Mapping[str, Any], text: str) -> str:
        """The ``callback_data`` of the button labelled ``text``."""
        return callback_data_of(message, text)

    # Blocking.

    def block(self, user: SimUser) -> None:
        """``user`` blocks the bot: sending to them answers 403."""
        bot = self._target_bot()
        bot.blocked.add(user.id)
        self._announce(bot, user, "kicked")

    def unblock(self, user: SimUser) -> None:
        """``user`` unblocks (restarts) the bot."""
        bot = self._target_bot()
        bot.blocked.discard(user.id)
        self._announce(bot, user, "member")

    def _announce(self, bot: BotState, user: SimUser, status: str) -> None:
        """The ``my_chat_member`` update Telegram sends when a user (un)blocks a bot.

        Only bots that have connected and chatted with the user get it.
        """
        if bot.identity is None or user.id not in bot.conversations:
            return
        old, new = ("member", "kicked") if status == "kicked" else ("kicked", "member")
        bot.enqueue(
            "my_chat_member",
            {
                "chat": user.chat_json(),
                "from": user.to_json(),
                "date": now(),
                "old_chat_member": _member(bot, old),
                "new_chat_member": _member(bot, new),
            },
        )


def _member(bot: BotState, status: str) -> JSON:
    member: JSON = {"status": status, "user": bot.user_json()}
    if status == "kicked":
        member["until_date"] = 0
    return member


class BotHandle(UserActions):
    """The emulator seen from one bot, when several bots share it."""

    def __init__(self, runtime: Runtime, bot: BotState) -> None:
        super().__init__(runtime)
        self._bot = bot

    def _target_bot(self) -> BotState:
        return self._bot

    @property
    def id(self) -> int:
        """The bot's user id (the digits of its token)."""
        return self._bot.id

    @property
    def token(self) -> str | None:
        """The bot's token."""
        return self._bot.token

    @property
    def username(self) -> str | None:
        """The bot's username."""
        return self._bot.identity.username if self._bot.identity else None

    @property
    def webhook_url(self) -> str | None:
        """The webhook URL, or None in polling mode."""
        return self._bot.webhook.url if self._bot.webhook else None

    @property
    def pending_updates(self) -> int:
        """Updates queued and not yet confirmed by the bot."""
        return len(self._bot.updates)
