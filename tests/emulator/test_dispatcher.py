"""End to end: an aiogram Dispatcher polling the emulator answers simulated users."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from emulator import TelegramEmulator


def echo_router() -> Router:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message, command: CommandObject) -> None:
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Acknowledge", callback_data="ack:1")]]
        )
        await message.answer(f"Welcome! code={command.args}", reply_markup=keyboard)

    @router.callback_query(F.data.startswith("ack:"))
    async def acknowledge(query: CallbackQuery) -> None:
        assert isinstance(query.message, Message)
        await query.message.edit_text("Acknowledged ✅")
        await query.answer("Thank you")

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(message.text or "")

    return router


@pytest.fixture
async def polling(bot: Bot) -> AsyncIterator[Dispatcher]:
    dispatcher = Dispatcher()
    dispatcher.include_router(echo_router())
    task = asyncio.create_task(
        dispatcher.start_polling(bot, handle_signals=False, close_bot_session=False)
    )
    yield dispatcher
    await dispatcher.stop_polling()
    await task


async def test_start_then_button_then_echo(emu: TelegramEmulator, polling: Dispatcher) -> None:
    alice = emu.create_user("Alice")
    await emu.send_command(alice, "start", "abc123")
    [welcome] = await emu.wait_for_messages(alice, timeout=5)
    assert welcome["text"] == "Welcome! code=abc123"
    assert emu.button_texts(welcome) == ["Acknowledge"]

    answer = await emu.press_button(alice, welcome, emu.button_data(welcome, "Acknowledge"))
    assert answer is not None and answer["text"] == "Thank you"
    [entry] = emu.chat_log(alice)
    assert entry["text"] == "Acknowledged ✅"
    assert "reply_markup" not in entry, "editing without reply_markup drops the keyboard"
    assert entry["original"]["text"] == "Welcome! code=abc123"

    await emu.send_text(alice, "ping")
    [echo] = await emu.wait_for_messages(alice)
    assert echo["text"] == "ping"
    assert emu.stats.calls["getUpdates"] >= 1


async def test_wait_for_messages_says_what_arrived(
    emu: TelegramEmulator, polling: Dispatcher
) -> None:
    alice = emu.create_user("Alice")
    await emu.send_text(alice, "only one")
    with pytest.raises(TimeoutError, match=r"2 new bot message.*1 arrived.*only one"):
        await emu.wait_for_messages(alice, count=2, timeout=0.5)
