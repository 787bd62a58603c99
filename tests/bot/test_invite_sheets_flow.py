"""End to end: an administrator prints guardian invite slips with /invites and revokes a
student's unused invites with /revoke_invites; and the same with ``safecampus invites``."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.demo import first_link, start_code
from bot.invite_commands import invites_group
from campus.db import create_engine, create_sessionmaker, upgrade_database
from campus.models import Invite
from campus.roster import parse_roster
from campus.services.roster import import_roster
from campus.services.schools import create_school
from emulator import SimUser
from tests.bot.conftest import LiveBot

ROSTER = (
    "class,name,number,guardian1,relation1,guardian2,relation2\n"
    "3A,Wang Fang,S001,Wang Li,mother,Wang Jun,father\n"
    "3A,Li Lei,S002,,,,\n"
    "4B,Zhao Min,S004,Zhao Hua,grandmother,,\n"
)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """An administrator at work sends many commands in a row: no flood guard here."""
    return {"flood_rate_per_s": 1000.0, "flood_burst": 1000}


async def _import_roster(live: LiveBot, admin: SimUser) -> None:
    await live.emu.send_document(admin, "roster.csv", ROSTER.encode(), mime_type="text/csv")
    [reply] = await live.emu.wait_for_messages(admin, count=1, timeout=10)
    assert "Students added: 3" in reply["text"]


async def _print(live: LiveBot, admin: SimUser, class_name: str) -> tuple[dict[str, Any], ...]:
    """Send /invites and return the two documents, once the update's transaction is over."""
    await live.emu.send_command(admin, "invites", class_name)
    pdf, table = await live.emu.wait_for_messages(admin, count=2, timeout=20)
    # One person's updates are handled one after the other: the answer to /help means the
    # transaction of /invites is over.
    await live.send(admin, "/help")
    return pdf, table


def _rows(live: LiveBot, document: dict[str, Any]) -> list[dict[str, str]]:
    data = live.emu.file_bytes(document["document"]["file_id"])
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def _code(rows: list[dict[str, str]], number: str, slot: int = 1) -> str:
    [row] = [r for r in rows if (r["student_number"], r["slot"]) == (number, str(slot))]
    return start_code(row["link"])


async def _invites(live: LiveBot) -> int:
    async with live.sessionmaker() as session:
        return await session.scalar(select(func.count(Invite.id))) or 0


async def test_admin_prints_slips_and_a_parent_joins_with_one(live: LiveBot) -> None:
    admin = await live.admin()
    await _import_roster(live, admin)
    pdf, table = await _print(live, admin, "3a")
    assert pdf["document"]["file_name"] == "invites-3A.pdf"
    assert live.emu.file_bytes(pdf["document"]["file_id"]).startswith(b"%PDF")
    assert "Invite slips for 3A: 3 (students: 2)" in pdf["caption"]
    assert "earlier unused slips for the same guardians were cancelled" in pdf["caption"]
    assert table["document"]["file_name"] == "invites-3A.csv"
    rows = _rows(live, table)
    assert [(r["student_number"], r["slot"], r["guardian"]) for r in rows] == [
        ("S001", "1", "Wang Li (mother)"),
        ("S001", "2", "Wang Jun (father)"),
        ("S002", "1", ""),
    ]

    parent = live.emu.create_user("Wang Li", language_code="en")
    offer = await live.send(parent, f"/start {_code(rows, 'S001')}")
    assert "Wang Fang, class 3A, Sunshine Primary School" in offer["text"]
    done = await live.press(parent, offer, "Yes, this is my child")
    assert "You will receive notices about Wang Fang (3A)" in done["text"]

    # Printing again: the guardian who joined gets no slip, the others a new one, and the
    # slips printed before stop working.
    _pdf, table = await _print(live, admin, "3A")
    again = _rows(live, table)
    assert [(r["student_number"], r["slot"]) for r in again] == [("S001", "2"), ("S002", "1")]
    stranger = live.emu.create_user("Li", language_code="en")
    old = await live.send(stranger, f"/start {_code(rows, 'S002')}")
    assert "withdrawn by the school" in old["text"]
    new = await live.send(stranger, f"/start {_code(again, 'S002')}")
    assert "Li Lei, class 3A" in new["text"]


async def test_a_class_of_joined_guardians_gets_no_files(live: LiveBot) -> None:
    admin = await live.admin()
    await live.send(admin, "/newclass 3A")
    code = start_code(first_link((await live.send(admin, "/addstudent 3A Wang Fang"))["text"]))
    parent = live.emu.create_user("Li", language_code="en")
    await live.press(parent, await live.send(parent, f"/start {code}"), "Yes, this is my child")
    before = await _invites(live)
    reply = await live.send(admin, "/invites 3A")
    assert "No invites to print for 3A" in reply["text"] and "document" not in reply
    assert await _invites(live) == before


async def test_revoking_a_students_invites_after_confirming(live: LiveBot) -> None:
    admin = await live.admin()
    await _import_roster(live, admin)
    _pdf, table = await _print(live, admin, "3A")
    rows = _rows(live, table)

    question = await live.send(admin, "/revoke_invites S002")
    assert "Revoke the unused invites for Li Lei (3A, number S002)?" in question["text"]
    assert live.emu.button_texts(question) == ["Revoke the invites", "Cancel"]
    cancelled = await live.press(admin, question, "Cancel")
    assert "Nothing was revoked." in cancelled["text"]
    parent = live.emu.create_user("Li", language_code="en")
    assert (
        "Is this your child?" in (await live.send(parent, f"/start {_code(rows, 'S002')}"))["text"]
    )

    question = await live.send(admin, "/revoke_invites S002")
    done = await live.press(admin, question, "Revoke the invites")
    assert "Unused invites revoked for Li Lei: 1." in done["text"]
    refused = await live.send(parent, f"/start {_code(rows, 'S002')}")
    assert "withdrawn by the school" in refused["text"]
    # The other student's slips still work.
    other = await live.send(parent, f"/start {_code(rows, 'S001', 2)}")
    assert "Wang Fang, class 3A" in other["text"]

    question = await live.send(admin, "/revoke_invites S002")
    nothing = await live.press(admin, question, "Revoke the invites")
    assert "Li Lei had no unused invites. Nothing changed." in nothing["text"]


async def test_only_an_administrator_of_the_school_can_revoke(live: LiveBot) -> None:
    admin = await live.admin()
    await _import_roster(live, admin)
    _pdf, table = await _print(live, admin, "3A")
    code = _code(_rows(live, table), "S002")
    question = await live.send(admin, "/revoke_invites S002")
    data = live.emu.button_data(question, "Revoke the invites")
    other_admin = await live.admin("Liu")  # the administrator of another school
    for presser in (live.emu.create_user("Mallory", language_code="en"), other_admin):
        await live.send(presser, "/help")  # known to the bot
        answer = await live.emu.press_button(admin, question, data, from_user=presser)
        assert answer is not None and answer["show_alert"]
        assert "Only a school administrator can use this button" in answer["text"]
    parent = live.emu.create_user("Li", language_code="en")
    assert "Is this your child?" in (await live.send(parent, f"/start {code}"))["text"]


async def test_parents_and_teachers_are_refused(live: LiveBot) -> None:
    admin = await live.admin()
    await _import_roster(live, admin)
    reply = await live.send(admin, "/invite_teacher")
    teacher = live.emu.create_user("Chen", language_code="en")
    await live.send(teacher, f"/start {start_code(first_link(reply['text']))}")
    parent = live.emu.create_user("Li", language_code="en")
    before = await _invites(live)
    for user in (parent, teacher):
        for command in ("/invites 3A", "/revoke_invites S001"):
            refusal = await live.send(user, command)
            assert "this command is for school staff" in refusal["text"]
            assert "reply_markup" not in refusal and "document" not in refusal
    assert await _invites(live) == before


async def test_unknown_classes_and_students_are_named(live: LiveBot) -> None:
    admin = await live.admin()
    await _import_roster(live, admin)
    assert "Usage: /invites CLASS" in (await live.send(admin, "/invites"))["text"]
    assert "There is no class 9Z" in (await live.send(admin, "/invites 9Z"))["text"]
    assert "Usage: /revoke_invites" in (await live.send(admin, "/revoke_invites"))["text"]
    unknown = await live.send(admin, "/revoke_invites S999")
    assert "There is no student with number S999 at your school" in unknown["text"]
    assert await _invites(live) == 1  # the administrator's claim only


# --- the command line ------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings that point at an embedded database, with a school and its roster."""
    for name in ("SAFECAMPUS_DATABASE_URL", "SAFECAMPUS_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SAFECAMPUS_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)

    async def prepare() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'safecampus.db'}")
        try:
            await upgrade_database(engine)
            async with create_sessionmaker(engine)() as session, session.begin():
                school = await create_school(session, "Hope School", "Asia/Shanghai")
                parsed = parse_roster(ROSTER.encode())
                await import_roster(session, school.id, parsed.rows, actor_id=None)
        finally:
            await engine.dispose()

    asyncio.run(prepare())
    return tmp_path


def _csv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def test_cli_writes_a_pdf_and_a_csv(data_dir: Path) -> None:
    runner = CliRunner()
    pdf = runner.invoke(
        invites_group, ["sheet", "--class", "3A", "--bot-username", "@hope_bot", "-o", "3a.pdf"]
    )
    assert pdf.exit_code == 0, pdf.output
    assert "Invite slips for class 3A written to 3a.pdf: 3 (students: 2)." in pdf.stdout
    assert "(revoked: 0)" in pdf.stdout
    assert (data_dir / "3a.pdf").read_bytes().startswith(b"%PDF")

    table = runner.invoke(
        invites_group,
        ["sheet", "--class", "3A", "--bot-username", "hope_bot", "--format", "csv", "-o", "x"],
    )
    assert table.exit_code == 0, table.output
    assert "earlier unused slips for the same guardians no longer do (revoked: 3)" in table.stdout
    rows = _csv_rows(data_dir / "x")
    assert [(r["student"], r["slot"]) for r in rows] == [
        ("Wang Fang", "1"),
        ("Wang Fang", "2"),
        ("Li Lei", "1"),
    ]
    assert all(r["link"].startswith("https://t.me/hope_bot?start=") for r in rows)

    one = runner.invoke(
        invites_group,
        ["sheet", "--student", "S004", "--bot-username", "hope_bot", "-o", "zhao.csv"],
    )
    assert one.exit_code == 0, one.output
    assert [r["guardian"] for r in _csv_rows(data_dir / "zhao.csv")] == ["Zhao Hua (grandmother)"]


def test_cli_revokes_a_student_or_a_class(data_dir: Path) -> None:
    runner = CliRunner()
    args = ["sheet", "--class", "3A", "--bot-username", "hope_bot", "-o", "3a.csv"]
    assert runner.invoke(invites_group, args).exit_code == 0
    student = runner.invoke(invites_group, ["revoke", "--student", "S002"])
    assert student.exit_code == 0, student.output
    assert "Unused guardian invites of student S002 revoked: 1." in student.stdout
    school_class = runner.invoke(invites_group, ["revoke", "--class", "3a"])
    assert "Unused guardian invites of class 3A revoked: 2." in school_class.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sheet", "--class", "9Z", "-o", "x.pdf", "--bot-username", "b"], "no class 9Z"),
        (["sheet", "--student", "S999", "-o", "x.pdf", "--bot-username", "b"], "number S999"),
        (
            ["sheet", "--class", "4B", "--student", "S001", "-o", "x.pdf", "--bot-username", "b"],
            "student S001 is not in class 4B",
        ),
        (["revoke", "--class", "9Z"], "there is no class 9Z"),
    ],
)
def test_cli_names_what_it_cannot_find(data_dir: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(invites_group, args)
    assert result.exit_code == 1
    assert message in result.output
    assert result.output.count("\n") == 1
    assert not (data_dir / "x.pdf").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["sheet", "-o", "x.pdf"],
        ["sheet", "--class", "3A", "-o", "x.txt", "--bot-username", "b"],
        ["revoke"],
        ["revoke", "--class", "3A", "--student", "S001"],
    ],
)
def test_cli_usage_errors(data_dir: Path, args: list[str]) -> None:
    result = CliRunner().invoke(invites_group, args)
    assert result.exit_code == 2
    assert "Usage:" in result.output
