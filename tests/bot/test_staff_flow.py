"""End to end: an administrator manages teachers and experts, removes students and guardians'
links from the chat; and ``safecampus teacher`` / ``safecampus expert`` from scripts."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import cli
from bot.demo import first_link, start_code
from campus.db import create_engine, create_sessionmaker, upgrade_database
from campus.models import (
    AuditEvent,
    Expert,
    Guardianship,
    InviteKind,
    Person,
    Role,
    RoleGrant,
    Student,
    TeacherAssignment,
)
from campus.services.invites import issue_invite, redeem_invite
from campus.services.schools import create_class, create_school
from campus.services.staff import classes_of_teacher
from emulator import SimUser
from tests.bot.conftest import LiveBot


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """An administrator taps quickly: no flood guard here."""
    return {"flood_rate_per_s": 1000.0, "flood_burst": 1000}


async def _join(live: LiveBot, name: str, invite_reply: dict[str, Any]) -> tuple[SimUser, str]:
    user = live.emu.create_user(name, language_code="en")
    joined = await live.send(user, f"/start {start_code(first_link(invite_reply['text']))}")
    return user, joined["text"]


async def _teacher(live: LiveBot, admin: SimUser, name: str = "Chen") -> SimUser:
    teacher, text = await _join(live, name, await live.send(admin, "/invite_teacher"))
    assert "You are now a teacher" in text
    return teacher


async def _parent_of(live: LiveBot, invite_reply: dict[str, Any], name: str) -> SimUser:
    parent, offer_text = await _join(live, name, invite_reply)
    assert "Is this your child?" in offer_text
    offer = live.emu.chat_log(parent)[-1]
    done = await live.press(parent, offer, "Yes, this is my child")
    assert "You will receive notices" in done["text"]
    return parent


async def _settled(live: LiveBot, user: SimUser) -> None:
    # One person's updates are handled in order: after this answer the last one committed.
    await live.send(user, "/help")


# --- teachers ------------------------------------------------------------------------------


async def test_admin_assigns_a_teacher_to_classes_with_buttons(live: LiveBot) -> None:
    admin = await live.admin()
    assert "No teachers yet" in (await live.send(admin, "/teachers"))["text"]
    assert "No teachers yet" in (await live.send(admin, "/assign"))["text"]
    await _teacher(live, admin, "Chen")
    assert "No classes yet" in (await live.send(admin, "/assign"))["text"]
    await live.send(admin, "/newclass 3A")
    await live.send(admin, "/newclass 4B")
    assert "• Chen — no classes yet" in (await live.send(admin, "/teachers"))["text"]

    offer = await live.send(admin, "/assign")
    assert live.emu.button_texts(offer) == ["Chen"]
    panel = await live.press(admin, offer, "Chen")
    assert "Classes of Chen" in panel["text"]
    assert live.emu.button_texts(panel) == ["3A", "4B", "Done"]
    panel = await live.press(admin, panel, "3A")
    assert live.emu.button_texts(panel) == ["✓ 3A", "4B", "Done"]
    panel = await live.press(admin, panel, "✓ 3A")
    assert live.emu.button_texts(panel) == ["★ 3A", "4B", "Done"]
    panel = await live.press(admin, panel, "4B")
    assert live.emu.button_texts(panel) == ["★ 3A", "✓ 4B", "Done"]
    done = await live.press(admin, panel, "Done")
    assert done["text"] == "Done. Chen teaches: 3A (head teacher), 4B."
    assert live.emu.button_texts(done) == []

    async with live.sessionmaker() as session:
        chen = await session.scalar(select(Person.id).where(Person.full_name == "Chen"))
        assert chen is not None
        assert [c.name for c in await classes_of_teacher(session, chen)] == ["3A", "4B"]
    teachers = (await live.send(admin, "/teachers"))["text"]
    assert "• Chen — 3A (head teacher), 4B" in teachers

    offer = await live.send(admin, "/unassign")
    assert live.emu.button_texts(offer) == ["Chen · 3A, 4B"]
    panel = await live.press(admin, offer, "Chen · 3A, 4B")
    assert live.emu.button_texts(panel) == ["✕ 3A", "✕ 4B", "Done"]
    panel = await live.press(admin, panel, "✕ 4B")
    assert live.emu.button_texts(panel) == ["✕ 3A", "Done"]
    done = await live.press(admin, panel, "Done")
    assert done["text"] == "Done. Chen teaches: 3A (head teacher)."
    await _settled(live, admin)
    async with live.sessionmaker() as session:
        kinds = list(await session.scalars(select(AuditEvent.kind)))
        assert kinds.count("teacher.assigned") == 3 and kinds.count("teacher.unassigned") == 1


async def test_admin_invites_an_expert(live: LiveBot) -> None:
    admin = await live.admin()
    assert "Usage: /invite_expert" in (await live.send(admin, "/invite_expert"))["text"]
    reply = await live.send(admin, "/invite_expert law,cooking en")
    assert "Unknown category: cooking." in reply["text"] and "Usage" in reply["text"]
    reply = await live.send(admin, "/invite_expert law en,fr")
    assert "Unknown language: fr." in reply["text"]
    assert "No experts yet" in (await live.send(admin, "/experts"))["text"]

    reply = await live.send(admin, "/invite_expert law, psych en,zh")
    assert "an expert in law, psychology (English, 简体中文)" in reply["text"]
    expert, joined = await _join(live, "Dr Wu", reply)
    assert "You are now an expert for law, psychology at Sunshine Primary School." in joined
    assert "As an expert" in joined

    async with live.sessionmaker() as session:
        profile = await session.scalar(select(Expert))
        assert profile is not None
        assert (profile.categories, profile.languages) == (["law", "psych"], ["en", "zh"])
    listing = (await live.send(admin, "/experts"))["text"]
    assert f"• E{profile.id} — law, psychology · English, 简体中文" in listing
    assert "Wu" not in listing
    assert "As an expert" in (await live.send(expert, "/help"))["text"]


async def test_admin_removes_a_teacher_and_an_expert(live: LiveBot) -> None:
    admin = await live.admin()
    await live.send(admin, "/newclass 3A")
    teacher = await _teacher(live, admin, "Chen")
    panel = await live.press(admin, await live.send(admin, "/assign"), "Chen")
    await live.press(admin, panel, "3A")
    expert, _joined = await _join(live, "Dr Wu", await live.send(admin, "/invite_expert law en"))
    async with live.sessionmaker() as session:
        label = f"E{await session.scalar(select(Expert.id))}"

    offer = await live.send(admin, "/remove_staff")
    assert live.emu.button_texts(offer) == ["Chen — teacher", f"{label} — expert (law)"]
    confirm = await live.press(admin, offer, f"{label} — expert (law)")
    assert confirm["text"].startswith(f"Remove expert {label}?")
    cancelled = await live.press(admin, confirm, "Cancel")
    assert cancelled["text"] == "Nothing was changed."

    confirm = await live.press(admin, await live.send(admin, "/remove_staff"), "Chen — teacher")
    assert confirm["text"].startswith("Remove Chen as a teacher?")
    done = await live.press(admin, confirm, "Yes, remove")
    assert done["text"] == "Chen is no longer a teacher at your school."
    assert "this command is for school staff" in (await live.send(teacher, "/classes"))["text"]

    confirm = await live.press(
        admin, await live.send(admin, "/remove_staff"), f"{label} — expert (law)"
    )
    done = await live.press(admin, confirm, "Yes, remove")
    assert done["text"] == f"{label} is no longer an expert at your school."
    assert "There are no teachers or experts" in (await live.send(admin, "/remove_staff"))["text"]
    await _settled(live, admin)

    async with live.sessionmaker() as session:
        roles = list(await session.scalars(select(RoleGrant.role)))
        assert roles == [Role.ADMIN]
        assert await session.scalar(select(func.count(TeacherAssignment.id))) == 0
        profile = await session.scalar(select(Expert))
        assert profile is not None and profile.on_duty is False
        removed = list(
            await session.scalars(select(AuditEvent).where(AuditEvent.kind == "staff.removed"))
        )
        assert [event.payload["role"] for event in removed] == ["teacher", "expert"]
        assert all("Chen" not in str(event.payload) for event in removed)
    assert "As an expert" not in (await live.send(expert, "/help"))["text"]


# --- students and guardians ----------------------------------------------------------------


async def test_admin_removes_a_student(live: LiveBot) -> None:
    admin = await live.admin()
    await live.send(admin, "/newclass 3A")
    added = await live.send(admin, "/addstudent 3A Wang Fang")
    assert "Student number: S0001" in added["text"]
    parent = await _parent_of(live, added, "Li")
    unused = await live.send(admin, "/addstudent 3A Li Lei")
    parent_messages = len(live.emu.chat_log(parent))

    assert "Usage: /remove_student" in (await live.send(admin, "/remove_student"))["text"]
    reply = await live.send(admin, "/remove_student S9999")
    assert "There is no student with number S9999" in reply["text"]

    offer = await live.send(admin, "/remove_student S0001")
    assert "Remove Wang Fang (3A, number S0001) from the school?" in offer["text"]
    assert (await live.press(admin, offer, "Cancel"))["text"] == "Nothing was changed."

    offer = await live.send(admin, "/remove_student S0001")
    done = await live.press(admin, offer, "Yes, remove")
    assert done["text"] == (
        "Wang Fang (3A, number S0001) was removed. Guardian links deleted: 1. Unused invite "
        "links revoked: 0."
    )
    assert len(live.emu.chat_log(parent)) == parent_messages
    # The parent had no other child: they are a newcomer again.
    assert "To join, open the invite link" in (await live.send(parent, "/help"))["text"]
    assert "There is no student" in (await live.send(admin, "/remove_student S0001"))["text"]

    done = await live.press(admin, await live.send(admin, "/remove_student S0002"), "Yes, remove")
    assert "Unused invite links revoked: 1." in done["text"]
    latecomer = live.emu.create_user("Late", language_code="en")
    code = start_code(first_link(unused["text"]))
    assert "withdrawn" in (await live.send(latecomer, f"/start {code}"))["text"]
    await _settled(live, admin)

    async with live.sessionmaker() as session:
        students = list(await session.scalars(select(Student).order_by(Student.id)))
        assert [s.full_name for s in students] == ["Wang Fang", "Li Lei"]
        assert all(s.removed_at is not None for s in students)
        assert await session.scalar(select(func.count(Guardianship.id))) == 0
        event = await session.scalar(
            select(AuditEvent)
            .where(AuditEvent.kind == "student.removed")
            .order_by(AuditEvent.id)
            .limit(1)
        )
        assert event is not None
        assert event.payload["guardians_unlinked"] == 1 and "Wang" not in str(event.payload)


async def test_admin_unlinks_one_guardian(live: LiveBot) -> None:
    admin = await live.admin()
    await live.send(admin, "/newclass 3A")
    added = await live.send(admin, "/addstudent 3A Wang Fang")
    mother = await _parent_of(live, added, "Li")
    async with live.sessionmaker() as session, session.begin():
        student = await session.scalar(select(Student))
        assert student is not None
        _invite, code = await issue_invite(
            session, student.school_id, InviteKind.GUARDIAN, student_id=student.id
        )
    father = live.emu.create_user("Wang", language_code="en")
    offer = await live.send(father, f"/start {code}")
    await live.press(father, offer, "Yes, this is my child")
    mother_messages = len(live.emu.chat_log(mother))

    assert "Usage: /remove_guardian" in (await live.send(admin, "/remove_guardian"))["text"]
    await live.send(admin, "/addstudent 3A Li Lei")
    assert (
        "Nobody is linked to Li Lei" in (await live.send(admin, "/remove_guardian S0002"))["text"]
    )

    offer = await live.send(admin, "/remove_guardian S0001")
    assert "Guardians linked to Wang Fang (3A, number S0001)" in offer["text"]
    assert live.emu.button_texts(offer) == ["Li (guardian)", "Wang (guardian)"]
    confirm = await live.press(admin, offer, "Li (guardian)")
    assert confirm["text"].startswith("Unlink Li (guardian) from Wang Fang (3A, number S0001)?")
    assert "SafeCampus does not tell them" in confirm["text"]
    done = await live.press(admin, confirm, "Yes, unlink")
    assert done["text"] == (
        "Li (guardian) is no longer linked to Wang Fang (3A, number S0001). They were not told."
    )
    assert len(live.emu.chat_log(mother)) == mother_messages
    await _settled(live, admin)

    async with live.sessionmaker() as session:
        guardians = list(
            await session.scalars(
                select(Person.full_name).join(Guardianship, Guardianship.guardian_id == Person.id)
            )
        )
        assert guardians == ["Wang"]
    assert "As a parent" in (await live.send(father, "/help"))["text"]
    assert "As a parent" not in (await live.send(mother, "/help"))["text"]


# --- the command line ----------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings that point at an embedded database in a fresh directory."""
    for name in ("SAFECAMPUS_DATABASE_URL", "SAFECAMPUS_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SAFECAMPUS_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _in_database(data_dir: Path, work: Any) -> Any:
    async def run() -> Any:
        engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'safecampus.db'}")
        try:
            await upgrade_database(engine)
            async with create_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _join_with(data_dir: Path, link: str, name: str, telegram_id: int) -> int:
    async def join(session: Any) -> int:
        person = Person(telegram_user_id=telegram_id, full_name=name, roles=[])
        session.add(person)
        await session.flush()
        await redeem_invite(session, start_code(link), person)
        return person.id

    result: int = _in_database(data_dir, join)
    return result


def test_cli_invites_assigns_and_lists_teachers(data_dir: Path) -> None:
    async def school(session: Any) -> None:
        created = await create_school(session, "Hope School", "Asia/Shanghai")
        await create_class(session, created.id, "3A")

    _in_database(data_dir, school)
    runner = CliRunner()
    result = runner.invoke(cli, ["teacher", "list"])
    assert result.exit_code == 0, result.output
    assert "no teachers yet" in result.stdout

    result = runner.invoke(cli, ["teacher", "invite", "--bot-username", "@hope_bot"])
    assert result.exit_code == 0, result.output
    link = first_link(result.stdout)
    assert link.startswith("https://t.me/hope_bot?start=")
    teacher_id = _join_with(data_dir, link, "Chen", 1001)

    result = runner.invoke(
        cli, ["teacher", "assign", "--teacher-id", str(teacher_id), "--class", "3a"]
    )
    assert result.exit_code == 0, result.output
    assert f"Teacher {teacher_id} is now a teacher of 3A." in result.stdout
    result = runner.invoke(
        cli, ["teacher", "assign", "--teacher-id", str(teacher_id), "--class", "3A", "--head"]
    )
    assert "head teacher of 3A" in result.stdout
    result = runner.invoke(cli, ["teacher", "list", "--school", "1"])
    assert result.stdout.splitlines() == [f"{teacher_id}\tChen\t3A*"]

    result = runner.invoke(
        cli, ["teacher", "assign", "--teacher-id", str(teacher_id), "--class", "9Z"]
    )
    assert result.exit_code == 1 and "there is no class '9Z'" in result.output
    result = runner.invoke(cli, ["teacher", "assign", "--teacher-id", "999", "--class", "3A"])
    assert result.exit_code == 1 and "person 999 is not a teacher" in result.output


def test_cli_invites_and_lists_experts(data_dir: Path) -> None:
    async def school(session: Any) -> None:
        await create_school(session, "Hope School", "Asia/Shanghai")

    _in_database(data_dir, school)
    runner = CliRunner()
    result = runner.invoke(
        cli, ["expert", "invite", "--categories", "law,cooking", "--languages", "en"]
    )
    assert result.exit_code == 2 and "unknown or missing categories: cooking" in result.output
    result = runner.invoke(
        cli,
        [
            "expert",
            "invite",
            "--categories",
            "law,psych",
            "--languages",
            "en,zh",
            "--bot-username",
            "hope_bot",
        ],
    )
    assert result.exit_code == 0, result.output
    _join_with(data_dir, first_link(result.stdout), "Dr Wu", 1002)

    result = runner.invoke(cli, ["expert", "list"])
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    assert line.split("\t")[1:] == ["law,psych", "en,zh", "on duty"]
    assert line.startswith("E") and "Wu" not in line
