"""Roster import from the chat: an administrator sends the roster CSV to the bot.

The texts that explain problems and results are shared with ``safecampus roster``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import PurePath

from aiogram import Bot, F, Router
from aiogram.filters import StateFilter
from aiogram.types import Document, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.filters import HasRole
from campus.models import Person, Role
from campus.roster import (
    CLASS,
    MAX_BYTES,
    STUDENT_NAME,
    STUDENT_NUMBER,
    ParsedRoster,
    Problem,
    ProblemCode,
    parse_roster,
)
from campus.services.people import schools_where
from campus.services.roster import ImportReport, RosterError, import_roster

SHOWN_PROBLEMS = 12
SHOWN_TEXT = 40
TELEGRAM_TEXT_LIMIT = 4096
CSV_SUFFIXES = frozenset({".csv"})
CSV_TYPES = frozenset({"text/csv", "text/comma-separated-values", "application/csv", "text/x-csv"})
WORKBOOK_SUFFIXES = frozenset({".xlsx", ".xls", ".xlsm", ".ods", ".numbers", ".et"})
WORKBOOK_TYPES = frozenset(
    {
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.oasis.opendocument.spreadsheet",
    }
)


def _suffix(document: Document) -> str:
    return PurePath(document.file_name or "").suffix.lower()


def is_csv(document: Document) -> bool:
    """A CSV by its name, or by its type when it has no name."""
    if document.file_name:
        return _suffix(document) in CSV_SUFFIXES
    return (document.mime_type or "") in CSV_TYPES


def is_workbook(document: Document) -> bool:
    """An Excel (or similar) workbook, which must be saved as CSV first."""
    return _suffix(document) in WORKBOOK_SUFFIXES or (
        _suffix(document) not in CSV_SUFFIXES and (document.mime_type or "") in WORKBOOK_TYPES
    )


def _short(text: object) -> str:
    text = str(text)
    return text if len(text) <= SHOWN_TEXT else text[: SHOWN_TEXT - 1] + "…"


def column_label(column: str) -> str:
    """A column's name for people: what they would type as its header."""
    labels = {
        CLASS: _("class"),
        STUDENT_NAME: _("student name"),
        STUDENT_NUMBER: _("student number"),
    }
    if column in labels:
        return labels[column]
    slot = "".join(c for c in column if c.isdigit())
    if column.endswith("_relation"):
        return _("guardian {slot} relation").format(slot=slot)
    return _("guardian {slot} name").format(slot=slot)


def _file_problem(problem: Problem) -> str:
    limit = problem.details.get("limit", 0)
    texts = {
        ProblemCode.EMPTY_FILE: lambda: _("The file is empty."),
        ProblemCode.NO_ROWS: lambda: _("The file has a header row but no students."),
        ProblemCode.NOT_CSV: lambda: _(
            "This file cannot be read as a CSV table. Save the spreadsheet as “CSV UTF-8” "
            "(or “CSV”) and send that file."
        ),
        ProblemCode.SPREADSHEET_FILE: lambda: _(
            "This is an Excel workbook, not a CSV file. In Excel choose File → Save As → "
            "“CSV UTF-8”, then send that file."
        ),
        ProblemCode.TOO_LARGE: lambda: _("The file is too large: at most {limit} MB.").format(
            limit=int(limit) // (1024 * 1024)
        ),
        ProblemCode.TOO_MANY_ROWS: lambda: _(
            "The file has more than {limit} students: split it into several files."
        ).format(limit=limit),
    }
    text = texts.get(problem.code)
    return text() if text else _("The file cannot be imported.")


def describe_problem(problem: Problem) -> str:
    """One line saying what is wrong and where, in the current language."""
    if problem.row is None:
        return _file_problem(problem)
    details = problem.details
    column = str(details.get("column", ""))
    header = _short(details.get("header") or column_label(column))
    values = {
        "row": problem.row,
        "column": header,
        "label": column_label(column),
        "value": _short(details.get("value", "")),
        "first_row": details.get("first_row", ""),
        "limit": details.get("limit", ""),
        "length": details.get("length", ""),
        "found": details.get("found", ""),
        "expected": details.get("expected", ""),
        "slot": details.get("slot", ""),
        "headers": _short(details.get("header", "")),
    }
    texts = {
        ProblemCode.MISSING_COLUMN: lambda: _("row {row}: the column “{label}” is missing."),
        ProblemCode.DUPLICATE_COLUMN: lambda: _(
            "row {row}: these columns mean the same thing: {headers}. Keep one."
        ),
        ProblemCode.TOO_MANY_COLUMNS: lambda: _(
            "row {row}: {found} cells are filled but the header has only {expected} columns."
        ),
        ProblemCode.EMPTY_VALUE: lambda: _("row {row}: “{column}” is empty."),
        ProblemCode.TOO_LONG: lambda: _(
            "row {row}: “{column}” is too long ({length} characters, at most {limit})."
        ),
        ProblemCode.CONTROL_CHARACTERS: lambda: _(
            "row {row}: “{column}” contains a line break, tab or other control character."
        ),
        ProblemCode.NUMBER_MANGLED: lambda: _(
            "row {row}: student number {value} was turned into scientific notation by Excel. "
            "Format the column as text and type the numbers again."
        ),
        ProblemCode.DUPLICATE_NUMBER: lambda: _(
            "row {row}: student number {value} appears twice (rows {first_row} and {row})."
        ),
        ProblemCode.UNKNOWN_RELATION: lambda: _(
            "row {row}: unknown relation “{value}” in “{column}” (use mother, father, "
            "grandmother, grandfather, guardian or other)."
        ),
        ProblemCode.RELATION_WITHOUT_NAME: lambda: _(
            "row {row}: “{column}” is filled but guardian {slot} has no name."
        ),
    }
    text = texts.get(problem.code)
    if text is None:
        return _("row {row}: this row cannot be imported.").format(**values)
    return text().format(**values)


def problem_lines(problems: Sequence[Problem], limit: int | None = SHOWN_PROBLEMS) -> list[str]:
    """A line per problem, the first ``limit`` of them and "and N more" for the rest."""
    shown = problems if limit is None else problems[:limit]
    lines = [describe_problem(problem) for problem in shown]
    if len(problems) > len(shown):
        lines.append(_("…and {count} more.").format(count=len(problems) - len(shown)))
    return lines


def problems_text(parsed: ParsedRoster, limit: int | None = SHOWN_PROBLEMS) -> str:
    """Every problem (up to ``limit``) and the reassurance that nothing changed."""
    if any(problem.row is not None for problem in parsed.problems):
        intro = _("Problems in the roster (rows counted as in a spreadsheet, the header is row 1):")
    else:
        intro = _("The roster cannot be imported:")
    closing = _("Nothing was imported. Fix the file and try again.")
    return "\n".join([intro, *problem_lines(parsed.problems, limit), "", closing])


def report_text(report: ImportReport, ignored_columns: Sequence[str] = ()) -> str:
    """The summary of a successful import."""
    lines = [
        _("Roster imported: {rows} students in the file.").format(rows=report.rows),
        _("Classes created: {count}").format(count=report.classes_created),
        _("Students added: {count}").format(count=report.students_created),
        _("Students updated: {count}").format(count=report.students_updated),
        _("Students unchanged: {count}").format(count=report.students_unchanged),
        _("Students not in the file (kept): {count}").format(count=report.students_not_in_file),
    ]
    if ignored_columns:
        names = ", ".join(_short(name) for name in ignored_columns)
        lines.append(_("Columns ignored: {columns}").format(columns=names))
    if not report.changed_anything:
        lines.append(_("Nothing changed: the school already had this roster."))
    return "\n".join(lines)


def _fit(text: str) -> str:
    return text if len(text) <= TELEGRAM_TEXT_LIMIT else text[: TELEGRAM_TEXT_LIMIT - 1] + "…"


async def import_document(
    message: Message, bot: Bot, session: AsyncSession, person: Person
) -> None:
    document = message.document
    assert document is not None
    if is_workbook(document):
        await message.answer(_file_problem(Problem(ProblemCode.SPREADSHEET_FILE)))
        return
    if not is_csv(document):
        await message.answer(
            _(
                "To import the roster, send it as a .csv file with the columns class, "
                "student_name, student_number and, if you like, guardian1_name, "
                "guardian1_relation, guardian2_name, guardian2_relation."
            )
        )
        return
    if document.file_size is not None and document.file_size > MAX_BYTES:
        too_large = Problem(ProblemCode.TOO_LARGE, None, {"limit": MAX_BYTES})
        await message.answer(_file_problem(too_large))
        return
    downloaded = await bot.download(document, destination=io.BytesIO())
    assert isinstance(downloaded, io.BytesIO)
    parsed = parse_roster(downloaded.getvalue())
    if not parsed.ok:
        await message.answer(_fit(problems_text(parsed)))
        return
    try:
        report = await import_roster(
            session, schools_where(person, Role.ADMIN)[0], parsed.rows, actor_id=person.id
        )
    except RosterError:
        # Raised before anything is written, so the update's transaction may still commit.
        await message.answer(_("The roster could not be imported. Nothing was changed."))
        return
    await session.commit()
    await message.answer(_fit(report_text(report, parsed.ignored_columns)))


async def refuse_roster(message: Message) -> None:
    await message.answer(_("Only a school administrator can import a roster. Nothing was changed."))


def _looks_like_roster(message: Message) -> bool:
    document = message.document
    return document is not None and (is_csv(document) or is_workbook(document))


def build_router() -> Router:
    """The roster router; a new one for every Dispatcher. Put it before the fallback router."""
    router = Router(name="roster")
    router.message.filter(F.chat.type == "private", F.document)
    router.message.register(import_document, HasRole(Role.ADMIN), StateFilter(None))
    router.message.register(refuse_roster, _looks_like_roster)
    return router
