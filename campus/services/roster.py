"""Importing a checked roster into a school, and exporting it back.

The import runs in the caller's transaction and is all or nothing: it only ever receives the
rows of a clean file (see ``campus.roster.parse_roster``) and raises RosterError, leaving the
caller to roll back, on anything it cannot apply. Students are matched by student number
within the school, so a number can never pull in a student of another school; students left
out of the file are kept and counted.

Rows are applied in batches with one statement per kind of change, because a school's roster
is thousands of rows and one round trip per student made a 10,000-row import take 16 s.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from campus.models import GuardianRelation, GuardianSlot, School, SchoolClass, Student
from campus.roster import EXPORT_GUARDIANS, GuardianEntry, RosterRow, write_roster
from campus.services.audit import person_ref, record_event
from campus.services.schools import create_class, find_class

BATCH = 250

ProgressCallback = Callable[[int, int], None]
"""Called with (rows done, rows in all) after every batch of BATCH rows."""


class RosterError(Exception):
    """A roster that cannot be applied; ``code`` names the reason (unknown_school, no_school,
    several_schools, duplicate_number), ``details`` what the message needs."""

    def __init__(self, code: str, **details: object) -> None:
        super().__init__(code)
        self.code = code
        self.details = details


@dataclass(frozen=True)
class ImportReport:
    """What an import did; an import of an unchanged file creates and updates nothing."""

    rows: int
    classes_created: int
    students_created: int
    students_updated: int
    students_unchanged: int
    students_not_in_file: int

    @property
    def changed_anything(self) -> bool:
        """True when the import wrote at least one class or student."""
        return bool(self.classes_created or self.students_created or self.students_updated)


async def resolve_school(session: AsyncSession, school_id: int | None) -> School:
    """The school with this id or, without one, the only school; RosterError (unknown_school,
    no_school, several_schools with ``schools`` as (id, name) pairs) otherwise."""
    if school_id is not None:
        school = await session.get(School, school_id)
        if school is None:
            raise RosterError("unknown_school", school=school_id)
        return school
    schools = list(await session.scalars(select(School).order_by(School.id).limit(20)))
    if not schools:
        raise RosterError("no_school")
    if len(schools) > 1:
        raise RosterError("several_schools", schools=[(s.id, s.name) for s in schools])
    return schools[0]


class _Classes:
    """The school's classes by name (ignoring case and spaces), created on first use."""

    def __init__(self, session: AsyncSession, school_id: int, actor_id: int | None) -> None:
        self.session = session
        self.school_id = school_id
        self.actor_id = actor_id
        self.by_key: dict[str, SchoolClass] = {}
        self.created = 0

    async def get(self, name: str) -> SchoolClass:
        key = " ".join(name.split()).lower()
        school_class = self.by_key.get(key)
        if school_class is None:
            school_class = await find_class(self.session, self.school_id, name)
            if school_class is None:
                school_class = await create_class(
                    self.session, self.school_id, name, actor_id=self.actor_id
                )
                self.created += 1
            self.by_key[key] = school_class
        return school_class


@dataclass(frozen=True)
class _KnownStudent:
    id: int
    full_name: str
    class_id: int


@dataclass(frozen=True)
class _KnownSlot:
    id: int
    guardian_name: str
    relation: GuardianRelation | None


async def _known_students(session: AsyncSession, school_id: int) -> dict[str, _KnownStudent]:
    result = await session.execute(
        select(Student.student_number, Student.id, Student.full_name, Student.class_id).where(
            Student.school_id == school_id
        )
    )
    return {
        number: _KnownStudent(student_id, name, class_id)
        for number, student_id, name, class_id in result
    }


async def _removed_numbers(session: AsyncSession, school_id: int) -> set[str]:
    result = await session.scalars(
        select(Student.student_number).where(
            Student.school_id == school_id, Student.removed_at.is_not(None)
        )
    )
    return set(result)


async def _known_slots(
    session: AsyncSession, school_id: int
) -> defaultdict[int, dict[int, _KnownSlot]]:
    result = await session.execute(
        select(
            GuardianSlot.student_id,
            GuardianSlot.slot,
            GuardianSlot.id,
            GuardianSlot.guardian_name,
            GuardianSlot.relation,
        )
        .join(Student, Student.id == GuardianSlot.student_id)
        .where(Student.school_id == school_id)
    )
    slots: defaultdict[int, dict[int, _KnownSlot]] = defaultdict(dict)
    for student_id, slot, slot_id, name, relation in result:
        slots[student_id][slot] = _KnownSlot(slot_id, name, relation)
    return slots


@dataclass
class _Batch:
    """The writes one batch of rows needs, applied with one statement per kind."""

    new_students: list[tuple[RosterRow, int]] = field(default_factory=list)
    student_updates: list[dict[str, Any]] = field(default_factory=list)
    slot_inserts: list[dict[str, Any]] = field(default_factory=list)
    slot_updates: list[dict[str, Any]] = field(default_factory=list)
    slot_deletes: list[int] = field(default_factory=list)

    def update_student(self, known: _KnownStudent, row: RosterRow, class_id: int) -> bool:
        if (known.full_name, known.class_id) == (row.student_name, class_id):
            return False
        self.student_updates.append(
            {"id": known.id, "full_name": row.student_name, "class_id": class_id}
        )
        return True

    def sync_slots(
        self, student_id: int, current: dict[int, _KnownSlot], wanted: Sequence[GuardianEntry]
    ) -> bool:
        """Plan the writes that make a student's slots match the file's entries; slots the
        file has no columns for are left alone. True when anything changes."""
        changed = False
        for entry in wanted:
            known = current.get(entry.slot)
            if not entry.name:
                if known is not None:
                    self.slot_deletes.append(known.id)
                    changed = True
            elif known is None:
                self.slot_inserts.append(
                    {
                        "student_id": student_id,
                        "slot": entry.slot,
                        "guardian_name": entry.name,
                        "relation": entry.relation,
                    }
                )
                changed = True
            elif (known.guardian_name, known.relation) != (entry.name, entry.relation):
                self.slot_updates.append(
                    {"id": known.id, "guardian_name": entry.name, "relation": entry.relation}
                )
                changed = True
        return changed

    async def apply(self, session: AsyncSession, school_id: int) -> None:
        if self.new_students:
            result = await session.execute(
                insert(Student).returning(Student.id, Student.student_number),
                [
                    {
                        "school_id": school_id,
                        "class_id": class_id,
                        "full_name": row.student_name,
                        "student_number": row.student_number,
                    }
                    for row, class_id in self.new_students
                ],
            )
            ids = {number: student_id for student_id, number in result}
            for row, _class_id in self.new_students:
                self.sync_slots(ids[row.student_number], {}, row.guardians)
        if self.student_updates:
            await session.execute(update(Student), self.student_updates)
        if self.slot_deletes:
            await session.execute(
                delete(GuardianSlot).where(GuardianSlot.id.in_(self.slot_deletes))
            )
        if self.slot_updates:
            await session.execute(update(GuardianSlot), self.slot_updates)
        if self.slot_inserts:
            await session.execute(insert(GuardianSlot), self.slot_inserts)


def _check_numbers_unique(rows: Sequence[RosterRow]) -> None:
    seen: dict[str, int] = {}
    for row in rows:
        first = seen.setdefault(row.student_number, row.row)
        if first != row.row:
            raise RosterError("duplicate_number", number=row.student_number, rows=(first, row.row))


async def import_roster(
    session: AsyncSession,
    school_id: int,
    rows: Sequence[RosterRow],
    *,
    actor_id: int | None,
    on_progress: ProgressCallback | None = None,
) -> ImportReport:
    """Apply the clean rows of a roster file to a school, in the caller's transaction.

    Missing classes are created (the grade read from a leading number); new students are
    added, students whose name, class or named guardians differ are updated in place, the
    rest are left alone. One audit event records the counts, never names. RosterError is
    raised before anything is written. Student objects already loaded in the session are not
    refreshed.
    """
    if await session.get(School, school_id) is None:
        raise RosterError("unknown_school", school=school_id)
    _check_numbers_unique(rows)
    classes = _Classes(session, school_id, actor_id)
    students = await _known_students(session, school_id)
    slots = await _known_slots(session, school_id)
    created = updated = 0
    for start in range(0, len(rows), BATCH):
        batch = _Batch()
        for row in rows[start : start + BATCH]:
            class_id = (await classes.get(row.class_name)).id
            known = students.get(row.student_number)
            if known is None:
                batch.new_students.append((row, class_id))
                continue
            moved = batch.update_student(known, row, class_id)
            if batch.sync_slots(known.id, slots[known.id], row.guardians) or moved:
                updated += 1
        await batch.apply(session, school_id)
        created += len(batch.new_students)
        if on_progress is not None:
            on_progress(min(start + BATCH, len(rows)), len(rows))
    in_file = {row.student_number for row in rows}
    # Removed students keep their numbers but are not "kept" students.
    removed = await _removed_numbers(session, school_id)
    report = ImportReport(
        rows=len(rows),
        classes_created=classes.created,
        students_created=created,
        students_updated=updated,
        students_unchanged=len(rows) - created - updated,
        students_not_in_file=len(set(students) - in_file - removed),
    )
    await record_event(
        session, "roster.imported", person_ref(actor_id), {"school": school_id, **asdict(report)}
    )
    return report


async def roster_rows(session: AsyncSession, school_id: int) -> tuple[list[RosterRow], int]:
    """The school's students as roster rows (by class, then number) and the highest guardian
    slot in use."""
    slots = await _known_slots(session, school_id)
    result = await session.execute(
        select(Student.id, SchoolClass.name, Student.full_name, Student.student_number)
        .join(SchoolClass, SchoolClass.id == Student.class_id)
        .where(Student.school_id == school_id, Student.removed_at.is_(None))
        .order_by(SchoolClass.name, Student.student_number)
    )
    rows = []
    for student_id, class_name, full_name, number in result:
        guardians = tuple(
            GuardianEntry(slot, known.guardian_name, known.relation)
            for slot, known in sorted(slots[student_id].items())
        )
        rows.append(RosterRow(0, class_name, full_name, number, guardians))
    highest = max((slot for by_slot in slots.values() for slot in by_slot), default=0)
    return rows, highest


async def export_roster(
    session: AsyncSession, school_id: int, *, actor_id: int | None = None
) -> bytes:
    """The school's roster as a CSV (UTF-8 with BOM) that re-imports without changes.

    Exporting is recorded in the audit ledger (the count only): it hands out children's data.
    """
    if await session.get(School, school_id) is None:
        raise RosterError("unknown_school", school=school_id)
    rows, highest = await roster_rows(session, school_id)
    await record_event(
        session, "roster.exported", person_ref(actor_id), {"school": school_id, "rows": len(rows)}
    )
    return write_roster(rows, slots=max(EXPORT_GUARDIANS, highest))
