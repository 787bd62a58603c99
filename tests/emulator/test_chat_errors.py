"""Chats a bot cannot write to answer as Telegram does."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
)

from emulator import TelegramEmulator


async def test_blocked_user_gives_403_until_unblocked(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.create_user("Alice")
    emu.block(alice)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(alice.id, "Notice")
    assert emu.chat_log(alice) == []
    emu.unblock(alice)
    assert (await bot.send_message(alice.id, "Notice")).text == "Notice"


async def test_unknown_chat_gives_400(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(987654321, "hello")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message("@nobody", "hello")


async def test_user_who_never_started_the_bot(emu: TelegramEmulator, bot: Bot) -> None:
    bob = emu.create_user("Bob", started=False)
    with pytest.raises(TelegramForbiddenError, match="can't initiate conversation"):
        await bot.send_message(bob.id, "hello")
    await emu.send_command(bob, "start")
    assert (await bot.send_message(bob.id, "hello")).chat.id == bob.id


async def test_deactivated_user(emu: TelegramEmulator, bot: Bot) -> None:
    carol = emu.create_user("Carol")
    emu.deactivate(carol)
    with pytest.raises(TelegramForbiddenError, match="user is deactivated"):
        await bot.send_message(carol.id, "hello")


async def test_migrated_group_points_to_the_supergroup(emu: TelegramEmulator, bot: Bot) -> None:
    group = emu.create_group("Class 3A parents", members=[emu.create_user("Alice")])
    await bot.send_message(group.id, "before")
    supergroup = emu.migrate_group(group)
    assert str(supergroup.id).startswith("-100")
    with pytest.raises(TelegramMigrateToChat) as caught:
        await bot.send_message(group.id, "after")
    assert caught.value.migrate_to_chat_id == supergroup.id
    sent = await bot.send_message(supergroup.id, "after")
    assert sent.chat.type == "supergroup"
    updates = await bot.get_updates()
    assert [u.message.migrate_to_chat_id for u in updates if u.message] == [supergroup.id, None]
