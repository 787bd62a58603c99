"""End to end: an expert's answer becomes a knowledge-base entry. The expert taps Save as
FAQ, an administrator reviews the draft in /drafts, edits and approves it, and a new
parent asking the same in other words gets the expert's answer, without a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.handlers.faq_drafts import save_as_faq_keyboard
from bot.i18n import build_i18n
from bot.translation_notes import translation_note
from campus.models import CaseKind, Expert, Person, Role, RoleGrant, School
from campus.services.cases import CaseTimes, claim, open_case, reply
from campus.services.people import find_person
from emulator import SimUser
from knowledge_base.engine import FaqEngine
from knowledge_base.learned import LearnedAnswer, write_learned_entry
from tests.bot.conftest import LiveBot

QUESTION = "Is a tattoo shop allowed to tattoo my 15-year-old daughter? Her name is Lily Wang."
ANSWER = (
    "No. Since 2022 the national rules on tattooing minors forbid any tattoo business from "
    "tattooing a person under 18, and nobody may persuade or help a minor to get one.\n\n"
    "If a shop tattooed your child, report it to the local market regulation bureau."
)
PARAPHRASE = "can a tattoo parlour legally tattoo my 15 year old"
#: how long to wait for a message that comes after other work (a reload takes seconds)
WAIT_SECONDS = 30.0
TIMES = CaseTimes(claim_minutes={"law": 60}, answer_hours={"law": 24})


@pytest.fixture
def faq_engine(faq_engine: FaqEngine) -> Iterator[FaqEngine]:
    """This module's own engine: approving reloads it, never the session's shared one."""
    yield faq_engine.clone()
    assert not any(entry.learned for entry in faq_engine.knowledge_base)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """An administrator taps quickly: no flood guard here."""
    return {"flood_rate_per_s": 1000.0, "flood_burst": 1000}


async def _message_with(live: LiveBot, user: SimUser, fragment: str) -> dict[str, Any]:
    """The bot's latest message to ``user`` whose text contains ``fragment`` (edits count),
    waiting for it: case messages from the delivery worker may arrive in between."""
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while True:
        for message in reversed(live.emu.chat_log(user)):
            if fragment in (message.get("text") or ""):
                return message
        if asyncio.get_running_loop().time() > deadline:
            texts = [m.get("text") for m in live.emu.chat_log(user)]
            raise AssertionError(f"no message with {fragment!r}; got {texts}")
        await asyncio.sleep(0.1)


async def _person(live: LiveBot, user: SimUser) -> int:
    """The person behind a user, who has started a chat with the bot."""
    await live.send(user, "/help")
    # one person's updates are handled in order: after this answer the first one committed
    await live.send(user, "/help")
    async with live.sessionmaker() as session:
        person = await find_person(session, user.id)
        assert person is not None
        return person.id


async def _answered_case(live: LiveBot, parent_id: int, expert_id: int) -> int:
    """A law case the expert claimed and answered, through the services."""
    async with live.sessionmaker() as session, session.begin():
        school_id = await session.scalar(select(School.id))
        assert school_id is not None
        session.add(RoleGrant(person_id=parent_id, school_id=school_id, role=Role.GUARDIAN))
        session.add(RoleGrant(person_id=expert_id, school_id=school_id, role=Role.EXPERT))
        session.add(
            Expert(person_id=expert_id, school_id=school_id, categories=["law"], languages=["en"])
        )
        await session.flush()
        parent = await session.get(Person, parent_id)
        expert = await session.get(Person, expert_id)
        assert parent is not None and expert is not None
        case = await open_case(
            session,
            parent,
            school_id,
            QUESTION,
            kind=CaseKind.EXPERT,
            category="law",
            language="en",
            times=TIMES,
        )
        await claim(session, case.id, expert, TIMES)
        await reply(session, case.id, expert, ANSWER, TIMES)
        return case.id


async def test_an_approved_answer_is_given_to_the_next_parent_without_a_restart(
    live: LiveBot, faq_engine: FaqEngine
) -> None:
    admin = await live.admin()
    expert = live.emu.create_user("Dr Li", language_code="en")
    parent = live.emu.create_user("Wang", language_code="en")
    case_id = await _answered_case(live, await _person(live, parent), await _person(live, expert))

    # before: another parent asking this gets no answer about tattoos
    before = await live.send(live.emu.create_user("Zhao", language_code="en"), PARAPHRASE)
    assert "tattoo business" not in before["text"]

    # the expert's "answer sent" confirmation carries the button
    i18n = live.app.i18n
    with i18n.context(), i18n.use_locale("en"):
        markup = save_as_faq_keyboard(case_id)
    await live.app.bot.send_message(expert.id, "✅ Sent to the parent.", reply_markup=markup)
    sent = await _message_with(live, expert, "Sent to the parent")
    pressed = await live.emu.press_button(
        expert, sent, live.emu.button_data(sent, "💾 Save as FAQ"), timeout=10
    )
    assert pressed is not None
    await _message_with(live, expert, "Draft saved; an administrator will review it.")
    notice = await _message_with(live, admin, "New FAQ draft to review:")
    assert "tattoo" in notice["text"] and "tattoo business" in notice["text"]
    assert "Lily Wang" not in notice["text"]  # the parent's words as redacted for the expert
    assert live.emu.button_texts(notice) == ["Approve", "Edit question", "Edit answer", "Reject"]

    # a second tap does not make a second draft
    again = await live.emu.press_button(
        expert, sent, live.emu.button_data(sent, "💾 Save as FAQ"), timeout=10
    )
    assert again is not None and "already waiting" in again["text"]

    await live.emu.wait_for_messages(admin, count=1, timeout=10)  # the notice, read
    listed = await live.send(admin, "/drafts")
    assert "From Expert E" in listed["text"] and "Question: " in listed["text"]

    # the administrator adds another way of asking it
    await live.press(admin, listed, "Edit question")
    [prompt] = await live.emu.wait_for_messages(admin, count=1, timeout=10)
    assert prompt["text"].startswith("Send the question as a parent would ask it.")
    edited = await live.send(
        admin, "Is a tattoo shop allowed to tattoo my 15-year-old?\nCan minors get tattoos?"
    )
    assert "Other ways of asking:\n• Can minors get tattoos?" in edited["text"]

    await live.emu.press_button(admin, edited, live.emu.button_data(edited, "Approve"), timeout=10)
    done = await _message_with(live, admin, "Added as learned.law.1")
    assert done["text"] == (
        "Added as learned.law.1; the other language (简体中文) is missing until translated."
    )
    assert (live.settings.kb_learned_dir / "learned.law.1.yaml").exists()
    assert "learned.law.1" in faq_engine.knowledge_base

    # a new parent, other words, same bot process
    newcomer = live.emu.create_user("Chen", language_code="en")
    answer = await live.send(newcomer, PARAPHRASE)
    assert "tattoo business" in answer["text"]
    assert "SafeCampus expert panel (law)" in answer["text"]
    assert live.emu.button_texts(answer)[0] == "👍 Helpful"

    assert "No FAQ drafts" in (await live.send(admin, "/drafts"))["text"]


async def test_only_an_administrator_sees_drafts(live: LiveBot) -> None:
    await live.admin()
    stranger = live.emu.create_user("Ma", language_code="en")
    refused = await live.send(stranger, "/drafts")
    assert "only a school administrator can use it" in refused["text"]


def test_an_untranslated_answer_carries_a_note_for_the_other_language(tmp_path: Path) -> None:
    learned = LearnedAnswer(
        category="law",
        language="en",
        questions=["Can minors get tattoos?"],
        answer=ANSWER,
        expert="Expert E1",
        drafted=date(2026, 6, 1),
        approved=date(2026, 6, 1),
        review_due=date(2026, 11, 28),
    )
    entry = write_learned_entry(tmp_path, learned)
    i18n = build_i18n()
    with i18n.context(), i18n.use_locale("zh"):
        note = translation_note(entry, "zh")
        assert translation_note(entry, "en") is None
    # checked in English only until the lead merges the Chinese catalog
    assert note is not None and "English" in note
