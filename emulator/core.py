"""TelegramEmulator: the server, its simulated users, and the controls tests use."""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType

from aiohttp import web

from .actions import BotHandle, UserActions
from .control import ControlRoutes
from .faults import FaultInjector
from .limits import EmulatorLimits, RateLimiter
from .models import SimGroup, SimUser, chat_id_of, user_id_of
from .params import Params
from .runtime import Runtime
from .server import MAX_REQUEST_SIZE, BotApiRoutes, execute_reply
from .state import BotState, EmulatorState, now
from .stats import Stats
from .webhook import WebhookManager


class TelegramEmulator(UserActions):
    """A local Telegram Bot API server with simulated users, limits and faults.

    User actions (``send_text``, ``press_button``, ``wait_for_messages``, ...) go to the
    only bot that has connected, or to the first one to connect if none has yet; with
    several bots, use :meth:`bot` to pick one.
    """

    def __init__(
        self,
        *,
        limits: EmulatorLimits | None = None,
        webhook_retry_delay: float = 0.5,
    ) -> None:
        self.stats = Stats()
        self.faults = FaultInjector()
        runtime = Runtime(
            state=EmulatorState(),
            limiter=RateLimiter(limits or EmulatorLimits()),
            stats=self.stats,
            faults=self.faults,
            webhooks=WebhookManager(self._execute_reply, retry_delay=webhook_retry_delay),
        )
        super().__init__(runtime)
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    def _target_bot(self) -> BotState:
        return self._runtime.state.default_bot()

    async def _execute_reply(self, bot: BotState, method: str, params: Params) -> None:
        await execute_reply(self._runtime, bot, method, params)

    # Lifecycle.

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0 picks a free port); returns :attr:`base_url`."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        app = web.Application(client_max_size=MAX_REQUEST_SIZE)
        BotApiRoutes(self._runtime).add_to(app)
        ControlRoutes(self).add_to(app)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runtime.closing = False
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        if bound_host in ("0.0.0.0", "::"):
            bound_host = "127.0.0.1"
        if ":" in bound_host:
            bound_host = f"[{bound_host}]"
        self._base_url = f"http://{bound_host}:{bound_port}"
        return self._base_url

    async def stop(self) -> None:
        """Answer pending long polls, stop webhook deliveries and the server."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._runtime.closing = True
        for bot in self._runtime.state.all_bots():
            bot.update_signal.notify()
        await self._runtime.webhooks.close()
        await runner.cleanup()

    async def __aenter__(self) -> TelegramEmulator:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """The server's URL, for ``TelegramAPIServer.from_base``."""
        if self._base_url is None:
            raise RuntimeError("the emulator is not started; await emu.start() first")
        return self._base_url

    @property
    def running(self) -> bool:
        """Whether the server is listening."""
        return self._runner is not None

    # The world.

    @property
    def state(self) -> EmulatorState:
        """Users, groups, bots and files (for inspection)."""
        return self._runtime.state

    @property
    def internal_errors(self) -> list[str]:
        """Tracebacks of emulator bugs hit while answering calls; should stay empty."""
        return self._runtime.internal_errors

    def create_user(
        self,
        first_name: str,
        last_name: str | None = None,
        *,
        username: str | None = None,
        language_code: str | None = None,
        started: bool = True,
        user_id: int | None = None,
    ) -> SimUser:
        """A new simulated user; their private chat id is their user id.

        With ``started=False`` bots get 403 "bot can't initiate conversation with a user"
        until the user writes to them.
        """
        return self._runtime.state.create_user(
            first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            user_id=user_id,
            started=started,
        )

    def create_group(
        self,
        title: str,
        members: Iterable[SimUser | int] = (),
        *,
        supergroup: bool = False,
    ) -> SimGroup:
        """A new group (or supergroup) with these members; every bot is in it."""
        return self._runtime.state.create_group(
            title, [user_id_of(member) for member in members], supergroup=supergroup
        )

    def add_member(self, group: SimGroup | int, user: SimUser | int) -> None:
        """Add a user to a group."""
        self._runtime.state.group(chat_id_of(group)).members.add(user_id_of(user))

    def migrate_group(self, group: SimGroup | int) -> SimGroup:
        """Upgrade a group to a supergroup: the old id answers 400 with ``migrate_to_chat_id``.

        Bots that know the group get the two service messages Telegram sends.
        """
        state = self._runtime.state
        old = state.group(chat_id_of(group))
        new = state.migrate_group(old.group.id)
        members = sorted(old.members)
        if not members:
            return new
        sender = state.user(members[0]).user.to_json()
        for bot in state.all_bots():
            if old.group.id not in bot.conversations:
                continue
            for chat, field, value in (
                (old.group, "migrate_to_chat_id", new.id),
                (new, "migrate_from_chat_id", old.group.id),
            ):
                conversation = bot.conversation(chat.id)
                bot.enqueue(
                    "message",
                    {
                        "message_id": conversation.next_message_id(),
                        "from": sender,
                        "chat": chat.chat_json(),
                        "date": now(),
                        field: value,
                    },
                )
        return new

    def deactivate(self, user: SimUser) -> None:
        """The user deletes their account: bots get 403 "user is deactivated"."""
        self._runtime.state.user(user.id).deactivated = True

    def block(self, user: SimUser) -> None:
        """``user`` blocks every bot (403 "bot was blocked by the user")."""
        self._runtime.state.user(user.id).blocked_every_bot = True
        for bot in self._runtime.state.all_bots():
            self._announce(bot, user, "kicked")

    def unblock(self, user: SimUser) -> None:
        """``user`` unblocks every bot."""
        self._runtime.state.user(user.id).blocked_every_bot = False
        for bot in self._runtime.state.all_bots():
            bot.blocked.discard(user.id)
            self._announce(bot, user, "member")

    def bot(
        self, token: str, *, first_name: str | None = None, username: str | None = None
    ) -> BotHandle:
        """The handle of the bot with this token (registered now if it has not connected)."""
        bot = self._runtime.state.register_bot(token, first_name=first_name, username=username)
        return BotHandle(self._runtime, bot)

    def bot_by_id(self, bot_id: int) -> BotHandle:
        """The handle of a bot that has connected, by its id; KeyError if unknown."""
        bot = self._runtime.state.bots.get(bot_id)
        if bot is None:
            raise KeyError(f"no bot with id {bot_id} has connected")
        return BotHandle(self._runtime, bot)

    @property
    def bots(self) -> list[BotHandle]:
        """Every bot that has connected or was registered."""
        return [BotHandle(self._runtime, bot) for bot in self._runtime.state.bots.values()]

    def file_bytes(self, file_id: str) -> bytes:
        """The content of a file a bot or user sent."""
        stored = self._runtime.state.files.get(file_id)
        if stored is None:
            raise KeyError(f"no file {file_id!r}")
        return stored.data

    # Limits.

    @property
    def limits(self) -> EmulatorLimits:
        """The flood limits in force."""
        return self._runtime.limiter.limits

    @limits.setter
    def limits(self, limits: EmulatorLimits) -> None:
        self._runtime.limiter.reconfigure(limits)

    def set_limits(self, limits: EmulatorLimits) -> None:
        """Switch to new flood limits (counters start afresh)."""
        self._runtime.limiter.reconfigure(limits)
