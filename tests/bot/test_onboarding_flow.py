"""End to end: aiogram's real Bot and Dispatcher over HTTP against the emulator."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.demo import first_link, start_code
from campus.models import Guardianship, Person, SchoolClass, Student
from tests.bot.conftest import LiveBot


async def test_administrator_claims_school_once(live: LiveBot) -> None:
    code = await live.new_school()
    admin = live.emu.create_user("Zhang", language_code="en")
    reply = await live.send(admin, f"/start {code}")
    assert "You are now the administrator of Sunshine Primary School" in reply["text"]
    intruder = live.emu.create_user("Mallory", language_code="en")
    reply = await live.send(intruder, f"/start {code}")
    assert "already been used" in reply["text"]


async def test_parent_joins_after_confirming_the_child(live: LiveBot) -> None:
    admin = await live.admin()
    assert "Class 3A created" in (await live.send(admin, "/newclass 3A"))["text"]
    reply = await live.send(admin, "/addstudent 3A Wang Fang")
    code = start_code(first_link(reply["text"]))

    parent = live.emu.create_user("Li", language_code="en")
    offer = await live.send(parent, f"/start {code}")
    assert "Wang Fang, class 3A, Sunshine Primary School" in offer["text"]
    assert live.emu.button_texts(offer) == ["Yes, this is my child", "No, cancel"]
    done = await live.press(parent, offer, "Yes, this is my child")
    assert "You will receive notices about Wang Fang (3A)" in done["text"]

    async with live.sessionmaker() as session:
        linked = await session.scalar(
            select(Student.full_name)
            .join(Guardianship, Guardianship.student_id == Student.id)
            .join(Person, Person.id == Guardianship.guardian_id)
            .where(Person.telegram_user_id == parent.id)
        )
    assert linked == "Wang Fang"
    assert "As a parent you can" in (await live.send(parent, "/help"))["text"]


async def test_declining_links_nothing(live: LiveBot) -> None:
    admin = await live.admin()
    await live.send(admin, "/newclass 3A")
    code = start_code(first_link((await live.send(admin, "/addstudent 3A Wang Fang"))["text"]))
    parent = live.emu.create_user("Li", language_code="en")
    offer = await live.send(parent, f"/start {code}")
    declined = await live.press(parent, offer, "No, cancel")
    assert "Nothing was linked" in declined["text"]
    async with live.sessionmaker() as session:
        assert await session.scalar(select(func.count(Guardianship.id))) == 0
    # The link still works for the real parent.
    offer = await live.send(live.emu.create_user("Wang", language_code="en"), f"/start {code}")
    assert "Is this your child?" in offer["text"]


async def test_garbage_invite_codes_are_refused(live: LiveBot) -> None:
    parent = live.emu.create_user("Li", language_code="en")
    for code in ["nope", "A" * 64, "x" * 500]:
        reply = await live.send(parent, f"/start {code}")
        assert "not valid" in reply["text"]


async def test_parent_cannot_use_admin_commands(live: LiveBot) -> None:
    await live.admin()
    parent = live.emu.create_user("Li", language_code="en")
    for command in ["/newclass 9Z", "/addstudent 3A Someone", "/invite_teacher", "/classes"]:
        reply = await live.send(parent, command)
        assert "this command is for school staff" in reply["text"]
    async with live.sessionmaker() as session:
        assert await session.scalar(select(func.count(SchoolClass.id))) == 0
        assert await session.scalar(select(func.count(Student.id))) == 0


async def test_teacher_joins_with_invite(live: LiveBot) -> None:
    admin = await live.admin()
    reply = await live.send(admin, "/invite_teacher")
    teacher = live.emu.create_user("Chen", language_code="en")
    joined = await live.send(teacher, f"/start {start_code(first_link(reply['text']))}")
    assert "You are now a teacher at Sunshine Primary School" in joined["text"]
    assert "No classes yet" in (await live.send(teacher, "/classes"))["text"]
    assert "this command is for school staff" in (await live.send(teacher, "/newclass 1A"))["text"]


async def test_admin_input_is_checked(live: LiveBot) -> None:
    admin = await live.admin()
    assert "Please add a name" in (await live.send(admin, "/newclass"))["text"]
    assert "too long" in (await live.send(admin, "/newclass " + "x" * 300))["text"]
    await live.send(admin, "/newclass 3A")
    assert "already exists" in (await live.send(admin, "/newclass 3a"))["text"]
    assert "There is no class 4B" in (await live.send(admin, "/addstudent 4B Li Lei"))["text"]
    assert "Usage: /addstudent" in (await live.send(admin, "/addstudent 3A"))["text"]


async def test_html_in_names_is_shown_as_text(live: LiveBot) -> None:
    admin = await live.admin()
    await live.send(admin, "/newclass 3A")
    reply = await live.send(admin, "/addstudent 3A <b>Bobby</b> & co")
    assert "<b>Bobby</b> & co added to 3A" in reply["text"]
    assert not reply.get("entities") or all(e["type"] != "bold" for e in reply["entities"])
