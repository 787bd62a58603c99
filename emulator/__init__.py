"""A local Telegram Bot API server with simulated users, flood limits and fault injection.

Used by the demo, the end-to-end tests and the benchmarks: aiogram's real ``Bot`` talks
HTTP to it and parses every answer unmodified::

    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from emulator import EmulatorLimits, TelegramEmulator

    emu = TelegramEmulator(limits=EmulatorLimits(per_chat_per_s=1.0, group_per_min=20,
                                                 global_per_s=30.0, enabled=True))
    await emu.start(host="127.0.0.1", port=0)          # port 0 picks a free port
    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url)))

Any token shaped ``<digits>:<35 chars>`` works and is its own bot (id = the digits).

Simulated users (``TelegramEmulator``, or ``emu.bot(token)`` -> ``BotHandle`` when several
bots share the emulator; both have the same user-action methods)::

    alice = emu.create_user("Alice", last_name="Li", username="alice", language_code="en")
    grp = emu.create_group("Class 3A parents", members=[alice])   # supergroup=True too
    await emu.send_text(alice, "hello")                  # -> Message dict; queued Update
    await emu.send_text(alice, "hi all", chat=grp)
    await emu.send_command(alice, "start", "abc123")     # "/start abc123" + bot_command
    await emu.send_document(alice, "roster.csv", b"...", mime_type="text/csv", caption=None)
    await emu.send_contact(alice, "+8613800000000")
    answer = await emu.press_button(alice, message, "ack:42")          # answerCallbackQuery
    answer = await emu.press_button(alice, message, "ack:42", from_user=mallory)  # forged
    msgs = await emu.wait_for_messages(alice, count=1, timeout=5.0)   # new bot messages
    emu.chat_log(alice)           # bot messages: Message dicts + edits/original/deleted/
                                  # reply_keyboard; include_user=True adds the user's
    emu.last_message(alice); emu.button_texts(msg); emu.button_data(msg, "Acknowledge")
    emu.chat_actions(alice); emu.commands(scope=None, language_code="zh")
    emu.block(alice); emu.unblock(alice)     # 403 "bot was blocked by the user"
    emu.deactivate(alice)                    # 403 "user is deactivated"
    emu.migrate_group(grp)                   # old id: 400 with migrate_to_chat_id
    emu.create_user("Bob", started=False)    # 403 "bot can't initiate conversation..."
    emu.file_bytes(file_id)                  # what a bot sent with sendDocument/sendPhoto

Limits, faults and bookkeeping (sends count against the per-chat, per-group and global
limits; edits against the global one only; see :mod:`emulator.limits`)::

    emu.limits = EmulatorLimits.off()        # or emu.set_limits(...)
    emu.faults.add("sendMessage", kind="5xx", count=3)            # also status=502
    emu.faults.add(None, kind="slow", delay=2.0, count=1)         # None: every method
    emu.faults.add(["sendMessage", "sendDocument"], kind="lost", probability=0.1, seed=7)
    emu.faults.add("sendMessage", kind="drop"); emu.faults.add("getMe", kind="429")
    emu.faults.clear()
    emu.stats.calls["sendMessage"]; emu.stats.errors["sendMessage:429"]
    emu.stats.duplicates(); emu.stats.duplicate_count
    emu.internal_errors                      # emulator bugs (answered 500); keep empty
    await emu.stop()

Over HTTP the same controls live under ``/_control`` (see :mod:`emulator.control`);
``emulator.testing.running_emulator`` is the fixture helper and ``emulator.cli`` the
``safecampus emulator`` command.
"""

from __future__ import annotations

from .actions import BotHandle, MessageRef
from .core import TelegramEmulator
from .errors import ApiError
from .faults import Fault, FaultInjector, FaultKind
from .limits import EmulatorLimits
from .models import JSON, ChatTarget, SimGroup, SimUser
from .stats import Duplicate, Stats

__all__ = [
    "JSON",
    "ApiError",
    "BotHandle",
    "ChatTarget",
    "Duplicate",
    "EmulatorLimits",
    "Fault",
    "FaultInjector",
    "FaultKind",
    "MessageRef",
    "SimGroup",
    "SimUser",
    "Stats",
    "TelegramEmulator",
]
