"""Human experts end to end through the emulator: a question becomes a case, an expert
claims it and answers, the thread goes on by replies, the parent resolves and rates it;
passing on, reassignment and escalation by time, the class teacher for school matters,
crisis paging, forged presses, and what an expert never sees."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.case_messages import CasePress, CaseResolve
from bot.cases_setup import case_times
from campus.models import (
    Case,
    CaseKind,
    CaseStatus,
    Expert,
    FaqQuestion,
    Guardianship,
    Person,
    Role,
    RoleGrant,
    utcnow,
)
from emulator import SimUser
from scheduler.tick import run_tick
from tests.bot.conftest import LiveBot
from tests.bot.families import SchoolSetup, make_school, received, wait_until_sent

LAW_QUESTION = "who pays if my son gets hurt during PE class at school"
SCHOOL_QUESTION = "what time does school finish on friday"
CRISIS_MESSAGE = "my daughter told me she wants to kill herself"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # The tests run the tick themselves; the scheduler's own tick runs only at start.
    return {"tick_seconds": 3600, "quiet_hours": "off"}


# --- people ------------------------------------------------------------------------------------


async def add_staff(
    live: LiveBot,
    setup: SchoolSetup,
    name: str,
    role: Role,
    categories: tuple[str, ...] = (),
) -> tuple[SimUser, int]:
    """A person of the school with ``role``; an expert gets ``categories`` in en and zh."""
    user = live.emu.create_user(name, language_code="en")
    async with live.sessionmaker() as session, session.begin():
        person = Person(telegram_user_id=user.id, full_name=name, language="en")
        session.add(person)
        await session.flush()
        session.add(RoleGrant(person_id=person.id, school_id=setup.school_id, role=role))
        if role == Role.EXPERT:
            session.add(
                Expert(
                    person_id=person.id,
                    school_id=setup.school_id,
                    categories=list(categories),
                    languages=["en", "zh"],
                )
            )
        return user, person.id


async def add_parent(
    live: LiveBot, setup: SchoolSetup, child: str, full_name: str, username: str
) -> SimUser:
    """Another guardian of ``child``, with a Telegram username."""
    first, _sep, last = full_name.partition(" ")
    user = live.emu.create_user(first, last or None, username=username, language_code="en")
    async with live.sessionmaker() as session, session.begin():
        person = Person(telegram_user_id=user.id, full_name=full_name, language="en")
        session.add(person)
        await session.flush()
        session.add(RoleGrant(person_id=person.id, school_id=setup.school_id, role=Role.GUARDIAN))
        session.add(Guardianship(guardian_id=person.id, student_id=setup.family(child).student_id))
    return user


# --- actions -----------------------------------------------------------------------------------


async def ask_an_expert(live: LiveBot, parent: SimUser, question: str) -> dict[str, Any]:
    """Ask, tap "Ask an expert" under the bot's reply, and return what the bot says then."""
    reply = await live.send(parent, question)
    assert "Ask an expert" in live.emu.button_texts(reply), reply["text"]
    await live.emu.press_button(parent, reply, live.emu.button_data(reply, "Ask an expert"))
    [told] = await received(live, parent)
    return told


async def press(
    live: LiveBot, user: SimUser, message: dict[str, Any], button: str
) -> dict[str, Any]:
    """Press ``button`` and return that message as it is afterwards."""
    await live.press(user, message, button)
    [now] = [m for m in live.emu.chat_log(user) if m["message_id"] == message["message_id"]]
    return now


async def reply_to(live: LiveBot, user: SimUser, message: dict[str, Any], text: str) -> None:
    await live.emu.send_text(user, text, reply_to=message)


async def tick(live: LiveBot) -> None:
    await run_tick(live.sessionmaker, None, live.app.delivery.nudge, case_times(live.settings))
    await wait_until_sent(live)


async def the_case(live: LiveBot) -> Case:
    async with live.sessionmaker() as session:
        case = await session.scalar(select(Case).order_by(Case.id.desc()))
    assert case is not None
    return case


async def move_deadlines_into_the_past(live: LiveBot, case_id: int) -> None:
    """As if the case's claim, answer and page deadlines had passed."""
    past = utcnow() - timedelta(minutes=1)
    async with live.sessionmaker() as session, session.begin():
        case = await session.get(Case, case_id)
        assert case is not None
        case.claim_due_at = past if case.claim_due_at else None
        case.answer_due_at = past if case.answer_due_at else None
        case.next_page_at = past if case.next_page_at else None


async def question_count(live: LiveBot) -> int:
    async with live.sessionmaker() as session:
        return int(await session.scalar(select(func.count(FaqQuestion.id))) or 0)


def strings(value: Any, skip: frozenset[str] = frozenset({"chat", "from"})) -> Iterator[str]:
    """Every string in a chat-log entry: texts, edits, buttons and their data; not the
    chat and sender records, which describe the recipient and the bot."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in skip:
                yield from strings(item, skip)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item, skip)


# --- the whole thread --------------------------------------------------------------------------


async def test_question_claimed_answered_followed_up_resolved_and_rated(live: LiveBot) -> None:
    setup = await make_school(live, {"Chen Jie": 1})
    [parent] = setup.family("Chen Jie").guardians
    lawyer, _id = await add_staff(live, setup, "Lawyer Zhou", Role.EXPERT, ("law",))

    told = await ask_an_expert(live, parent, LAW_QUESTION)
    assert "one of the school's experts in law" in told["text"]
    assert "usually within a day" in told["text"]  # 1 h to claim + 24 h to answer
    case = await the_case(live)
    assert (case.kind, case.category, case.grade) == (CaseKind.EXPERT, "law", 3)

    [offer] = await received(live, lawyer)
    assert offer["text"].startswith(f"❓ Parent {case.pseudonym}, grade 3 (law) asks:")
    assert LAW_QUESTION in offer["text"]
    assert live.emu.button_texts(offer) == ["✋ Claim", "Pass", "Not my area"]

    claimed = await live.press(lawyer, offer, "✋ Claim")
    assert "You claimed it. Reply to the parent's message to answer." in claimed["text"]
    assert live.emu.button_texts(claimed) == []
    [taken] = await received(live, parent)
    assert taken["text"].startswith("👩‍⚖️ An expert in law has taken your question")

    await reply_to(live, lawyer, offer, "The school's liability insurance pays first.")
    [confirmation] = await received(live, lawyer)
    assert confirmation["text"] == f"✅ Sent to Parent {case.pseudonym}, grade 3."
    assert live.emu.button_texts(confirmation) == ["💾 Save as FAQ"]
    assert live.emu.button_data(confirmation, "💾 Save as FAQ") == f"savefaq:{case.id}"
    [answer] = await received(live, parent)
    assert answer["text"].startswith(
        "👩‍⚖️ An expert in law replies:\n\nThe school's liability insurance pays first."
    )
    assert "Reply to this message to ask a follow-up" in answer["text"]
    assert live.emu.button_texts(answer) == ["✅ Resolved"]

    asked_before = await question_count(live)
    await reply_to(live, parent, answer, "And if the insurance refuses to pay?")
    [sent] = await received(live, parent)
    assert sent["text"] == "✉️ Sent. The answer will come here."
    [follow_up] = await received(live, lawyer)
    assert follow_up["text"].startswith(f"↩️ Parent {case.pseudonym}, grade 3 (law) adds:")
    assert "And if the insurance refuses to pay?" in follow_up["text"]
    assert await question_count(live) == asked_before  # not answered from the knowledge base

    await reply_to(live, lawyer, follow_up, "Then you can claim from the school directly.")
    [_confirmation] = await received(live, lawyer)
    [second] = await received(live, parent)
    assert "Then you can claim from the school directly." in second["text"]

    resolved = await live.press(parent, second, "✅ Resolved")
    assert "Marked as resolved" in resolved["text"]
    assert live.emu.button_texts(resolved) == ["1⭐", "2⭐", "3⭐", "4⭐", "5⭐"]
    [thanks] = await received(live, lawyer)
    assert (
        thanks["text"]
        == f"✅ Parent {case.pseudonym}, grade 3 marked the question as resolved. Thank you!"
    )
    rated = await live.press(parent, resolved, "4⭐")
    assert "Thank you for rating the answer 4/5." in rated["text"]
    assert live.emu.button_texts(rated) == []
    case = await the_case(live)
    assert (case.status, case.rating) == (CaseStatus.RESOLVED, 4)
    assert case.first_answer_at is not None

    # A reply after the case is closed is not passed on.
    await reply_to(live, parent, second, "One more thing")
    [closed] = await received(live, parent)
    assert "This question is closed" in closed["text"]
    # offer, confirmation, follow-up, confirmation, resolved: nothing after the close
    assert len(live.emu.chat_log(lawyer)) == 5


async def test_pass_and_not_my_area_move_the_offer_to_the_next_expert(live: LiveBot) -> None:
    setup = await make_school(live, {"Chen Jie": 1})
    [parent] = setup.family("Chen Jie").guardians
    first, first_id = await add_staff(live, setup, "Lawyer A", Role.EXPERT, ("law",))
    second, second_id = await add_staff(live, setup, "Lawyer B", Role.EXPERT, ("law",))
    third, third_id = await add_staff(live, setup, "Lawyer C", Role.EXPERT, ("law",))

    await ask_an_expert(live, parent, LAW_QUESTION)
    [offer] = await received(live, first)
    passed = await live.press(first, offer, "Pass")
    assert "You passed it on" in passed["text"] and live.emu.button_texts(passed) == []
    [offer] = await received(live, second)
    passed = await live.press(second, offer, "Not my area")
    assert "not your area" in passed["text"]
    [offer] = await received(live, third)
    assert live.emu.button_texts(offer) == ["✋ Claim", "Pass", "Not my area"]
    case = await the_case(live)
    assert case.offered_to_id == third_id and case.declined_by == [first_id, second_id]
    assert case.status == CaseStatus.OPEN


async def test_forged_presses_change_nothing(live: LiveBot) -> None:
    setup = await make_school(live, {"Chen Jie": 1})
    [parent] = setup.family("Chen Jie").guardians
    offered, offered_id = await add_staff(live, setup, "Lawyer A", Role.EXPERT, ("law",))
    other, _other_id = await add_staff(live, setup, "Lawyer B", Role.EXPERT, ("law",))

    await ask_an_expert(live, parent, LAW_QUESTION)
    [offer] = await received(live, offered)
    case = await the_case(live)
    claim_data = live.emu.button_data(offer, "✋ Claim")

    # The other expert presses Claim on the message offered to the first one...
    answer = await live.emu.press_button(offered, offer, claim_data, from_user=other)
    assert answer is not None and "not for you" in answer["text"]
    # ...and sends made-up presses from a message in their own chat.
    own = await live.send(other, "/cases")
    for forged in (
        claim_data,
        CasePress(act="take", case=case.id).pack(),
        CasePress(act="page", case=case.id).pack(),
        CasePress(act="pass", case=case.id).pack(),
        CaseResolve(case=case.id).pack(),
    ):
        answer = await live.emu.press_button(other, own, forged, check_button=False)
        assert answer is not None, forged
        assert "Nothing was changed" in answer["text"] or "not for you" in answer["text"], forged
    after = await the_case(live)
    assert (after.status, after.handler_id, after.offered_to_id) == (
        CaseStatus.OPEN,
        None,
        offered_id,
    )
    assert after.declined_by == [] and after.acknowledged_at is None
    assert live.emu.chat_log(offered)[0]["text"] == offer["text"]  # not edited
    assert len(live.emu.chat_log(other)) == 1  # only its /cases answer

    # A reply to the offer from someone who has not claimed it is not passed on.
    await reply_to(live, offered, offer, "I have not claimed this yet")
    [refused] = await received(live, offered)
    assert "tap Claim on the question first" in refused["text"]
    assert len(live.emu.chat_log(parent)) == 2  # the FAQ reply and "your question has gone"


# --- deadlines -----------------------------------------------------------------------------------


async def test_unclaimed_offer_moves_on_then_goes_to_the_admins_who_take_it_over(
    live: LiveBot,
) -> None:
    setup = await make_school(live, {"Chen Jie": 1})
    [parent] = setup.family("Chen Jie").guardians
    first, first_id = await add_staff(live, setup, "Lawyer A", Role.EXPERT, ("law",))
    second, second_id = await add_staff(live, setup, "Lawyer B", Role.EXPERT, ("law",))
    admin, admin_id = await add_staff(live, setup, "Principal Sun", Role.ADMIN)

    await ask_an_expert(live, parent, LAW_QUESTION)
    [offer] = await received(live, first)
    case = await the_case(live)
    assert case.offered_to_id == first_id

    await move_deadlines_into_the_past(live, case.id)
    await tick(live)
    [reoffer] = await received(live, second)
    assert reoffer["text"].startswith(f"❓ Parent {case.pseudonym}, grade 3 (law) asks:")
    assert (await the_case(live)).offered_to_id == second_id
    late = await live.emu.press_button(first, offer, live.emu.button_data(offer, "✋ Claim"))
    assert late is not None and "not offered to you" in late["text"]

    await move_deadlines_into_the_past(live, case.id)
    await tick(live)
    [escalation] = await received(live, admin)
    assert escalation["text"].startswith(
        f"⚠️ Nobody could take this question (law) from Parent {case.pseudonym}, grade 3:"
    )
    assert LAW_QUESTION in escalation["text"]
    assert live.emu.button_texts(escalation) == ["Take over"]
    assert (await the_case(live)).status == CaseStatus.ESCALATED

    report = await live.send(admin, "/cases")
    assert "Waiting for the administrators" in report["text"]
    assert f"Parent {case.pseudonym}, grade 3 (law)" in report["text"]

    taken = await press(live, admin, escalation, "Take over")
    assert "You took it over" in taken["text"]
    [told] = await received(live, parent)
    assert "has taken your question" in told["text"]
    await reply_to(live, admin, escalation, "The school will cover it; I will call you.")
    await received(live, admin)
    [answer] = await received(live, parent)
    assert "The school will cover it" in answer["text"]
    after = await the_case(live)
    assert (after.handler_id, after.status) == (admin_id, CaseStatus.ANSWERED)

    report = await live.send(admin, "/cases")
    assert "Response times at Sunshine Primary, last 30 days:" in report["text"]
    assert "• law: 1 cases;" in report["text"] and "0 unanswered" in report["text"]


async def test_claimed_but_unanswered_case_is_escalated(live: LiveBot) -> None:
    setup = await make_school(live, {"Chen Jie": 1})
    [parent] = setup.family("Chen Jie").guardians
    lawyer, _id = await add_staff(live, setup, "Lawyer A", Role.EXPERT, ("law",))
    admin, _admin_id = await add_staff(live, setup, "Principal Sun", Role.ADMIN)

    await ask_an_expert(live, parent, LAW_QUESTION)
    [offer] = await received(live, lawyer)
    await live.press(lawyer, offer, "✋ Claim")
    await received(live, parent)
    case = await the_case(live)

    mine = await live.send(lawyer, "/cases")
    assert f"Parent {case.pseudonym}, grade 3 (law): answer by" in mine["text"]
    assert "overdue" not in mine["text"]
    await move_deadlines_into_the_past(live, case.id)
    mine = await live.send(lawyer, "/cases")
    assert "⏰ overdue" in mine["text"]

    await tick(live)
    [escalation] = await received(live, admin)
    assert "was claimed but not answered in time" in escalation["text"]
    assert live.emu.button_texts(escalation) == ["Take over"]


# --- the class teacher ---------------------------------------------------------------------------


async def test_school_question_goes_to_the_class_teacher_of_the_chosen_child(
    live: LiveBot,
) -> None:
    setup = await make_school(
        live, {"Wang Fang": 1, "Wang Lei": 1}, shared_parent_for=("Wang Fang", "Wang Lei")
    )
    parent = setup.family("Wang Fang").guardians[0]
    await add_staff(live, setup, "Lawyer A", Role.EXPERT, ("law", "family"))

    reply = await live.send(parent, SCHOOL_QUESTION)
    await live.emu.press_button(parent, reply, live.emu.button_data(reply, "Ask an expert"))
    [which] = await received(live, parent)
    assert which["text"] == "Which child is this question about?"
    assert live.emu.button_texts(which) == ["Wang Fang", "Wang Lei"]
    await live.emu.press_button(parent, which, live.emu.button_data(which, "Wang Lei"))
    [told] = await received(live, parent)
    assert "your child's class teacher" in told["text"] and "usually within a day" in told["text"]
    case = await the_case(live)
    assert case.kind == CaseKind.SCHOOL
    assert case.student_id == setup.family("Wang Lei").student_id

    [offer] = await received(live, setup.teacher)
    assert offer["text"].startswith(
        f"❓ Parent {case.pseudonym}, grade 3, a parent in your class, asks the school:"
    )
    assert live.emu.button_texts(offer) == ["✋ Claim", "Pass"]
    await live.press(setup.teacher, offer, "✋ Claim")
    [taken] = await received(live, parent)
    assert taken["text"].startswith("🏫 Your child's teacher has seen your question")
    await reply_to(live, setup.teacher, offer, "School finishes at 15:30 on Fridays.")
    [confirmation] = await received(live, setup.teacher)
    assert live.emu.button_texts(confirmation) == []  # school answers are not FAQ material
    [answer] = await received(live, parent)
    assert answer["text"].startswith(
        "🏫 Your child's teacher replies:\n\nSchool finishes at 15:30 on Fridays."
    )
    for entry in live.emu.chat_log(setup.teacher):
        assert not any("Parent Wang Fang" in s or "Wang Lei" in s for s in strings(entry))


# --- crisis --------------------------------------------------------------------------------------


async def test_crisis_gets_the_reply_at_once_and_pages_until_someone_takes_it(
    live: LiveBot,
) -> None:
    setup = await make_school(live, {"Chen Jie": 1})
    [parent] = setup.family("Chen Jie").guardians
    counsellor, counsellor_id = await add_staff(
        live, setup, "Counsellor Ma", Role.EXPERT, ("psych",)
    )
    admin, _admin_id = await add_staff(live, setup, "Principal Sun", Role.ADMIN)
    await add_staff(live, setup, "Lawyer A", Role.EXPERT, ("law",))

    reply = await live.send(parent, CRISIS_MESSAGE)
    assert "120" in reply["text"] and "12356" in reply["text"]
    [page] = await received(live, counsellor)
    [admin_page] = await received(live, admin)
    case = await the_case(live)
    assert case.kind == CaseKind.CRISIS
    for message in (page, admin_page):
        assert message["text"].startswith(f"🚨 CRISIS, page 1: Parent {case.pseudonym}, grade 3")
        assert CRISIS_MESSAGE in message["text"]
        assert live.emu.button_texts(message) == ["🙋 I'm taking it"]

    await move_deadlines_into_the_past(live, case.id)
    await tick(live)
    [page_two] = await received(live, counsellor)
    [admin_page_two] = await received(live, admin)
    assert page_two["text"].startswith("🚨 CRISIS, page 2:")
    assert admin_page_two["text"].startswith("🚨 CRISIS, page 2:")

    taking = await live.press(counsellor, page_two, "🙋 I'm taking it")
    assert "the paging has stopped" in taking["text"]
    after = await the_case(live)
    assert after.acknowledged_by_id == counsellor_id and after.next_page_at is None

    async with live.sessionmaker() as session, session.begin():
        await session.execute(
            update(Case)
            .where(Case.id == case.id)
            .values(next_page_at=utcnow() - timedelta(minutes=1))
        )
    # Even with a page time in the past, an acknowledged crisis is not paged again.
    await tick(live)
    assert len(live.emu.chat_log(counsellor)) == 2
    assert len(live.emu.chat_log(admin)) == 2
    late = await live.emu.press_button(
        admin, admin_page_two, live.emu.button_data(admin_page_two, "🙋 I'm taking it")
    )
    assert late is not None and "Someone else is already handling" in late["text"]

    await reply_to(live, counsellor, page_two, "I am the school counsellor. Are you safe now?")
    await received(live, counsellor)
    [answer] = await received(live, parent)
    assert answer["text"].startswith(
        "🆘 The school's on-call responder replies:\n\nI am the school counsellor."
    )
    assert len(live.emu.chat_log(parent)) == 2  # the crisis reply stays; then the answer


# --- privacy -------------------------------------------------------------------------------------


async def test_the_expert_never_sees_who_the_parent_is(live: LiveBot) -> None:
    setup = await make_school(live, {"Chen Jie": 1})
    parent = await add_parent(live, setup, "Chen Jie", "Wang Meili", "wang_meili")
    lawyer, _id = await add_staff(live, setup, "Lawyer Zhou", Role.EXPERT, ("law",))
    question = (
        "My name is Wang Meili, my Telegram is @wang_meili and my phone is 13912345678. "
        "My son Chen Jie got hurt in PE class at school, who pays for the hospital?"
    )

    await ask_an_expert(live, parent, question)
    [offer] = await received(live, lawyer)
    assert "who pays for the hospital?" in offer["text"]  # the question itself gets through
    await live.press(lawyer, offer, "✋ Claim")
    [taken] = await received(live, parent)
    await reply_to(live, parent, taken, "Wang Meili again: call 13912345678 after 6 pm.")
    await received(live, parent)
    [follow_up] = await received(live, lawyer)
    assert "call [phone] after 6 pm" in follow_up["text"]
    await reply_to(live, lawyer, follow_up, "I cannot call, but here is the answer.")
    await received(live, lawyer)
    await received(live, parent)
    await live.send(lawyer, "/cases")

    secrets = ["Wang Meili", "wang_meili", str(parent.id), "13912345678", "Chen Jie"]
    log = live.emu.chat_log(lawyer)
    assert len(log) == 4  # offer, follow-up, confirmation, /cases
    for entry in log:
        for text in strings(entry):
            for secret in secrets:
                assert secret.lower() not in text.lower(), (secret, text)
