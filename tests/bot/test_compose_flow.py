"""End to end: a teacher or admin composes a notice with /notify and edits it with
/edit_notice; parents receive it through the delivery worker of the live bot."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from campus.models import (
    Guardianship,
    Notice,
    NoticeKind,
    NoticeVersion,
    OutboxMessage,
    OutboxState,
    Person,
    Role,
    RoleGrant,
    School,
    SchoolClass,
    Student,
    TeacherAssignment,
    as_utc,
    utcnow,
)
from campus.services.notices import NoticeDraft, publish_notice
from dialogs.notice_keyboards import DialogPress
from emulator import SimUser, TelegramEmulator
from tests.bot.conftest import LiveBot

SCHOOL_ZONE = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """A teacher taps through the steps quickly: no flood guard here; no quiet hours."""
    return {"flood_rate_per_s": 1000.0, "flood_burst": 1000, "quiet_hours": "off"}


@dataclass
class Campus:
    """A school with classes 3A (Wang Fang with a parent, Li Lei without) and 3B (Zhao Min
    with a parent); the staff member teaches 3A (or is the admin)."""

    staff: SimUser
    wang_parent: SimUser
    zhao_parent: SimUser
    school_id: int
    class_3a: int
    class_3b: int


async def _campus(live: LiveBot, role: Role = Role.TEACHER) -> Campus:
    staff = live.emu.create_user("Chen", language_code="en")
    wang_parent = live.emu.create_user("Wang", language_code="en")
    zhao_parent = live.emu.create_user("Zhao", language_code="en")
    async with live.sessionmaker() as session, session.begin():
        school = School(name="Sunshine Primary School", timezone="Asia/Shanghai")
        session.add(school)
        await session.flush()
        class_3a = SchoolClass(school_id=school.id, name="3A", grade=3)
        class_3b = SchoolClass(school_id=school.id, name="3B", grade=3)
        session.add_all([class_3a, class_3b])
        await session.flush()
        teacher = Person(
            telegram_user_id=staff.id,
            full_name="Chen Jing",
            language="en",
            roles=[RoleGrant(school_id=school.id, role=role)],
        )
        session.add(teacher)
        await session.flush()
        session.add(TeacherAssignment(teacher_id=teacher.id, class_id=class_3a.id))
        wang = Student(
            school_id=school.id, class_id=class_3a.id, full_name="Wang Fang", student_number="S1"
        )
        li = Student(
            school_id=school.id, class_id=class_3a.id, full_name="Li Lei", student_number="S2"
        )
        zhao = Student(
            school_id=school.id, class_id=class_3b.id, full_name="Zhao Min", student_number="S3"
        )
        session.add_all([wang, li, zhao])
        await session.flush()
        for user, child in [(wang_parent, wang), (zhao_parent, zhao)]:
            parent = Person(
                telegram_user_id=user.id,
                full_name=user.full_name,
                language="en",
                roles=[RoleGrant(school_id=school.id, role=Role.GUARDIAN)],
            )
            session.add(parent)
            await session.flush()
            session.add(Guardianship(guardian_id=parent.id, student_id=child.id))
        return Campus(staff, wang_parent, zhao_parent, school.id, class_3a.id, class_3b.id)


async def _notices(live: LiveBot) -> int:
    async with live.sessionmaker() as session:
        return await session.scalar(select(func.count(Notice.id))) or 0


def _buttons(message: dict[str, Any]) -> list[str]:
    return TelegramEmulator.button_texts(message)


async def _press_for_new(
    live: LiveBot, user: SimUser, message: dict[str, Any], button: str, count: int
) -> list[dict[str, Any]]:
    """Press a button that makes the bot send ``count`` new messages, and return them."""
    await live.press(user, message, button)
    return await live.emu.wait_for_messages(user, count=count, timeout=10)


async def _type_for_new(
    live: LiveBot, user: SimUser, text: str, count: int
) -> list[dict[str, Any]]:
    await live.emu.send_text(user, text)
    return await live.emu.wait_for_messages(user, count=count, timeout=10)


async def _to_templates(live: LiveBot, user: SimUser, kind: str) -> dict[str, Any]:
    """/notify, pick 3A, Done, pick ``kind``: the template screen."""
    screen = await live.send(user, "/notify")
    screen = await live.press(user, screen, "3A")
    screen = await live.press(user, screen, "Done ➡️")
    return await live.press(user, screen, kind)


async def test_teacher_sends_a_template_alert_that_parents_receive(live: LiveBot) -> None:
    campus = await _campus(live)
    teacher = campus.staff
    start = await live.send(teacher, "/notify")
    assert "Who should receive it?" in start["text"]
    assert _buttons(start) == ["3A", "Done ➡️", "✖️ Cancel"]
    screen = await live.press(teacher, start, "3A")
    assert "✅ 3A" in _buttons(screen) and "Selected: 3A" in screen["text"]
    screen = await live.press(teacher, screen, "Done ➡️")
    assert "What kind of notice is it?" in screen["text"]
    templates = await live.press(teacher, screen, "⚠️ Safety alert")
    labels = _buttons(templates)
    # The safety alerts first, then the others marked with their kind.
    assert labels.index("Holiday safety letter") < labels.index("📢 Parent-teacher meeting")
    assert "✍️ Write my own text" in labels

    prompt = await live.press(teacher, templates, "Holiday safety letter")
    assert "Field 1 of 2: First day of the holiday" in prompt["text"]
    assert "For example: 1 July" in prompt["text"]
    prompt = await live.send(teacher, "10 July")
    assert "Field 2 of 2: Day school starts again" in prompt["text"]
    ack = await live.send(teacher, "1 September")
    assert "Should parents acknowledge" in ack["text"]
    plan = await live.press(teacher, ack, "✅ Yes, ask them to acknowledge (recommended)")
    preset = "Deadline 24 h, reminders after 4 h and 12 h (recommended)"
    assert preset in _buttons(plan)
    assert "Deadline 48 h, reminder after 1 day" in _buttons(plan)
    drill = await live.press(teacher, plan, preset)
    assert "Is this a drill?" in drill["text"]
    when = await live.press(teacher, drill, "No, this is real")
    assert _buttons(when)[:3] == ["Now", "In 1 hour", "Tomorrow 07:30"]

    parent_view, summary = await _press_for_new(live, teacher, when, "Now", 2)
    for part in ["Wang Fang", "3A", "Holiday safety letter", "10 July", "1 September"]:
        assert part in parent_view["text"]
    assert "Notice #… · Sunshine Primary School" in parent_view["text"]
    assert "{child}" not in parent_view["text"]
    text = summary["text"]
    assert "the family of Wang Fang (3A) will receive" in text
    assert "Children: 2. Guardians who will receive it: 1." in text
    assert "Children without a linked guardian (1), who will not get it: Li Lei" in text
    assert "Sending: now" in text and "Acknowledgement required by" in text
    assert _buttons(summary) == ["📤 Send", "⬅️ Back", "✖️ Cancel"]

    # Pressing Send twice at once publishes once.
    send = live.emu.button_data(summary, "📤 Send")
    answers = await asyncio.gather(
        live.emu.press_button(teacher, summary, send, timeout=10),
        live.emu.press_button(teacher, summary, send, timeout=10),
    )
    assert [a is not None for a in answers] == [True, True]
    assert sorted(str(a.get("text") or "") for a in answers if a) == ["", "This dialog has ended."]
    done = live.emu.chat_log(teacher)[-1]
    assert "Notice #1 is on its way to 1 families" in done["text"]
    assert _buttons(done) == []

    [received] = await live.emu.wait_for_messages(campus.wang_parent, count=1, timeout=15)
    for part in ["Wang Fang", "Holiday safety letter", "10 July", "1 September", "Notice #1"]:
        assert part in received["text"]
    assert _buttons(received) == ["✅ I have read this and will supervise Wang Fang"]
    assert live.emu.chat_log(campus.zhao_parent) == []
    async with live.sessionmaker() as session:
        assert await _notices(live) == 1
        notice = await session.scalar(select(Notice))
        assert notice is not None
        assert notice.template_id == "holiday_safety" and notice.requires_ack
        assert notice.audience == {"classes": [campus.class_3a]}
        version = await session.scalar(select(NoticeVersion))
        assert version is not None
        assert set(version.body) == {"en", "zh"}
        assert "{child}" in version.body["en"] and "10 July" in version.body["zh"]


async def test_cancel_in_the_middle_sends_nothing(live: LiveBot) -> None:
    campus = await _campus(live)
    templates = await _to_templates(live, campus.staff, "📢 Class notice")
    cancelled = await live.press(campus.staff, templates, "✖️ Cancel")
    assert "Cancelled. Nothing was sent." in cancelled["text"]
    assert _buttons(cancelled) == []
    assert await _notices(live) == 0
    # Text typed now is not taken for a notice.
    reply = await live.send(campus.staff, "/help")
    assert "As a teacher" in reply["text"]


async def test_a_button_of_an_ended_dialog_does_nothing(live: LiveBot) -> None:
    campus = await _campus(live)
    first = await live.send(campus.staff, "/notify")
    second = await live.send(campus.staff, "/notify")
    answer = await live.emu.press_button(
        campus.staff, first, live.emu.button_data(first, "3A"), timeout=10
    )
    assert answer is not None and answer["text"] == "This dialog has ended."
    assert live.emu.chat_log(campus.staff)[-2]["text"] == first["text"]
    assert _buttons(live.emu.chat_log(campus.staff)[-1]) == _buttons(second)


async def test_back_goes_to_the_previous_step(live: LiveBot) -> None:
    campus = await _campus(live)
    teacher = campus.staff
    screen = await live.send(teacher, "/notify")
    screen = await live.press(teacher, screen, "3A")
    kinds = await live.press(teacher, screen, "Done ➡️")
    back = await live.press(teacher, kinds, "⬅️ Back")
    assert "Who should receive it?" in back["text"]
    assert "✅ 3A" in _buttons(back)  # the choice is kept
    kinds = await live.press(teacher, back, "Done ➡️")
    templates = await live.press(teacher, kinds, "📢 Class notice")
    title_prompt = await live.press(teacher, templates, "✍️ Write my own text")
    assert "Send the title" in title_prompt["text"]
    body_prompt = await live.send(teacher, "Sports day")
    assert "Now send the text of the notice" in body_prompt["text"]
    assert "{child}" in body_prompt["text"]
    back = await live.press(teacher, body_prompt, "⬅️ Back")
    assert "Send the title" in back["text"]
    back = await live.press(teacher, back, "⬅️ Back")
    assert "Pick a template or write your own text" in back["text"]
    back = await live.press(teacher, back, "⬅️ Back")
    assert "What kind of notice is it?" in back["text"]
    assert await _notices(live) == 0


async def test_teacher_cannot_pick_a_class_they_do_not_teach(live: LiveBot) -> None:
    campus = await _campus(live)
    teacher = campus.staff
    start = await live.send(teacher, "/notify")
    assert "3B" not in _buttons(start) and "🏫 Whole school" not in _buttons(start)
    forged = DialogPress.unpack(live.emu.button_data(start, "3A"))
    forged.v = str(campus.class_3b)
    answer = await live.emu.press_button(
        teacher, start, forged.pack(), timeout=10, check_button=False
    )
    assert answer is not None and "You may not send notices to that class" in answer["text"]
    whole_school = DialogPress(d=forged.d, n=forged.n, a="all")
    answer = await live.emu.press_button(
        teacher, start, whole_school.pack(), timeout=10, check_button=False
    )
    assert answer is not None and "Only a school administrator" in answer["text"]
    answer = await live.emu.press_button(
        teacher, start, live.emu.button_data(start, "Done ➡️"), timeout=10
    )
    assert answer is not None and answer["text"] == "Please pick at least one class."
    assert "Selected: none yet" in live.emu.chat_log(teacher)[-1]["text"]
    assert await _notices(live) == 0


async def test_parent_cannot_send_or_edit_notices(live: LiveBot) -> None:
    campus = await _campus(live)
    for command in ["/notify", "/edit_notice 1"]:
        reply = await live.send(campus.wang_parent, command)
        assert "only teachers and school administrators can send or edit notices" in reply["text"]
    assert await _notices(live) == 0


async def test_scheduled_send_is_not_delivered_now(live: LiveBot) -> None:
    campus = await _campus(live)
    teacher = campus.staff
    templates = await _to_templates(live, teacher, "📢 Class notice")
    await live.press(teacher, templates, "✍️ Write my own text")
    await live.send(teacher, "Sports day")
    ack = await live.send(
        teacher, "Dear parent of {child} ({class_name}): sports day is on Friday."
    )
    when = await live.press(teacher, ack, "No acknowledgement needed (recommended)")
    assert "When should it be sent?" in when["text"]  # no plan and no drill step
    refused = await live.send(teacher, "2020-01-01 08:00")
    assert "2020-01-01 08:00 has already passed" in refused["text"]
    garbled = await live.send(teacher, "next Friday")
    assert "Please type the time as YYYY-MM-DD HH:MM" in garbled["text"]

    later = (utcnow().astimezone(SCHOOL_ZONE) + timedelta(days=2)).strftime("%Y-%m-%d 08:00")
    parent_view, summary = await _type_for_new(live, teacher, later, 2)
    assert "Dear parent of Wang Fang (3A): sports day is on Friday." in parent_view["text"]
    assert f"Sending: {later} (school time)" in summary["text"]
    assert "No acknowledgement asked." in summary["text"]
    done = await live.press(teacher, summary, "📤 Send")
    assert f"Notice #1 will go to 1 families at {later} (school time)" in done["text"]

    async with live.sessionmaker() as session:
        rows = list(await session.scalars(select(OutboxMessage)))
    assert len(rows) == 1 and rows[0].state == OutboxState.PENDING
    due = as_utc(rows[0].due_at)
    assert due == datetime.strptime(later, "%Y-%m-%d %H:%M").replace(tzinfo=SCHOOL_ZONE)
    assert due > utcnow() + timedelta(days=1)
    assert live.emu.chat_log(campus.wang_parent) == []


async def test_edit_notice_sends_version_2_with_what_changed(live: LiveBot) -> None:
    campus = await _campus(live)
    async with live.sessionmaker() as session, session.begin():
        author = await session.scalar(
            select(Person).where(Person.telegram_user_id == campus.staff.id)
        )
        assert author is not None
        await publish_notice(
            session,
            author,
            campus.school_id,
            NoticeDraft(
                kind=NoticeKind.CLASS_NOTICE,
                class_ids=(campus.class_3a,),
                title={"en": "Sports day"},
                body={"en": "Sports day for {child} is on Friday."},
                requires_ack=True,
                deadline=timedelta(days=2),
                reminders=(timedelta(days=1),),
            ),
        )
    live.app.delivery.nudge()
    [first] = await live.emu.wait_for_messages(campus.wang_parent, count=1, timeout=15)
    assert "Sports day for Wang Fang is on Friday." in first["text"]

    # Someone else's notice cannot be edited.
    other = live.emu.create_user("Ma", language_code="en")
    async with live.sessionmaker() as session, session.begin():
        session.add(
            Person(
                telegram_user_id=other.id,
                language="en",
                roles=[RoleGrant(school_id=campus.school_id, role=Role.TEACHER)],
            )
        )
    reply = await live.send(other, "/edit_notice 1")
    assert "There is no notice #1 that you can edit." in reply["text"]

    teacher = campus.staff
    title = await live.send(teacher, "/edit_notice 1")
    assert "Editing notice #1 (version 1)" in title["text"] and "Sports day" in title["text"]
    body = await live.press(teacher, title, "Keep the title")
    assert "Sports day for {child} is on Friday." in body["text"]
    note = await live.send(teacher, "Sports day for {child} is on Saturday.")
    assert "what changed?" in note["text"]
    parent_view, summary = await _type_for_new(live, teacher, "Moved to Saturday", 2)
    assert "This notice has been updated (version 2)" in parent_view["text"]
    assert "What changed: Moved to Saturday" in parent_view["text"]
    assert "Sports day for Wang Fang is on Saturday." in parent_view["text"]
    assert "Notice #1 becomes version 2" in summary["text"]
    done = await live.press(teacher, summary, "📤 Send the update")
    assert "Notice #1 is now at version 2" in done["text"]

    [update] = await live.emu.wait_for_messages(campus.wang_parent, count=1, timeout=15)
    for part in [
        "This notice has been updated (version 2)",
        "What changed: Moved to Saturday",
        "Sports day for Wang Fang is on Saturday.",
        "Please read it again and confirm.",
    ]:
        assert part in update["text"]
    assert _buttons(update) == ["✅ Acknowledge"]
    async with live.sessionmaker() as session:
        notice = await session.scalar(select(Notice))
        assert notice is not None and notice.current_version == 2
        notes = list(await session.scalars(select(NoticeVersion.change_note)))
    assert sorted(notes, key=str) == sorted([None, "Moved to Saturday"], key=str)


async def test_over_long_text_is_refused_and_the_step_kept(live: LiveBot) -> None:
    campus = await _campus(live)
    teacher = campus.staff
    templates = await _to_templates(live, teacher, "📢 Class notice")
    await live.press(teacher, templates, "✍️ Write my own text")
    refused = await live.send(teacher, "T" * 121)
    assert "That is too long: 121 characters, at most 120." in refused["text"]
    await live.send(teacher, "Sports day")
    refused = await live.send(teacher, "x" * 3600)
    assert "That is too long: 3600 characters, at most 3500." in refused["text"]
    ack = await live.send(teacher, "Sports day for {child} is on Friday.")
    assert "Should parents acknowledge" in ack["text"]
    assert await _notices(live) == 0


async def test_admin_addresses_the_whole_school(live: LiveBot) -> None:
    campus = await _campus(live, Role.ADMIN)
    admin = campus.staff
    start = await live.send(admin, "/notify")
    assert _buttons(start)[:4] == ["🏫 Whole school", "Grade 3", "3A", "3B"]
    everyone = await live.press(admin, start, "🏫 Whole school")
    assert _buttons(everyone)[:4] == ["✅ 🏫 Whole school", "✅ Grade 3", "✅ 3A", "✅ 3B"]
    nobody = await live.press(admin, everyone, "✅ Grade 3")
    assert "Selected: none yet" in nobody["text"]
    grade = await live.press(admin, nobody, "Grade 3")
    kinds = await live.press(admin, grade, "Done ➡️")
    templates = await live.press(admin, kinds, "📢 Class notice")
    await live.press(admin, templates, "✍️ Write my own text")
    await live.send(admin, "School photo day")
    ack = await live.send(admin, "Photo day for {child} in {class_name} is on Monday.")
    when = await live.press(admin, ack, "No acknowledgement needed (recommended)")
    _parent_view, summary = await _press_for_new(live, admin, when, "Now", 2)
    assert "Classes: 3A, 3B" in summary["text"]
    done = await live.press(admin, summary, "📤 Send")
    assert "is on its way to 2 families" in done["text"]
    [wang] = await live.emu.wait_for_messages(campus.wang_parent, count=1, timeout=15)
    [zhao] = await live.emu.wait_for_messages(campus.zhao_parent, count=1, timeout=15)
    assert "Photo day for Wang Fang in 3A is on Monday." in wang["text"]
    assert "Photo day for Zhao Min in 3B is on Monday." in zhao["text"]
