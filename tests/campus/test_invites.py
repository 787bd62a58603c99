from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campus.models import Invite, InviteKind, Person, Role
from campus.services.invites import InviteError, hash_code, issue_invite, redeem_invite
from campus.services.people import roles_of
from campus.services.schools import add_student, children_of, create_class, create_school


async def _school_with_student(session: AsyncSession) -> tuple[int, int]:
    school = await create_school(session, "Sunshine Primary", "Asia/Shanghai")
    school_class = await create_class(session, school.id, "3A")
    student = await add_student(session, school_class, "Wang Fang")
    return school.id, student.id


async def test_guardian_invite_links_the_child_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        school_id, student_id = await _school_with_student(session)
        _invite, code = await issue_invite(
            session, school_id, InviteKind.GUARDIAN, student_id=student_id
        )
        parent = Person(telegram_user_id=1001, full_name="Li Na", roles=[])
        session.add(parent)
        await session.flush()
        view = await redeem_invite(session, code, parent)
        assert view.student is not None and view.student.full_name == "Wang Fang"
        assert Role.GUARDIAN in roles_of(parent)
        assert [c.full_name for c in await children_of(session, parent)] == ["Wang Fang"]
        with pytest.raises(InviteError) as caught:
            await redeem_invite(session, code, parent)
        assert caught.value.code == "used"


async def test_only_the_hash_is_stored(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        school = await create_school(session, "S", "Asia/Shanghai")
        _invite, code = await issue_invite(session, school.id, InviteKind.ADMIN_CLAIM)
        stored = list(await session.scalars(select(Invite.code_hash)))
    assert stored == [hash_code(code)]
    assert code not in stored
    assert len(code) >= 22  # 18 random bytes, 144 bits


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [("expire", "expired"), ("revoke", "revoked"), ("guess", "unknown")],
)
async def test_unusable_invites_are_refused(
    sessionmaker: async_sessionmaker[AsyncSession], spoil: str, reason: str
) -> None:
    async with sessionmaker() as session, session.begin():
        school = await create_school(session, "S", "Asia/Shanghai")
        ttl = timedelta(seconds=-1) if spoil == "expire" else timedelta(days=1)
        invite, code = await issue_invite(session, school.id, InviteKind.TEACHER, ttl=ttl)
        if spoil == "revoke":
            invite.revoked_at = invite.created_at
        if spoil == "guess":
            code = code[:-2] + ("AA" if not code.endswith("AA") else "BB")
        person = Person(telegram_user_id=7, full_name="T", roles=[])
        session.add(person)
        await session.flush()
        with pytest.raises(InviteError) as caught:
            await redeem_invite(session, code, person)
        assert caught.value.code == reason
        assert roles_of(person) == frozenset()
