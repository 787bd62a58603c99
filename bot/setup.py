"""Scripted school setup, shared by the CLI and the demo."""

from __future__ import annotations

from aiogram.utils.deep_linking import create_deep_link

from bot.app import build_bot
from campus.db import create_sessionmaker, open_database
from campus.models import InviteKind
from campus.services.invites import issue_invite
from campus.services.schools import create_school
from campus.settings import Settings


async def create_school_with_claim_link(
    settings: Settings, name: str, bot_username: str | None
) -> str:
    """Create a school and return the deep link that makes its first administrator."""
    if bot_username is None:
        token = settings.require_token().get_secret_value()
        bot = build_bot(token, settings.telegram_api_url)
        try:
            bot_username = (await bot.get_me()).username or ""
        finally:
            await bot.session.close()
    async with (
        open_database(settings.effective_database_url) as engine,
        create_sessionmaker(engine)() as session,
        session.begin(),
    ):
        school = await create_school(session, name, settings.timezone)
        _invite, code = await issue_invite(session, school.id, InviteKind.ADMIN_CLAIM)
    return create_deep_link(bot_username.lstrip("@"), "start", code)
