"""End to end: an administrator sends the roster CSV to the bot (through the emulator), or
imports and exports it with ``safecampus roster``.

Assumes the roster router is registered (right after the admin router).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.handlers.roster import describe_problem
from bot.i18n import build_i18n
from bot.roster_commands import roster_group
from campus.db import create_engine, create_sessionmaker, upgrade_database
from campus.models import GuardianSlot, SchoolClass, Student
from campus.roster import MAX_BYTES, Problem, ProblemCode
from campus.services.schools import create_school
from campus.settings import ConfigError
from emulator import SimUser
from tests.bot.conftest import LiveBot

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "roster"


async def _send_file(
    live: LiveBot, user: SimUser, name: str, data: bytes, mime_type: str | None = "text/csv"
) -> str:
    """Send a document and return the bot's reply once the update's transaction committed."""
    await live.emu.send_document(user, name, data, mime_type=mime_type)
    [reply] = await live.emu.wait_for_messages(user, count=1, timeout=10)
    # The reply goes out before the commit; one person's updates are handled one after the
    # other, so the answer to /help means the document's transaction is over.
    await live.send(user, "/help")
    return str(reply["text"])


async def _counts(live: LiveBot) -> tuple[int, int, int]:
    async with live.sessionmaker() as session:
        return (
            await session.scalar(select(func.count(SchoolClass.id))) or 0,
            await session.scalar(select(func.count(Student.id))) or 0,
            await session.scalar(select(func.count(GuardianSlot.id))) or 0,
        )


async def test_admin_imports_a_roster_and_a_second_time_changes_nothing(live: LiveBot) -> None:
    admin = await live.admin()
    data = (FIXTURES / "roster.csv").read_bytes()
    first = await _send_file(live, admin, "roster.csv", data)
    assert "Roster imported: 5 students in the file." in first
    assert "Classes created: 2" in first and "Students added: 5" in first
    assert await _counts(live) == (2, 5, 4)

    again = await _send_file(live, admin, "roster.csv", data)
    assert "Students added: 0" in again and "Students updated: 0" in again
    assert "Students unchanged: 5" in again
    assert "Nothing changed" in again
    assert await _counts(live) == (2, 5, 4)
    assert "3A" in (await live.send(admin, "/classes"))["text"]


async def test_changed_file_updates_in_place(live: LiveBot) -> None:
    admin = await live.admin()
    await _send_file(live, admin, "roster.csv", (FIXTURES / "roster.csv").read_bytes())
    changed = b"class,name,number\n4B,Wang Fang,S001\n3A,Li Lei Jr,S002\n"
    reply = await _send_file(live, admin, "roster-v2.csv", changed)
    assert "Students updated: 2" in reply and "Students not in the file (kept): 3" in reply
    async with live.sessionmaker() as session:
        rows = await session.execute(
            select(Student.student_number, Student.full_name, SchoolClass.name)
            .join(SchoolClass, SchoolClass.id == Student.class_id)
            .where(Student.student_number.in_(["S001", "S002"]))
            .order_by(Student.student_number)
        )
        assert [tuple(row) for row in rows] == [
            ("S001", "Wang Fang", "4B"),
            ("S002", "Li Lei Jr", "3A"),
        ]
    assert await _counts(live) == (2, 5, 4)


async def test_a_file_with_bad_rows_names_each_and_imports_nothing(live: LiveBot) -> None:
    admin = await live.admin()
    reply = await _send_file(live, admin, "bad.csv", (FIXTURES / "bad_rows.csv").read_bytes())
    for line in [
        "row 3: “class” is empty.",
        "row 4: “student_name” is empty.",
        "row 5: “student_number” is empty.",
        "row 6: student number S001 appears twice (rows 2 and 6).",
        "row 7: unknown relation “auntie” in “guardian1_relation”",
        "row 8: “guardian1_relation” is filled but guardian 1 has no name.",
        "row 9: 6 cells are filled but the header has only 5 columns.",
        "row 10: “student_name” contains a line break",
        "row 11: student number 2.02E+11 was turned into scientific notation",
        "Nothing was imported.",
    ]:
        assert line in reply
    assert await _counts(live) == (0, 0, 0)


async def test_a_long_list_of_problems_is_cut_short(live: LiveBot) -> None:
    admin = await live.admin()
    data = "class,name,number\n" + "".join(f",Kid {i},N{i}\n" for i in range(40))
    reply = await _send_file(live, admin, "roster.csv", data.encode())
    assert "row 13: “class” is empty." in reply and "row 14:" not in reply
    assert "…and 28 more." in reply
    assert await _counts(live) == (0, 0, 0)


async def test_gbk_file_saved_by_excel_in_china(live: LiveBot) -> None:
    admin = await live.admin()
    text = (FIXTURES / "roster_zh.csv").read_text(encoding="utf-8-sig")
    reply = await _send_file(live, admin, "名单.csv", text.encode("gbk"), mime_type=None)
    assert "Students added: 3" in reply
    async with live.sessionmaker() as session:
        class_name = await session.scalar(
            select(SchoolClass.name)
            .join(Student, Student.class_id == SchoolClass.id)
            .where(Student.full_name == "王芳")
        )
    assert class_name == "三年级1班"


async def test_someone_without_the_admin_role_is_refused(live: LiveBot) -> None:
    await live.admin()
    parent = live.emu.create_user("Li", language_code="en")
    data = (FIXTURES / "roster.csv").read_bytes()
    reply = await _send_file(live, parent, "roster.csv", data)
    assert "Only a school administrator can import a roster" in reply
    assert await _counts(live) == (0, 0, 0)


async def test_files_that_are_not_a_roster_csv(live: LiveBot) -> None:
    admin = await live.admin()
    pdf = await _send_file(live, admin, "notice.pdf", b"%PDF-1.4", "application/pdf")
    assert "send it as a .csv file" in pdf
    workbook = await _send_file(live, admin, "roster.xlsx", b"PK\x03\x04", None)
    assert "This is an Excel workbook, not a CSV file" in workbook
    big = b"class,name,number\n" + b"x" * MAX_BYTES
    assert "The file is too large: at most 2 MB." in await _send_file(live, admin, "big.csv", big)
    image = await _send_file(live, admin, "roster.csv", b"\x89PNG\r\n\x1a\n\x00\x00")
    assert "cannot be read as a CSV table" in image
    assert await _counts(live) == (0, 0, 0)


async def test_problems_are_explained_in_chinese(live: LiveBot) -> None:
    admin = live.emu.create_user("张", language_code="zh-hans")
    await live.send(admin, f"/start {await live.new_school()}")
    data = "班级,学生姓名,学号\n三年级1班,王芳,1\n三年级1班,李雷,1\n".encode("gbk")
    reply = await _send_file(live, admin, "名单.csv", data)
    assert "第 3 行：学号 1 出现了两次（第 2 行和第 3 行）。" in reply
    assert "没有导入任何内容" in reply


FILE_PROBLEMS = {
    ProblemCode.EMPTY_FILE,
    ProblemCode.NO_ROWS,
    ProblemCode.NOT_CSV,
    ProblemCode.SPREADSHEET_FILE,
    ProblemCode.TOO_LARGE,
    ProblemCode.TOO_MANY_ROWS,
}


@pytest.mark.parametrize("code", list(ProblemCode))
def test_every_problem_code_has_its_own_words_in_both_languages(code: ProblemCode) -> None:
    problem = Problem(
        code,
        None if code in FILE_PROBLEMS else 5,
        {"column": "student_number", "header": "学号", "value": "S1", "slot": 1, "limit": 64},
    )
    i18n = build_i18n()
    texts = {}
    for locale in ("en", "zh"):
        with i18n.context(), i18n.use_locale(locale):
            texts[locale] = describe_problem(problem)
            generic = {
                i18n.gettext("The file cannot be imported."),
                i18n.gettext("row {row}: this row cannot be imported.").format(row=5),
            }
        assert texts[locale] not in generic
    assert texts["en"] != texts["zh"]


# --- the command line ------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings that point at an embedded database in a fresh directory."""
    for name in ("SAFECAMPUS_DATABASE_URL", "SAFECAMPUS_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SAFECAMPUS_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _add_schools(data_dir: Path, *names: str) -> None:
    async def add() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'safecampus.db'}")
        try:
            await upgrade_database(engine)
            async with create_sessionmaker(engine)() as session, session.begin():
                for name in names:
                    await create_school(session, name, "Asia/Shanghai")
        finally:
            await engine.dispose()

    asyncio.run(add())


def test_cli_imports_reimports_and_exports(data_dir: Path) -> None:
    _add_schools(data_dir, "Sunshine Primary")
    runner = CliRunner()
    roster = str(FIXTURES / "roster.csv")
    first = runner.invoke(roster_group, ["import", roster])
    assert first.exit_code == 0, first.output
    assert "Students added: 5" in first.stdout
    again = runner.invoke(roster_group, ["import", roster, "--school", "1"])
    assert "Students unchanged: 5" in again.stdout and "Nothing changed" in again.stdout

    exported = runner.invoke(roster_group, ["export", "-o", "out.csv"])
    assert exported.exit_code == 0, exported.output
    data = (data_dir / "out.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and "Wang Fang,S001" in data.decode("utf-8-sig")
    to_stdout = runner.invoke(roster_group, ["export"])
    assert to_stdout.stdout_bytes == data
    back = runner.invoke(roster_group, ["import", "out.csv"])
    assert "Nothing changed" in back.stdout


def test_cli_prints_every_bad_row_and_exits_1(data_dir: Path) -> None:
    _add_schools(data_dir, "Sunshine Primary")
    result = CliRunner().invoke(roster_group, ["import", str(FIXTURES / "bad_rows.csv")])
    assert result.exit_code == 1
    for row in range(3, 12):
        assert f"row {row}: " in result.stderr
    assert "row 6: student number S001 appears twice (rows 2 and 6)." in result.stderr
    assert "Nothing was imported." in result.stderr


def test_cli_shows_progress_on_long_imports(data_dir: Path) -> None:
    _add_schools(data_dir, "Sunshine Primary")
    rows = "".join(f"{i % 6 + 1}A,Kid {i},N{i}\n" for i in range(600))
    (data_dir / "big.csv").write_text("class,name,number\n" + rows, encoding="utf-8")
    result = CliRunner().invoke(roster_group, ["import", "big.csv"])
    assert result.exit_code == 0, result.output
    assert "Importing" in result.stderr and "Students added: 600" in result.stdout


def test_cli_needs_to_know_the_school(data_dir: Path) -> None:
    runner = CliRunner()
    roster = str(FIXTURES / "roster.csv")
    result = runner.invoke(roster_group, ["import", roster])
    assert isinstance(result.exception, ConfigError)
    assert "there is no school yet" in str(result.exception)
    _add_schools(data_dir, "North", "South")
    result = runner.invoke(roster_group, ["import", roster])
    assert isinstance(result.exception, ConfigError)
    assert "several schools (1: North, 2: South)" in str(result.exception)
    result = runner.invoke(roster_group, ["export", "--school", "9"])
    assert "there is no school with id 9" in str(result.exception)
