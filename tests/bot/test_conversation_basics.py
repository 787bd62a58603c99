"""End to end: language, help, privacy, command menus, and no dead ends."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from campus.models import Person
from emulator import EmulatorLimits
from tests.bot.conftest import LiveBot


async def test_first_language_comes_from_telegram(live: LiveBot) -> None:
    chinese = live.emu.create_user("Wang", language_code="zh-hans")
    assert "欢迎使用平安校园" in (await live.send(chinese, "/start"))["text"]
    english = live.emu.create_user("Anna", language_code="de")
    assert "Welcome to SafeCampus" in (await live.send(english, "/start"))["text"]


async def test_lang_switches_and_is_remembered(live: LiveBot) -> None:
    parent = live.emu.create_user("Li", language_code="en")
    offer = await live.send(parent, "/lang")
    assert live.emu.button_texts(offer) == ["English", "简体中文"]
    assert (await live.press(parent, offer, "简体中文"))["text"] == "语言已切换为简体中文。"
    assert "平安校园" in (await live.send(parent, "/help"))["text"]
    async with live.sessionmaker() as session:
        language = await session.scalar(
            select(Person.language).where(Person.telegram_user_id == parent.id)
        )
    assert language == "zh"
    menu = live.emu.commands(scope={"type": "chat", "chat_id": parent.id})
    assert {"command": "lang", "description": "语言：English / 中文"} in menu

    offer = await live.send(parent, "/lang")
    assert (await live.press(parent, offer, "English"))["text"] == "Language set to English."


async def test_command_menu_is_set_per_language(live: LiveBot) -> None:
    await live.send(live.emu.create_user("Li"), "/start")  # polling has started by now
    english = {c["command"]: c["description"] for c in live.emu.commands(language_code="en")}
    chinese = {c["command"]: c["description"] for c in live.emu.commands(language_code="zh")}
    assert set(english) == set(chinese) == {"start", "help", "lang", "privacy"}
    assert english["help"] == "What I can do"
    assert chinese["help"] == "我能做什么"


async def test_help_differs_by_role(live: LiveBot) -> None:
    newcomer = live.emu.create_user("New", language_code="en")
    admin = await live.admin()
    newcomer_help = (await live.send(newcomer, "/help"))["text"]
    admin_help = (await live.send(admin, "/help"))["text"]
    assert "open the invite link" in newcomer_help
    assert "/newclass" not in newcomer_help
    assert "As the school administrator" in admin_help


async def test_privacy_in_both_languages(live: LiveBot) -> None:
    assert "Who can see it" in (await live.send(live.emu.create_user("A"), "/privacy"))["text"]
    chinese = live.emu.create_user("B", language_code="zh")
    assert "谁能看到" in (await live.send(chinese, "/privacy"))["text"]


async def test_no_dead_ends(live: LiveBot) -> None:
    parent = live.emu.create_user("Li", language_code="en")
    assert "don't know that command" in (await live.send(parent, "/frobnicate"))["text"]
    assert "Ask me anything" in (await live.send(parent, "hello?"))["text"]
    assert "问我" in (await live.send(parent, "你好！"))["text"]
    for text in ["问" * 4000, "<script>alert(1)</script>", "asdf qwer zxcv"]:
        reply = await live.send(parent, text)
        assert "Ask an expert" in live.emu.button_texts(reply) or "问专家" in live.emu.button_texts(
            reply
        )


async def test_stale_or_forged_buttons_get_an_answer(live: LiveBot) -> None:
    parent = live.emu.create_user("Li", language_code="en")
    offer = await live.send(parent, "/lang")
    answer = await live.emu.press_button(parent, offer, "ack:999", check_button=False, timeout=10)
    assert answer is not None and "no longer active" in answer.get("text", "")
    forged = await live.emu.press_button(
        parent, offer, "join:madeup:1", check_button=False, timeout=10
    )
    assert forged is not None and "not valid" in live.emu.chat_log(parent)[-1]["text"]


async def test_a_failure_gets_a_polite_reply(live: LiveBot) -> None:
    parent = live.emu.create_user("Li", language_code="zh")
    live.emu.faults.add("sendMessage", kind="5xx", count=1)
    reply = await live.send(parent, "/help")
    assert reply["text"] == "抱歉，我们这边出了点问题。请一分钟后再试。"
    assert "平安校园" in (await live.send(parent, "/help"))["text"]


@pytest.mark.parametrize(
    "limits", [EmulatorLimits(per_chat_per_s=1.0, per_chat_burst=1, global_per_s=30.0)]
)
async def test_replies_wait_out_flood_control(live: LiveBot) -> None:
    parent = live.emu.create_user("Li", language_code="en")
    for _ in range(3):
        assert "Who can see it" in (await live.send(parent, "/privacy"))["text"]
    assert live.emu.stats.errors["sendMessage:429"] >= 1
