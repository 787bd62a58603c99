"""People who talk to the bot, their language and their roles."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.models import Person, Role, RoleGrant
from campus.settings import Language


def language_from_telegram(language_code: str | None, default: Language) -> Language:
    """English or Simplified Chinese, guessed from the Telegram app's language."""
    if not language_code:
        return default
    code = language_code.lower()
    if code.startswith("zh"):
        return Language.ZH
    if code.startswith("en"):
        return Language.EN
    return default


@dataclass(frozen=True)
class TelegramIdentity:
    """What Telegram tells us about a user, independent of any Telegram library."""

    user_id: int
    full_name: str
    language_code: str | None = None


async def find_person(session: AsyncSession, telegram_user_id: int) -> Person | None:
    """The person with this Telegram id, if they have talked to the bot before."""
    return await session.scalar(select(Person).where(Person.telegram_user_id == telegram_user_id))


async def get_or_create_person(
    session: AsyncSession, identity: TelegramIdentity, default_language: Language
) -> Person:
    """Load the person behind a Telegram user, creating them on first contact."""
    person = await find_person(session, identity.user_id)
    if person is None:
        person = Person(
            telegram_user_id=identity.user_id,
            full_name=identity.full_name[:200],
            language=language_from_telegram(identity.language_code, default_language).value,
            roles=[],
        )
        session.add(person)
        await session.flush()
    return person


async def set_language(session: AsyncSession, person: Person, language: Language) -> None:
    """Remember the language a person chose with /lang."""
    person.language = language.value
    await session.flush()


def roles_of(person: Person) -> frozenset[Role]:
    """Every role a person holds, in any school."""
    return frozenset(grant.role for grant in person.roles)


def schools_where(person: Person, role: Role) -> list[int]:
    """Ids of the schools where the person holds ``role``."""
    return sorted({grant.school_id for grant in person.roles if grant.role == role})


async def grant_role(session: AsyncSession, person: Person, school_id: int, role: Role) -> bool:
    """Give a person a role in a school; False when they already had it."""
    grants = await person.awaitable_attrs.roles
    if any(g.school_id == school_id and g.role == role for g in grants):
        return False
    grants.append(RoleGrant(school_id=school_id, role=role))
    await session.flush()
    return True
