"""The emulator's world: users, groups, bots, their chats, messages and pending updates.

Every bot (token) sees its own copy of each chat, as in Telegram where message ids in a
private chat belong to the (bot, user) pair: a :class:`Conversation` per bot and chat.
"""

from __future__ import annotations

import asyncio
import copy
import re
import time
from collections import deque
from dataclasses import dataclass, field

from .errors import not_found, unauthorized
from .files import FileStore
from .models import JSON, BotIdentity, SimGroup, SimUser

TOKEN_PATTERN = re.compile(r"^(\d{1,20}):([A-Za-z0-9_-]{35})$")
_TOKEN_LIKE = re.compile(r"^\d+:")

UPDATE_KINDS_OFF_BY_DEFAULT = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)
"""Update kinds Telegram only sends when ``allowed_updates`` asks for them."""


def now() -> int:
    """Telegram's timestamps: whole seconds since the epoch."""
    return int(time.time())


class Signal:
    """Wakes every coroutine waiting for "something changed" (no lost wake-ups).

    Callers check their condition, then call :meth:`wait` without awaiting in between.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake all current waiters."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seconds: float) -> bool:
        """Wait for the next :meth:`notify`; False when ``seconds`` passed first."""
        event = self._event
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
        # cancellation that arrives as the event is set, and stopping would then hang.
        try:
            async with asyncio.timeout(max(0.0, seconds)):
                await event.wait()
        except TimeoutError:
            return False
        return True


@dataclass(eq=False)
class StoredMessage:
    """A message in a chat, as the emulator keeps it (with its history)."""

    message_id: int
    chat: JSON
    date: int
    sender: JSON
    from_bot: bool
    content: JSON
    """The type-specific fields: ``text``/``entities``, ``caption``, ``document``, ..."""
    extra: JSON = field(default_factory=dict)
    """Other fields echoed in the Message object (``link_preview_options``, ...)."""
    inline_markup: JSON | None = None
    reply_keyboard: JSON | None = None
    """A reply keyboard / remove / force_reply sent with the message (Telegram does not echo it)."""
    reply_to: StoredMessage | None = None
    edit_date: int | None = None
    edits: list[JSON] = field(default_factory=list)
    deleted: bool = False
    original: JSON = field(init=False)
    """The content and inline keyboard as first sent, with ``date``."""

    def __post_init__(self) -> None:
        self.original = self._snapshot()
        self.original["date"] = self.date

    @property
    def chat_id(self) -> int:
        """The chat the message is in."""
        return int(self.chat["id"])

    @property
    def text(self) -> str | None:
        """The text, or the caption of a media message."""
        value = self.content.get("text", self.content.get("caption"))
        return value if isinstance(value, str) else None

    def to_json(self, *, nested: bool = False) -> JSON:
        """The ``Message`` object Telegram would send (replies are nested one level only)."""
        message: JSON = {
            "message_id": self.message_id,
            "from": self.sender,
            "chat": self.chat,
            "date": self.date,
        }
        if self.edit_date is not None:
            message["edit_date"] = self.edit_date
        if self.reply_to is not None and not nested:
            message["reply_to_message"] = self.reply_to.to_json(nested=True)
        message.update(self.content)
        message.update(self.extra)
        if self.inline_markup is not None:
            message["reply_markup"] = self.inline_markup
        return copy.deepcopy(message)

    def log_entry(self) -> JSON:
        """The Message object plus the emulator's record: ``edits``, ``original``, ``deleted``
        and ``reply_keyboard``."""
        entry = self.to_json()
        entry["edits"] = copy.deepcopy(self.edits)
        entry["original"] = copy.deepcopy(self.original)
        entry["deleted"] = self.deleted
        entry["reply_keyboard"] = copy.deepcopy(self.reply_keyboard)
        return entry

    def apply_edit(self, method: str, content: JSON, inline_markup: JSON | None, date: int) -> None:
        """Replace content fields and the inline keyboard, keeping the history."""
        self.content.update(content)
        for key in [key for key, value in self.content.items() if value is None]:
            del self.content[key]
        self.inline_markup = inline_markup
        self.edit_date = date
        self.edits.append({"method": method, "edit_date": date, **self._snapshot()})

    def _snapshot(self) -> JSON:
        snapshot = copy.deepcopy(self.content)
        snapshot["reply_markup"] = copy.deepcopy(self.inline_markup)
        return snapshot


class Conversation:
    """One chat as one bot sees it: its messages in order and the bot's unread ones."""

    def __init__(self, chat_id: int) -> None:
        self.chat_id = chat_id
        self.messages: dict[int, StoredMessage] = {}
        self.bot_messages: list[StoredMessage] = []
        self.read_cursor = 0
        self.changed = Signal()
        self._next_message_id = 1

    def next_message_id(self) -> int:
        """Allocate the next message id of this chat."""
        message_id = self._next_message_id
        self._next_message_id += 1
        return message_id

    def add(self, message: StoredMessage) -> None:
        """Record a new message."""
        self.messages[message.message_id] = message
        if message.from_bot:
            self.bot_messages.append(message)
        self.changed.notify()

    def get(self, message_id: int) -> StoredMessage | None:
        """A message that exists and is not deleted."""
        message = self.messages.get(message_id)
        return None if message is None or message.deleted else message

    async def wait_for_bot_messages(self, count: int, seconds: float) -> list[StoredMessage]:
        """The next ``count`` unread bot messages; marks them read."""
        deadline = asyncio.get_running_loop().time() + seconds
        while len(self.bot_messages) - self.read_cursor < count:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0 or not await self.changed.wait(remaining):
                if len(self.bot_messages) - self.read_cursor >= count:
                    break
                arrived = [m.text for m in self.bot_messages[self.read_cursor :]]
                raise TimeoutError(
                    f"waited {seconds:g}s for {count} new bot message(s) in chat "
                    f"{self.chat_id}; {len(arrived)} arrived: {arrived!r}"
                )
        found = self.bot_messages[self.read_cursor : self.read_cursor + count]
        self.read_cursor += count
        return found


@dataclass
class WebhookConfig:
    """A bot's webhook, as set with ``setWebhook``."""

    url: str
    secret_token: str | None = None
    max_connections: int = 40
    ip_address: str | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None

    def info_json(self, pending: int, allowed_updates: list[str] | None) -> JSON:
        """The result of ``getWebhookInfo``."""
        info: JSON = {
            "url": self.url,
            "has_custom_certificate": False,
            "pending_update_count": pending,
            "max_connections": self.max_connections,
        }
        if self.ip_address:
            info["ip_address"] = self.ip_address
        if self.last_error_date is not None:
            info["last_error_date"] = self.last_error_date
            info["last_error_message"] = self.last_error_message
        if allowed_updates:
            info["allowed_updates"] = allowed_updates
        return info


@dataclass
class PendingCallback:
    """A button press waiting for ``answerCallbackQuery``."""

    query_id: str
    answer: asyncio.Future[JSON]


class BotState:
    """Everything about one bot: identity, update queue, chats, settings."""

    def __init__(self, identity: BotIdentity | None = None, token: str | None = None) -> None:
        self.identity = identity
        self.token = token
        self.updates: deque[JSON] = deque()
        self.update_signal = Signal()
        self.allowed_updates: list[str] | None = None
        self.webhook: WebhookConfig | None = None
        self.poll_generation = 0
        self.conversations: dict[int, Conversation] = {}
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.menu_buttons: dict[int | None, JSON] = {}
        self.texts: dict[tuple[str, str], str] = {}
        self.callbacks: dict[str, PendingCallback] = {}
        self.started: set[int] = set()
        self.blocked: set[int] = set()
        self.chat_actions: list[tuple[int, str]] = []
        self._next_update_id = 1

    @property
    def id(self) -> int:
        """The bot's user id (0 until a token claims this placeholder)."""
        return self.identity.id if self.identity else 0

    def user_json(self) -> JSON:
        """The bot's ``User`` object."""
        if self.identity is None:
            return {"id": 0, "is_bot": True, "first_name": "Bot"}
        return self.identity.to_json()

    def conversation(self, chat_id: int) -> Conversation:
        """This bot's view of a chat, created on first use."""
        found = self.conversations.get(chat_id)
        if found is None:
            found = self.conversations[chat_id] = Conversation(chat_id)
        return found

    def enqueue(self, kind: str, body: JSON) -> JSON | None:
        """Queue an update for the bot; None when ``allowed_updates`` filters it out."""
        allowed = self.allowed_updates
        if (allowed and kind not in allowed) or (
            not allowed and kind in UPDATE_KINDS_OFF_BY_DEFAULT
        ):
            return None
        update: JSON = {"update_id": self._next_update_id, kind: body}
        self._next_update_id += 1
        self.updates.append(update)
        self.update_signal.notify()
        return update

    def confirm(self, offset: int) -> None:
        """Forget updates before ``offset`` (a negative offset keeps the last ``-offset``)."""
        if offset < 0:
            while len(self.updates) > -offset:
                self.updates.popleft()
            return
        while self.updates and self.updates[0]["update_id"] < offset:
            self.updates.popleft()

    def drop_pending_updates(self) -> None:
        """Forget every queued update."""
        self.updates.clear()


@dataclass
class UserRecord:
    """A simulated user and what they did to bots."""

    user: SimUser
    starts_every_bot: bool = True
    """Whether bots may write first (as if the user had pressed Start in every bot)."""
    deactivated: bool = False
    blocked_every_bot: bool = False


@dataclass
class GroupRecord:
    """A simulated group and its members."""

    group: SimGroup
    members: set[int] = field(default_factory=set)
    migrated_to: int | None = None


class EmulatorState:
    """All users, groups, bots and files of one emulator."""

    def __init__(self) -> None:
        self.users: dict[int, UserRecord] = {}
        self.groups: dict[int, GroupRecord] = {}
        self.bots: dict[int, BotState] = {}
        self.files = FileStore()
        self._placeholder: BotState | None = None
        self._next_user_id = 700_000_001
        self._next_group_id = 4_000_000_001
        self._next_supergroup_id = 1_002_000_000_001
        self._next_callback_id = 4_321_000_000_000_001

    def create_user(
        self,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        user_id: int | None = None,
        started: bool = True,
    ) -> SimUser:
        """Add a user; ``started=False`` means bots cannot write to them before they write."""
        if user_id is None:
            user_id = self._next_user_id
            self._next_user_id += 1
        if user_id <= 0 or user_id in self.users:
            raise ValueError(f"user id {user_id} is not positive or already taken")
        user = SimUser(user_id, first_name, last_name, username, language_code)
        self.users[user_id] = UserRecord(user, starts_every_bot=started)
        return user

    def create_group(self, title: str, members: list[int], *, supergroup: bool = False) -> SimGroup:
        """Add a group (or supergroup) with these member user ids."""
        for member in members:
            self.user(member)
        if supergroup:
            group = SimGroup(-self._next_supergroup_id, title, "supergroup")
            self._next_supergroup_id += 1
        else:
            group = SimGroup(-self._next_group_id, title, "group")
            self._next_group_id += 1
        self.groups[group.id] = GroupRecord(group, set(members))
        return group

    def migrate_group(self, group_id: int) -> SimGroup:
        """Upgrade a group to a supergroup with a new id, as Telegram does."""
        record = self.groups.get(group_id)
        if record is None or record.group.type != "group" or record.migrated_to is not None:
            raise ValueError(f"{group_id} is not a group that can be migrated")
        supergroup = self.create_group(record.group.title, sorted(record.members), supergroup=True)
        record.migrated_to = supergroup.id
        return supergroup

    def user(self, user_id: int) -> UserRecord:
        """A known user, or ValueError."""
        record = self.users.get(user_id)
        if record is None:
            raise ValueError(f"no simulated user with id {user_id}")
        return record

    def group(self, chat_id: int) -> GroupRecord:
        """A known group, or ValueError."""
        record = self.groups.get(chat_id)
        if record is None:
            raise ValueError(f"no simulated group with id {chat_id}")
        return record

    def chat_json(self, chat_id: int) -> JSON | None:
        """The ``Chat`` object of a user's private chat or a group, if it exists."""
        if chat_id in self.users:
            return self.users[chat_id].user.chat_json()
        if chat_id in self.groups:
            return self.groups[chat_id].group.chat_json()
        return None

    def is_blocked(self, bot: BotState, user_id: int) -> bool:
        """Whether the user blocked this bot."""
        record = self.users.get(user_id)
        return record is not None and (record.blocked_every_bot or user_id in bot.blocked)

    def next_callback_id(self) -> str:
        """A fresh callback query id."""
        self._next_callback_id += 1
        return str(self._next_callback_id)

    def bot_for_token(self, token: str) -> BotState:
        """The bot a token stands for, registered on first use.

        Raises the 404/401 Telegram answers for a malformed or wrong token.
        """
        match = TOKEN_PATTERN.match(token)
        if match is None:
            raise unauthorized() if _TOKEN_LIKE.match(token) else not_found()
        bot_id = int(match.group(1))
        known = self.bots.get(bot_id)
        if known is not None:
            if known.token != token:
                raise unauthorized()
            return known
        return self.register_bot(token)

    def register_bot(
        self, token: str, *, first_name: str | None = None, username: str | None = None
    ) -> BotState:
        """Register a bot; the first one takes over updates queued before any bot connected."""
        match = TOKEN_PATTERN.match(token)
        if match is None:
            raise ValueError(f"not a bot token: {token!r} (expected <digits>:<35 chars>)")
        bot_id = int(match.group(1))
        if bot_id in self.bots:
            bot = self.bots[bot_id]
            if bot.token != token:
                raise ValueError(f"bot {bot_id} is already registered with another token")
            return bot
        identity = BotIdentity(
            bot_id, first_name or f"Emulated Bot {bot_id}", username or f"emulated_{bot_id}_bot"
        )
        if self._placeholder is not None and not self.bots:
            bot, self._placeholder = self._placeholder, None
            bot.identity, bot.token = identity, token
        else:
            bot = BotState(identity, token)
        self.bots[bot_id] = bot
        return bot

    def default_bot(self) -> BotState:
        """The only bot, or a placeholder the first bot to connect will take over."""
        if len(self.bots) == 1:
            return next(iter(self.bots.values()))
        if self.bots:
            raise RuntimeError(
                f"{len(self.bots)} bots use this emulator; pick one with emu.bot(token)"
            )
        if self._placeholder is None:
            self._placeholder = BotState()
        return self._placeholder

    def all_bots(self) -> list[BotState]:
        """Every registered bot, and the placeholder if one holds updates."""
        bots = list(self.bots.values())
        if self._placeholder is not None:
            bots.append(self._placeholder)
        return bots


def chat_instance(bot_id: int, chat_id: int) -> str:
    """A stable ``chat_instance`` for callback queries from one chat."""
    return str((bot_id * 1_000_003 + chat_id) & 0x7FFF_FFFF_FFFF_FFFF)
