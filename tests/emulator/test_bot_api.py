"""aiogram's real Bot against the emulator: calls succeed and parse into aiogram types."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable

import aiohttp
import pytest
from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BufferedInputFile,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    LinkPreviewOptions,
    Message,
    ReplyKeyboardMarkup,
    ReplyParameters,
)

from emulator import TelegramEmulator
from emulator.testing import make_token

ACK_KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[[InlineKeyboardButton(text="Acknowledge", callback_data="ack:42")]]
)


async def test_get_me_is_the_token_bot(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == bot.id
    assert me.is_bot
    assert me.username


async def test_send_message_with_inline_keyboard_and_html(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.create_user("Alice", last_name="Li", username="alice")
    sent = await bot.send_message(
        alice.id,
        "<b>Fire drill</b> at 10:00 &amp; more",
        parse_mode=ParseMode.HTML,
        reply_markup=ACK_KEYBOARD,
    )
    assert isinstance(sent, Message)
    assert sent.text == "Fire drill at 10:00 & more"
    assert sent.entities is not None
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 0, 10)]
    assert sent.from_user is not None and sent.from_user.id == bot.id
    assert sent.chat.id == alice.id and sent.chat.username == "alice"
    assert sent.reply_markup is not None
    assert sent.reply_markup.model_dump() == ACK_KEYBOARD.model_dump()
    [logged] = await emu.wait_for_messages(alice)
    assert logged["message_id"] == sent.message_id
    assert emu.button_texts(logged) == ["Acknowledge"]
    assert emu.button_data(logged, "Acknowledge") == "ack:42"


async def test_message_ids_grow_per_chat(emu: TelegramEmulator, bot: Bot) -> None:
    alice, bob = emu.create_user("Alice"), emu.create_user("Bob")
    first = await bot.send_message(alice.id, "one")
    second = await bot.send_message(alice.id, "two")
    other = await bot.send_message(bob.id, "one")
    assert second.message_id == first.message_id + 1
    assert other.message_id == first.message_id


async def test_edit_message_text_keeps_history_and_drops_keyboard(
    emu: TelegramEmulator, bot: Bot
) -> None:
    alice = emu.create_user("Alice")
    sent = await bot.send_message(alice.id, "Notice", reply_markup=ACK_KEYBOARD)
    edited = await bot.edit_message_text(
        text="Notice (acknowledged)", chat_id=alice.id, message_id=sent.message_id
    )
    assert isinstance(edited, Message)
    assert edited.text == "Notice (acknowledged)"
    assert edited.edit_date is not None
    assert edited.reply_markup is None
    [entry] = emu.chat_log(alice)
    assert entry["original"]["text"] == "Notice"
    assert [edit["text"] for edit in entry["edits"]] == ["Notice (acknowledged)"]
    assert entry["edits"][0]["method"] == "editMessageText"


async def test_edit_errors_match_telegram(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.create_user("Alice")
    sent = await bot.send_message(alice.id, "Same", reply_markup=ACK_KEYBOARD)
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            text="Same", chat_id=alice.id, message_id=sent.message_id, reply_markup=ACK_KEYBOARD
        )
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text(text="x", chat_id=alice.id, message_id=999)
    markup = await bot.edit_message_reply_markup(chat_id=alice.id, message_id=sent.message_id)
    assert isinstance(markup, Message) and markup.reply_markup is None


async def test_text_validation(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.create_user("Alice")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(alice.id, "")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(alice.id, "x" * 4097)
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(alice.id, "1.5 points", parse_mode=ParseMode.MARKDOWN_V2)
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(
            alice.id,
            "x",
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text="b", callback_data="d" * 65)]]
            ),
        )
    assert emu.chat_log(alice) == []
    assert (await bot.send_message(alice.id, "x" * 4096)).text == "x" * 4096


async def test_answer_callback_query_reaches_the_presser(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.create_user("Alice")
    sent = await bot.send_message(alice.id, "Notice", reply_markup=ACK_KEYBOARD)
    [logged] = await emu.wait_for_messages(alice)
    press = asyncio.create_task(emu.press_button(alice, logged, "ack:42"))
    [update] = await bot.get_updates(timeout=2)
    query = update.callback_query
    assert query is not None and query.data == "ack:42"
    assert query.from_user.id == alice.id
    assert query.message is not None and query.message.message_id == sent.message_id
    assert await bot.answer_callback_query(query.id, text="Thanks!", show_alert=True)
    answer = await press
    assert answer is not None
    assert answer["text"] == "Thanks!" and answer["show_alert"] is True
    with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
        await bot.answer_callback_query(query.id)


async def test_press_button_checks_the_button_exists(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.create_user("Alice")
    await bot.send_message(alice.id, "Notice", reply_markup=ACK_KEYBOARD)
    [logged] = await emu.wait_for_messages(alice)
    with pytest.raises(ValueError, match="no button"):
        await emu.press_button(alice, logged, "ack:43")


async def test_forged_press_comes_from_the_other_user(emu: TelegramEmulator, bot: Bot) -> None:
    alice, mallory = emu.create_user("Alice"), emu.create_user("Mallory")
    await bot.send_message(alice.id, "Notice", reply_markup=ACK_KEYBOARD)
    [logged] = await emu.wait_for_messages(alice)
    assert await emu.press_button(alice, logged, "ack:42", from_user=mallory, timeout=0.05) is None
    [update] = await bot.get_updates()
    assert update.callback_query is not None
    assert update.callback_query.from_user.id == mallory.id
    assert update.callback_query.message is not None
    assert update.callback_query.message.chat.id == alice.id


async def test_send_document_and_download_it_back(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.create_user("Alice")
    content = "name,class\n李雷,3A\n".encode()
    sent = await bot.send_document(
        alice.id,
        BufferedInputFile(content, filename="roster.csv"),
        caption="<i>roster</i>",
        parse_mode=ParseMode.HTML,
    )
    assert sent.document is not None
    assert sent.document.file_name == "roster.csv"
    assert sent.document.mime_type == "text/csv"
    assert sent.document.file_size == len(content)
    assert sent.caption == "roster" and sent.caption_entities is not None
    assert emu.file_bytes(sent.document.file_id) == content
    file = await bot.get_file(sent.document.file_id)
    assert file.file_path is not None
    buffer = io.BytesIO()
    await bot.download_file(file.file_path, buffer)
    assert buffer.getvalue() == content
    resent = await bot.send_document(alice.id, sent.document.file_id)
    assert resent.document is not None and resent.document.file_id == sent.document.file_id


async def test_user_document_is_downloadable_by_the_bot(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.create_user("Alice")
    await emu.send_document(alice, "roster.csv", b"a,b\n1,2\n", mime_type="text/csv")
    [update] = await bot.get_updates()
    assert update.message is not None and update.message.document is not None
    buffer = io.BytesIO()
    await bot.download(update.message.document.file_id, destination=buffer)
    assert buffer.getvalue() == b"a,b\n1,2\n"


async def test_send_photo(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.create_user("Alice")
    sent = await bot.send_photo(alice.id, BufferedInputFile(b"\xff\xd8jpeg", filename="p.jpg"))
    assert sent.photo and emu.file_bytes(sent.photo[-1].file_id) == b"\xff\xd8jpeg"


def _pairs(commands: list[BotCommand]) -> list[tuple[str, str]]:
    return [(command.command, command.description) for command in commands]


async def test_commands_per_scope_and_language(emu: TelegramEmulator, bot: Bot) -> None:
    english = [
        BotCommand(command="start", description="Start"),
        BotCommand(command="help", description="Help"),
    ]
    chinese = [BotCommand(command="start", description="开始")]
    private = [BotCommand(command="ask", description="Ask a question")]
    assert await bot.set_my_commands(english)
    assert await bot.set_my_commands(chinese, language_code="zh")
    assert await bot.set_my_commands(private, scope=BotCommandScopeAllPrivateChats())
    assert _pairs(await bot.get_my_commands()) == _pairs(english)
    assert _pairs(await bot.get_my_commands(language_code="zh")) == _pairs(chinese)
    private_scope = BotCommandScopeAllPrivateChats()
    assert _pairs(await bot.get_my_commands(scope=private_scope)) == _pairs(private)
    assert await bot.get_my_commands(language_code="fr") == []
    assert emu.commands(language_code="zh") == [{"command": "start", "description": "开始"}]
    assert await bot.delete_my_commands(language_code="zh")
    assert await bot.get_my_commands(language_code="zh") == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])


async def test_delete_message(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.create_user("Alice")
    sent = await bot.send_message(alice.id, "oops")
    assert await bot.delete_message(alice.id, sent.message_id)
    assert emu.chat_log(alice)[0]["deleted"] is True
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(alice.id, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text(text="x", chat_id=alice.id, message_id=sent.message_id)


async def test_replies_keyboards_and_chat_info(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.create_user("Alice", username="alice")
    question = await emu.send_text(alice, "When is pickup?")
    keyboard = ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text="Yes"), KeyboardButton(text="No")]]
    )
    sent = await bot.send_message(
        alice.id,
        "At 4pm",
        reply_parameters=ReplyParameters(message_id=question["message_id"]),
        reply_markup=keyboard,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
    assert sent.reply_to_message is not None
    assert sent.reply_to_message.text == "When is pickup?"
    assert sent.reply_markup is None  # Telegram echoes inline keyboards only
    assert sent.link_preview_options is not None and sent.link_preview_options.is_disabled
    entry = emu.last_message(alice)
    assert entry is not None and emu.button_texts(entry) == ["Yes", "No"]
    forced = await bot.send_message(alice.id, "Your name?", reply_markup=ForceReply())
    assert emu.chat_log(alice)[-1]["reply_keyboard"] == {"force_reply": True}
    assert forced.message_id == sent.message_id + 1
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(alice.id, "x", reply_parameters=ReplyParameters(message_id=999))
    chat = await bot.get_chat(alice.id)
    assert chat.username == "alice" and chat.type == "private"
    assert await bot.send_chat_action(alice.id, "typing")
    assert emu.chat_actions(alice) == ["typing"]


async def test_raw_http_json_case_insensitive_and_unknown_methods(
    emu: TelegramEmulator,
) -> None:
    alice = emu.create_user("Alice")
    base = f"{emu.base_url}/bot{make_token(42)}"
    async with aiohttp.ClientSession() as http:
        keyboard = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
        payload = {
            "chat_id": alice.id,
            "text": "hi",
            "entities": [],
            "reply_markup": keyboard,
            "protect_content": True,
        }
        async with http.post(f"{base}/SENDMESSAGE", json=payload) as response:
            body = await response.json()
            assert response.status == 200 and body["ok"] is True
            assert body["result"]["text"] == "hi" and body["result"]["from"]["id"] == 42
            assert body["result"]["reply_markup"] == keyboard
            assert body["result"]["has_protected_content"] is True
        async with http.get(f"{base}/getMe") as response:
            assert (await response.json())["result"]["id"] == 42
        async with http.post(f"{base}/sendPigeon") as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found: method not found",
            }
        async with http.post(f"{emu.base_url}/bot42:short/getMe") as response:
            assert response.status == 401
            assert (await response.json())["description"] == "Unauthorized"
        async with http.post(f"{emu.base_url}/botnonsense/getMe") as response:
            assert response.status == 404
    assert emu.stats.calls["sendMessage"] == 1
    assert emu.stats.calls["sendPigeon"] == 1


async def test_two_bots_are_separate(emu: TelegramEmulator, make_bot: Callable[..., Bot]) -> None:
    first, second = make_bot(make_token(111)), make_bot(make_token(222))
    alice = emu.create_user("Alice")
    await first.send_message(alice.id, "from first")
    await second.send_message(alice.id, "from second")
    assert [m["text"] for m in emu.bot(make_token(111)).chat_log(alice)] == ["from first"]
    assert [m["text"] for m in emu.bot(make_token(222)).chat_log(alice)] == ["from second"]
    with pytest.raises(RuntimeError, match=r"emu\.bot"):
        emu.chat_log(alice)
