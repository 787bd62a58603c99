"""What the ``safecampus`` subcommands share: finding the school a command is about, a
transaction on the migrated database, and the bot's @username for invite links."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import click
from sqlalchemy.ext.asyncio import AsyncSession

from campus.db import create_sessionmaker, open_database
from campus.services.roster import RosterError, resolve_school
from campus.settings import ConfigError, Settings

SCHOOL_OPTION = click.option(
    "--school", "school_id", type=int, help="The school's id (default: the only one)."
)
BOT_USERNAME_OPTION = click.option(
    "--bot-username", help="The bot's @username (default: asked from Telegram)."
)


def school_problem(problem: RosterError) -> ConfigError:
    """Why the school could not be found, as one line for the terminal."""
    if problem.code == "unknown_school":
        return ConfigError(f"there is no school with id {problem.details['school']}")
    if problem.code == "several_schools":
        schools = problem.details["schools"]
        assert isinstance(schools, list)
        listed = ", ".join(f"{school_id}: {name}" for school_id, name in schools)
        return ConfigError(f"there are several schools ({listed}); choose one with --school ID")
    return ConfigError("there is no school yet; create one with `safecampus school init`")


@asynccontextmanager
async def school_session(
    settings: Settings, school_id: int | None
) -> AsyncIterator[tuple[AsyncSession, int]]:
    """A transaction on the migrated database and the id of the school the command is
    about."""
    async with (
        open_database(settings.effective_database_url) as engine,
        create_sessionmaker(engine)() as session,
        session.begin(),
    ):
        try:
            school = await resolve_school(session, school_id)
        except RosterError as problem:
            raise school_problem(problem) from None
        yield session, school.id


async def bot_username(settings: Settings, given: str | None = None) -> str:
    """``given`` without its @, or the bot's @username asked from Telegram."""
    if given is not None:
        return given.lstrip("@")
    from bot.app import build_bot

    bot = build_bot(settings.require_token().get_secret_value(), settings.telegram_api_url)
    try:
        return (await bot.get_me()).username or ""
    finally:
        await bot.session.close()
