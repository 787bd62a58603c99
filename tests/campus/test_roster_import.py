"""Importing a roster into a school: all or nothing, in place, and back out as CSV."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campus.models import AuditEvent, GuardianRelation, GuardianSlot, SchoolClass, Student
from campus.roster import RosterRow, parse_roster
from campus.services.audit import verify_chain
from campus.services.roster import (
    ImportReport,
    RosterError,
    export_roster,
    import_roster,
    resolve_school,
)
from campus.services.schools import add_student, create_class, create_school

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "roster"
Maker = async_sessionmaker[AsyncSession]


def _rows(data: bytes | str) -> tuple[RosterRow, ...]:
    parsed = parse_roster(data.encode() if isinstance(data, str) else data)
    assert parsed.ok, parsed.problems
    return parsed.rows


def _fixture_rows(name: str = "roster.csv") -> tuple[RosterRow, ...]:
    return _rows((FIXTURES / name).read_bytes())


async def _new_school(sessionmaker: Maker, name: str = "Sunshine Primary") -> int:
    async with sessionmaker() as session, session.begin():
        return (await create_school(session, name, "Asia/Shanghai")).id


async def _import(sessionmaker: Maker, school_id: int, rows: tuple[RosterRow, ...]) -> ImportReport:
    async with sessionmaker() as session, session.begin():
        return await import_roster(session, school_id, rows, actor_id=None)


async def _snapshot(sessionmaker: Maker) -> list[tuple[object, ...]]:
    async with sessionmaker() as session:
        students = await session.execute(
            select(Student.id, Student.student_number, Student.full_name, SchoolClass.name)
            .join(SchoolClass, SchoolClass.id == Student.class_id)
            .order_by(Student.student_number)
        )
        slots = await session.execute(
            select(GuardianSlot.id, GuardianSlot.student_id, GuardianSlot.slot)
            .add_columns(GuardianSlot.guardian_name, GuardianSlot.relation)
            .order_by(GuardianSlot.student_id, GuardianSlot.slot)
        )
        return [tuple(row) for row in students] + [tuple(row) for row in slots]


async def test_good_file_creates_classes_students_and_guardian_slots(sessionmaker: Maker) -> None:
    school_id = await _new_school(sessionmaker)
    report = await _import(sessionmaker, school_id, _fixture_rows())
    assert report == ImportReport(
        rows=5,
        classes_created=2,
        students_created=5,
        students_updated=0,
        students_unchanged=0,
        students_not_in_file=0,
    )
    async with sessionmaker() as session:
        classes = (await session.execute(select(SchoolClass.name, SchoolClass.grade))).all()
        assert sorted(tuple(c) for c in classes) == [("3A", 3), ("4B", 4)]
        bobby = await session.scalar(select(Student).where(Student.student_number == "S003"))
        assert bobby is not None and bobby.full_name == "<b>Bobby</b> & co 😀"
        slots = (
            await session.execute(
                select(Student.student_number, GuardianSlot.slot)
                .add_columns(GuardianSlot.guardian_name, GuardianSlot.relation)
                .join(Student, Student.id == GuardianSlot.student_id)
                .order_by(Student.student_number, GuardianSlot.slot)
            )
        ).all()
        assert [tuple(s) for s in slots] == [
            ("S001", 1, "Wang Li", GuardianRelation.MOTHER),
            ("S001", 2, "Wang Jun", GuardianRelation.FATHER),
            ("S002", 1, "Li Mei", GuardianRelation.MOTHER),
            ("S004", 1, "Zhao Hua", GuardianRelation.GRANDMOTHER),
        ]
        [event] = await session.scalars(
            select(AuditEvent).where(AuditEvent.kind == "roster.imported")
        )
        assert event.payload == {
            "school": school_id,
            "rows": 5,
            "classes_created": 2,
            "students_created": 5,
            "students_updated": 0,
            "students_unchanged": 0,
            "students_not_in_file": 0,
        }
        assert (await verify_chain(session)).intact


async def test_reimporting_the_same_file_changes_nothing(sessionmaker: Maker) -> None:
    school_id = await _new_school(sessionmaker)
    await _import(sessionmaker, school_id, _fixture_rows())
    before = await _snapshot(sessionmaker)
    report = await _import(sessionmaker, school_id, _fixture_rows())
    assert (report.students_created, report.students_updated, report.classes_created) == (0, 0, 0)
    assert report.students_unchanged == 5 and not report.changed_anything
    assert await _snapshot(sessionmaker) == before


async def test_changed_file_updates_in_place_without_duplicates(sessionmaker: Maker) -> None:
    school_id = await _new_school(sessionmaker)
    await _import(sessionmaker, school_id, _fixture_rows())
    async with sessionmaker() as session:
        ids = dict((await session.execute(select(Student.student_number, Student.id))).all())
    changed = (
        "class,student_name,student_number,guardian1_name,guardian1_relation,guardian2_name\n"
        "3A,Wang Fang,S001,Wang Li,guardian,\n"  # relation changed, guardian 2 removed
        "3A,Li Lei,S002,Li Mei,mum,\n"  # unchanged
        "4B,Bobby,S003,,,\n"  # renamed and moved to 4B
        "5C,Zhao Min,S004,Zhao Hua,grandmother,\n"  # moved to a new class
        "3A,New Kid,S006,,,\n"  # new; S005 is left out of the file
    )
    report = await _import(sessionmaker, school_id, _rows(changed))
    assert report == ImportReport(
        rows=5,
        classes_created=1,
        students_created=1,
        students_updated=3,
        students_unchanged=1,
        students_not_in_file=1,
    )
    async with sessionmaker() as session:
        students = (
            await session.execute(
                select(Student.student_number, Student.id, Student.full_name, SchoolClass.name)
                .join(SchoolClass, SchoolClass.id == Student.class_id)
                .order_by(Student.student_number)
            )
        ).all()
        slots = (
            await session.execute(
                select(GuardianSlot.student_id, GuardianSlot.slot, GuardianSlot.relation)
            )
        ).all()
    assert [(s[0], s[2], s[3]) for s in students] == [
        ("S001", "Wang Fang", "3A"),
        ("S002", "Li Lei", "3A"),
        ("S003", "Bobby", "4B"),
        ("S004", "Zhao Min", "5C"),
        ("S005", "Chen Jie", "4B"),
        ("S006", "New Kid", "3A"),
    ]
    assert all(ids[number] == student_id for number, student_id, *_ in students if number in ids)
    assert sorted(tuple(s) for s in slots) == sorted(
        [
            (ids["S001"], 1, GuardianRelation.GUARDIAN),
            (ids["S002"], 1, GuardianRelation.MOTHER),
            (ids["S004"], 1, GuardianRelation.GRANDMOTHER),
        ]
    )


async def test_file_without_guardian_columns_keeps_the_guardian_slots(
    sessionmaker: Maker,
) -> None:
    school_id = await _new_school(sessionmaker)
    await _import(sessionmaker, school_id, _fixture_rows())
    before = await _snapshot(sessionmaker)
    minimal = "class,student_name,student_number\n" + "".join(
        f"{row.class_name},{row.student_name},{row.student_number}\n" for row in _fixture_rows()[:4]
    )
    report = await _import(sessionmaker, school_id, _rows(minimal))
    assert (report.students_updated, report.students_unchanged) == (0, 4)
    assert report.students_not_in_file == 1
    assert await _snapshot(sessionmaker) == before


async def test_existing_classes_are_reused_ignoring_case(sessionmaker: Maker) -> None:
    school_id = await _new_school(sessionmaker)
    async with sessionmaker() as session, session.begin():
        await create_class(session, school_id, "3A")
    report = await _import(sessionmaker, school_id, _rows("class,name,number\n3a,Li Lei,1\n"))
    assert report.classes_created == 0
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count(SchoolClass.id))) == 1


async def test_numbers_are_matched_within_the_school_only(sessionmaker: Maker) -> None:
    other_school = await _new_school(sessionmaker, "Other School")
    async with sessionmaker() as session, session.begin():
        other_class = await create_class(session, other_school, "3A")
        await add_student(session, other_class, "Somebody Else", "S001")
    school_id = await _new_school(sessionmaker)
    report = await _import(sessionmaker, school_id, _fixture_rows())
    assert report.students_created == 5
    async with sessionmaker() as session:
        names = set(
            await session.scalars(select(Student.full_name).where(Student.student_number == "S001"))
        )
    assert names == {"Somebody Else", "Wang Fang"}


async def test_a_bad_file_imports_nothing(sessionmaker: Maker) -> None:
    parsed = parse_roster((FIXTURES / "bad_rows.csv").read_bytes())
    assert not parsed.ok and parsed.rows == ()
    school_id = await _new_school(sessionmaker)
    rows = _fixture_rows()
    duplicated = (*rows, RosterRow(7, "3A", "Impostor", "S001"))
    with pytest.raises(RosterError) as caught:
        await _import(sessionmaker, school_id, duplicated)
    assert caught.value.code == "duplicate_number"
    assert caught.value.details == {"number": "S001", "rows": (2, 7)}
    with pytest.raises(RosterError) as caught:
        await _import(sessionmaker, school_id + 100, rows)
    assert caught.value.code == "unknown_school"
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count(Student.id))) == 0
        assert await session.scalar(select(func.count(SchoolClass.id))) == 0


async def test_a_failure_midway_rolls_everything_back(sessionmaker: Maker) -> None:
    school_id = await _new_school(sessionmaker)

    def fail_halfway(done: int, _total: int) -> None:
        if done >= 250:
            raise RuntimeError("disk full")

    rows = _rows("class,name,number\n" + "".join(f"3A,Kid {i},N{i}\n" for i in range(600)))
    with pytest.raises(RuntimeError):
        async with sessionmaker() as session, session.begin():
            await import_roster(session, school_id, rows, actor_id=None, on_progress=fail_halfway)
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count(Student.id))) == 0


async def test_progress_is_reported_while_importing(sessionmaker: Maker) -> None:
    school_id = await _new_school(sessionmaker)
    rows = _rows(
        "class,name,number\n" + "".join(f"{i % 7 + 1}A,Kid {i},N{i}\n" for i in range(1200))
    )
    seen: list[tuple[int, int]] = []
    async with sessionmaker() as session, session.begin():
        report = await import_roster(
            session, school_id, rows, actor_id=None, on_progress=lambda *p: seen.append(p)
        )
    assert seen == [(250, 1200), (500, 1200), (750, 1200), (1000, 1200), (1200, 1200)]
    assert (report.students_created, report.classes_created) == (1200, 7)


async def test_export_reimports_as_a_no_op(sessionmaker: Maker) -> None:
    school_id = await _new_school(sessionmaker)
    await _import(sessionmaker, school_id, _fixture_rows())
    await _import(sessionmaker, school_id, _fixture_rows("roster_zh.csv"))
    async with sessionmaker() as session, session.begin():
        exported = await export_roster(session, school_id)
    assert exported.startswith(b"\xef\xbb\xbf")
    lines = exported.decode("utf-8-sig").splitlines()
    assert lines[0] == (
        "class,student_name,student_number,guardian1_name,guardian1_relation,"
        "guardian2_name,guardian2_relation"
    )
    assert "3A,Wang Fang,S001,Wang Li,mother,Wang Jun,father" in lines
    assert len(lines) == 9
    before = await _snapshot(sessionmaker)
    report = await _import(sessionmaker, school_id, _rows(exported))
    assert (report.rows, report.students_unchanged, report.changed_anything) == (8, 8, False)
    assert await _snapshot(sessionmaker) == before


async def test_export_of_students_added_by_hand(sessionmaker: Maker) -> None:
    school_id = await _new_school(sessionmaker)
    async with sessionmaker() as session, session.begin():
        school_class = await create_class(session, school_id, "1A")
        await add_student(session, school_class, "=cmd|' /C calc'!A0")
    async with sessionmaker() as session, session.begin():
        exported = await export_roster(session, school_id, actor_id=7)
        event = await session.scalar(select(AuditEvent).where(AuditEvent.kind == "roster.exported"))
    assert event is not None and event.payload == {"school": school_id, "rows": 1}
    assert event.actor == "person:7"
    assert "'=cmd" in exported.decode("utf-8-sig")
    [row] = _rows(exported)
    assert row.student_name == "=cmd|' /C calc'!A0"
    report = await _import(sessionmaker, school_id, (row,))
    assert report.students_unchanged == 1


async def test_which_school(sessionmaker: Maker) -> None:
    async with sessionmaker() as session:
        with pytest.raises(RosterError) as caught:
            await resolve_school(session, None)
        assert caught.value.code == "no_school"
    first = await _new_school(sessionmaker, "First")
    async with sessionmaker() as session:
        assert (await resolve_school(session, None)).id == first
    second = await _new_school(sessionmaker, "Second")
    async with sessionmaker() as session:
        with pytest.raises(RosterError) as caught:
            await resolve_school(session, None)
        assert caught.value.details == {"schools": [(first, "First"), (second, "Second")]}
        assert (await resolve_school(session, second)).name == "Second"
        with pytest.raises(RosterError) as caught:
            await resolve_school(session, second + 1)
        assert caught.value.code == "unknown_school"
