"""End to end: parents' questions answered from the knowledge base, in either language."""

from __future__ import annotations

from sqlalchemy import select

from campus.models import FaqQuestion
from tests.bot.conftest import LiveBot


async def _last_question(live: LiveBot) -> FaqQuestion:
    async with live.sessionmaker() as session:
        question = await session.scalar(select(FaqQuestion).order_by(FaqQuestion.id.desc()))
    assert question is not None
    return question


async def test_english_question_is_answered_with_its_source(live: LiveBot) -> None:
    parent = live.emu.create_user("Li", language_code="en")
    reply = await live.send(parent, "how many hours should a 9 year old sleep")
    assert reply["text"].startswith("Sleep")
    assert "Source: " in reply["text"]
    assert any(e["type"] == "bold" for e in reply["entities"])
    assert live.emu.button_texts(reply) == [
        "👍 Helpful",
        "👎 Not helpful",
        "Related topics",
        "Ask an expert",
    ]
    question = await _last_question(live)
    assert (question.decision, question.entry_id) == ("answer", "psych.sleep")


async def test_chinese_question_is_answered_in_chinese(live: LiveBot) -> None:
    parent = live.emu.create_user("王", language_code="zh")
    reply = await live.send(parent, "孩子在学校上体育课摔伤了，学校要赔吗")
    assert "来源：" in reply["text"]
    assert "民法典" in reply["text"]
    assert "👍 有帮助" in live.emu.button_texts(reply)


async def test_answer_comes_in_the_language_of_the_question(live: LiveBot) -> None:
    english_speaker = live.emu.create_user("Anna", language_code="en")
    reply = await live.send(english_speaker, "孩子多大可以骑电动自行车上路")
    assert "16" in reply["text"] and "来源：" in reply["text"]
    chinese_speaker = live.emu.create_user("张", language_code="zh")
    reply = await live.send(chinese_speaker, "Is my 13 year old allowed to ride an e-bike?")
    assert "Source: " in reply["text"] and "16" in reply["text"]


async def test_unknown_question_offers_an_expert(live: LiveBot) -> None:
    parent = live.emu.create_user("Li", language_code="en")
    reply = await live.send(parent, "what is on the canteen menu tomorrow")
    assert "contact your child's teacher" in reply["text"]
    assert "Ask an expert" in live.emu.button_texts(reply)
    question = await _last_question(live)
    assert question.decision == "expert"

    await live.emu.press_button(parent, reply, live.emu.button_data(reply, "Ask an expert"))
    [recorded] = await live.emu.wait_for_messages(parent, count=1, timeout=10)
    assert "recorded for the school's experts" in recorded["text"]
    assert (await _last_question(live)).expert_requested_at is not None
    await live.emu.press_button(parent, reply, live.emu.button_data(reply, "Ask an expert"))
    assert len(live.emu.chat_log(parent)) == 2  # asking twice sends nothing new


async def test_close_call_suggests_topics(live: LiveBot) -> None:
    parent = live.emu.create_user("Li", language_code="zh")
    # Two worries in one question: the bot offers the topics instead of guessing.
    reply = await live.send(parent, "孩子玩手机的事和学习压力都让我头疼")
    buttons = live.emu.button_texts(reply)
    assert len(buttons) == 4 and buttons[-1] == "问专家"
    await live.emu.press_button(parent, reply, live.emu.button_data(reply, buttons[0]))
    [answer] = await live.emu.wait_for_messages(parent, count=1, timeout=10)
    assert answer["text"].startswith(buttons[0])
    assert "来源：" in answer["text"]


async def test_crisis_message_gets_emergency_numbers_at_once(live: LiveBot) -> None:
    parent = live.emu.create_user("Li", language_code="en")
    reply = await live.send(parent, "my daughter told me she wants to kill herself")
    assert "120" in reply["text"] and "12356" in reply["text"]
    assert (await _last_question(live)).decision == "crisis"
    chinese = live.emu.create_user("王", language_code="zh")
    reply = await live.send(chinese, "孩子说活着没意思，想跳楼")
    assert "120" in reply["text"] and "12356" in reply["text"] and "陪在孩子身边" in reply["text"]


async def test_feedback_is_recorded_and_forged_presses_change_nothing(live: LiveBot) -> None:
    parent = live.emu.create_user("Li", language_code="en")
    reply = await live.send(parent, "how many hours should a 9 year old sleep")
    answer = await live.emu.press_button(
        parent, reply, live.emu.button_data(reply, "👍 Helpful"), timeout=10
    )
    assert answer is not None and "Thank you" in answer["text"]
    assert (await _last_question(live)).helpful is True

    mallory = live.emu.create_user("Mallory", language_code="en")
    forged = await live.emu.press_button(
        parent, reply, live.emu.button_data(reply, "👎 Not helpful"), from_user=mallory
    )
    assert forged is not None and "not for you" in forged["text"]
    assert (await _last_question(live)).helpful is True


async def test_admin_sees_feedback(live: LiveBot) -> None:
    admin = await live.admin()
    reply = await live.send(admin, "how many hours should a 9 year old sleep")
    await live.emu.press_button(admin, reply, live.emu.button_data(reply, "👎 Not helpful"))
    report = await live.send(admin, "/kb_feedback")
    assert "psych.sleep: 0 / 1" in report["text"]
    assert "«how many hours should a 9 year old sleep»" in report["text"]
    parent = live.emu.create_user("Li", language_code="en")
    assert "for school staff" in (await live.send(parent, "/kb_feedback"))["text"]


async def test_admin_reloads_the_knowledge_base(live: LiveBot) -> None:
    admin = await live.admin()
    reply = await live.send(admin, "/kb_reload")
    assert f"{len(live.app.faq.knowledge_base)} topics" in reply["text"]
    parent = live.emu.create_user("Li", language_code="en")
    assert "for school staff" in (await live.send(parent, "/kb_reload"))["text"]
