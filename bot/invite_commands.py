"""``safecampus invites``: print guardian invite slips and revoke unused guardian invites."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncSession

from bot import cli_support
from campus.invite_sheet import render_csv, render_pdf
from campus.models import SchoolClass, Student
from campus.services.guardian_invites import (
    GuardianInviteError,
    GuardianSheet,
    issue_guardian_sheet,
    revoke_class_guardian_invites,
    revoke_guardian_invites,
)
from campus.services.schools import find_class, find_student
from campus.settings import Settings, load_settings

FORMATS = ("pdf", "csv")
SCHOOL_HELP = "The school's id (default: the only one)."


@dataclass(frozen=True)
class _Target:
    """What a command is about: a class, a student, or a student within a class."""

    school_id: int
    school_class: SchoolClass | None
    student: Student | None

    @property
    def label(self) -> str:
        if self.student is not None:
            return f"student {self.student.student_number}"
        assert self.school_class is not None
        return f"class {self.school_class.name}"


def _invite_problem(problem: GuardianInviteError, class_name: str | None, number: str) -> str:
    texts = {
        "student_removed": f"student {number} was removed from the school; removed students "
        "get no invites",
        "student_not_in_class": f"student {number} is not in class {class_name}",
        "unknown_class": f"there is no class {class_name}",
    }
    return texts.get(problem.code, f"there is no student with number {number}")


@asynccontextmanager
async def _target(
    settings: Settings, school_id: int | None, class_name: str | None, number: str | None
) -> AsyncIterator[tuple[AsyncSession, _Target]]:
    """A transaction on the migrated database and the class or student a command names;
    ClickException (exit code 1) when the school has no such class or student."""
    async with cli_support.school_session(settings, school_id) as (session, school):
        school_class = None
        if class_name is not None:
            school_class = await find_class(session, school, class_name)
            if school_class is None:
                raise click.ClickException(f"there is no class {class_name}")
        student = None
        if number is not None:
            student = await find_student(session, school, number)
            if student is None:
                raise click.ClickException(f"there is no student with number {number}")
        yield session, _Target(school, school_class, student)


async def _print_sheet(
    settings: Settings,
    school_id: int | None,
    class_name: str | None,
    number: str | None,
    render: tuple[str, str, Path],
) -> tuple[GuardianSheet, str]:
    """Issue the invites and write the file in one transaction: a file that cannot be
    written leaves the earlier slips working."""
    file_format, bot_username, output = render
    async with _target(settings, school_id, class_name, number) as (session, target):
        try:
            sheet = await issue_guardian_sheet(
                session,
                target.school_id,
                class_id=target.school_class.id if target.school_class else None,
                student_id=target.student.id if target.student else None,
            )
        except GuardianInviteError as problem:
            raise click.ClickException(_invite_problem(problem, class_name, number or "")) from None
        if sheet.slips:
            renderer = render_pdf if file_format == "pdf" else render_csv
            try:
                output.write_bytes(renderer(sheet, bot_username))
            except OSError as problem:
                raise click.ClickException(f"cannot write {output}: {problem.strerror}") from None
        return sheet, target.label


async def _revoke(
    settings: Settings, school_id: int | None, class_name: str | None, number: str | None
) -> tuple[int, str]:
    async with _target(settings, school_id, class_name, number) as (session, target):
        if target.student is not None:
            count = await revoke_guardian_invites(session, target.school_id, target.student.id)
        else:
            assert target.school_class is not None
            count = await revoke_class_guardian_invites(
                session, target.school_id, target.school_class.id
            )
        return count, target.label


@click.group("invites")
def invites_group() -> None:
    """Print guardian invite slips (PDF or CSV) and revoke unused guardian invites."""


@invites_group.command("sheet")
@click.option("--class", "class_name", help="The class, e.g. 3A.")
@click.option("--student", "number", help="One student, by student number.")
@click.option("--school", "school_id", type=int, help=SCHOOL_HELP)
@click.option("--bot-username", help="The bot's @username (default: asked from Telegram).")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(FORMATS),
    help="pdf (slips to cut out) or csv (default: from the file name).",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="The file to write.",
)
def sheet_command(
    class_name: str | None,
    number: str | None,
    school_id: int | None,
    bot_username: str | None,
    file_format: str | None,
    output: Path,
) -> None:
    """Issue a fresh invite for every guardian of a class (or one student) who has not
    joined yet, and write the slips. Earlier unused slips of the same guardians stop working.
    """
    if class_name is None and number is None:
        raise click.UsageError("name a class with --class or a student with --student")
    file_format = file_format or output.suffix.lower().lstrip(".")
    if file_format not in FORMATS:
        raise click.UsageError("choose --format pdf or --format csv")
    settings = load_settings()
    username = (bot_username or asyncio.run(cli_support.bot_username(settings))).lstrip("@")
    sheet, label = asyncio.run(
        _print_sheet(settings, school_id, class_name, number, (file_format, username, output))
    )
    if not sheet.slips:
        click.echo(
            f"No invites to print for {label}: every guardian has joined, or there are no "
            "students. Nothing was written.",
            err=True,
        )
        return
    click.echo(
        f"Invite slips for {label} written to {output}: {len(sheet.slips)} "
        f"(students: {sheet.students})."
    )
    click.echo(
        "Only these slips work: earlier unused slips for the same guardians no longer do "
        f"(revoked: {sheet.replaced})."
    )


@invites_group.command("revoke")
@click.option("--class", "class_name", help="Every student of this class, e.g. 3A.")
@click.option("--student", "number", help="One student, by student number.")
@click.option("--school", "school_id", type=int, help=SCHOOL_HELP)
def revoke_command(class_name: str | None, number: str | None, school_id: int | None) -> None:
    """Revoke the unused guardian invites of a student or a class: their printed slips stop
    working. Guardians who already joined stay linked."""
    if (class_name is None) == (number is None):
        raise click.UsageError("name a class with --class or a student with --student")
    settings = load_settings()
    count, label = asyncio.run(_revoke(settings, school_id, class_name, number))
    click.echo(f"Unused guardian invites of {label} revoked: {count}. Their slips no longer work.")
