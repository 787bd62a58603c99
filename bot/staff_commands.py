"""``safecampus teacher`` and ``safecampus expert``: staff set-up from scripts.

The same services as the chat commands; actions are recorded in the audit ledger as done
by the system.
"""

from __future__ import annotations

import asyncio

import click
from aiogram.utils.deep_linking import create_deep_link

from bot import cli_support
from campus.models import InviteKind
from campus.services.invites import issue_invite
from campus.services.schools import SchoolError, find_class
from campus.services.staff import (
    StaffError,
    assign_teacher,
    issue_expert_invite,
    list_experts,
    list_teachers,
    parse_expert_choice,
)
from campus.settings import load_settings


def _classes(names: list[str]) -> str:
    return ", ".join(names) if names else "no classes yet"


# --- teachers ------------------------------------------------------------------------------


@click.group("teacher")
def teacher_group() -> None:
    """Invite teachers, assign them to classes, list them."""


@teacher_group.command("invite")
@cli_support.SCHOOL_OPTION
@cli_support.BOT_USERNAME_OPTION
def teacher_invite(school_id: int | None, bot_username: str | None) -> None:
    """Print a one-time invite link for a teacher (valid 30 days)."""
    settings = load_settings()

    async def invite() -> str:
        username = await cli_support.bot_username(settings, bot_username)
        async with cli_support.school_session(settings, school_id) as (session, school):
            _invite, code = await issue_invite(session, school, InviteKind.TEACHER)
        return create_deep_link(username, "start", code)

    link = asyncio.run(invite())
    click.echo("Open this link in Telegram to join as a teacher (it works once):")
    click.echo(link)


@teacher_group.command("assign")
@click.option("--teacher-id", type=int, required=True, help="The teacher's id (`teacher list`).")
@click.option("--class", "class_name", required=True, help="The class's name, e.g. 3A.")
@click.option("--head", is_flag=True, help="Make them the class's head teacher.")
@cli_support.SCHOOL_OPTION
def teacher_assign(teacher_id: int, class_name: str, head: bool, school_id: int | None) -> None:
    """Assign a teacher to a class."""
    settings = load_settings()

    async def assign() -> str:
        async with cli_support.school_session(settings, school_id) as (session, school):
            school_class = await find_class(session, school, class_name)
            if school_class is None:
                raise SchoolError("unknown_class")
            await assign_teacher(
                session, school, teacher_id, school_class.id, actor_id=None, head_teacher=head
            )
            return school_class.name

    try:
        name = asyncio.run(assign())
    except SchoolError:
        raise click.ClickException(f"there is no class {class_name!r}") from None
    except StaffError:
        raise click.ClickException(
            f"person {teacher_id} is not a teacher of this school (see `teacher list`)"
        ) from None
    role = "head teacher" if head else "teacher"
    click.echo(f"Teacher {teacher_id} is now a {role} of {name}.")


@teacher_group.command("list")
@cli_support.SCHOOL_OPTION
def teacher_list(school_id: int | None) -> None:
    """List the teachers (id, name, classes; * marks a head teacher)."""
    settings = load_settings()

    async def teachers() -> list[tuple[int, str, list[str]]]:
        async with cli_support.school_session(settings, school_id) as (session, school):
            return [
                (
                    entry.person_id,
                    entry.name,
                    [c.name + ("*" if c.head_teacher else "") for c in entry.classes],
                )
                for entry in await list_teachers(session, school)
            ]

    rows = asyncio.run(teachers())
    if not rows:
        click.echo("no teachers yet; invite one with `safecampus teacher invite`")
    for person_id, name, classes in rows:
        click.echo(f"{person_id}\t{name}\t{_classes(classes)}")


# --- experts -------------------------------------------------------------------------------


@click.group("expert")
def expert_group() -> None:
    """Invite experts and list them."""


@expert_group.command("invite")
@click.option("--categories", required=True, help="What they answer: law, psych, family, safety.")
@click.option("--languages", required=True, help="In which languages: en, zh.")
@cli_support.SCHOOL_OPTION
@cli_support.BOT_USERNAME_OPTION
def expert_invite(
    categories: str, languages: str, school_id: int | None, bot_username: str | None
) -> None:
    """Print a one-time invite link for an expert (valid 30 days)."""
    try:
        choice = parse_expert_choice(categories, languages)
    except StaffError as problem:
        values = problem.details.get("values")
        shown = ", ".join(map(str, values)) if isinstance(values, list) else "none given"
        what = "categories" if "categories" in problem.code else "languages"
        raise click.BadParameter(f"unknown or missing {what}: {shown}") from None
    settings = load_settings()

    async def invite() -> str:
        username = await cli_support.bot_username(settings, bot_username)
        async with cli_support.school_session(settings, school_id) as (session, school):
            _invite, code = await issue_expert_invite(session, school, choice, actor_id=None)
        return create_deep_link(username, "start", code)

    link = asyncio.run(invite())
    click.echo("Open this link in Telegram to join as an expert (it works once):")
    click.echo(link)


@expert_group.command("list")
@cli_support.SCHOOL_OPTION
def expert_list(school_id: int | None) -> None:
    """List the experts by pseudonym (label, categories, languages, on duty)."""
    settings = load_settings()

    async def experts() -> list[str]:
        async with cli_support.school_session(settings, school_id) as (session, school):
            return [
                "\t".join(
                    [
                        entry.label,
                        ",".join(entry.categories),
                        ",".join(entry.languages),
                        "on duty" if entry.on_duty else "off duty",
                    ]
                )
                for entry in await list_experts(session, school)
            ]

    lines = asyncio.run(experts())
    if not lines:
        click.echo("no experts yet; invite one with `safecampus expert invite`")
    for line in lines:
        click.echo(line)
