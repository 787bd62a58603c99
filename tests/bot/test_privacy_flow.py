"""End to end: /forget_me, guessing invite codes, several children and guardians."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from bot.demo import first_link, start_code
from campus.models import AuditEvent, FaqQuestion, Guardianship, Invite, Person
from campus.services.audit import verify_chain
from emulator import SimUser
from tests.bot.conftest import LiveBot


async def _invite_for(live: LiveBot, admin: SimUser, class_name: str, child: str) -> str:
    reply = await live.send(admin, f"/addstudent {class_name} {child}")
    return start_code(first_link(reply["text"]))


async def _join(live: LiveBot, parent: SimUser, code: str) -> str:
    offer = await live.send(parent, f"/start {code}")
    return str((await live.press(parent, offer, "Yes, this is my child"))["text"])


async def test_forget_me_removes_personal_data_after_confirmation(live: LiveBot) -> None:
    admin = await live.admin()
    await live.send(admin, "/newclass 3A")
    parent = live.emu.create_user("Li", last_name="Na", language_code="en")
    await _join(live, parent, await _invite_for(live, admin, "3A", "Wang Fang"))
    await live.send(parent, "how many hours should a 9 year old sleep")

    offer = await live.send(parent, "/forget_me")
    cancelled = await live.press(parent, offer, "Cancel")
    assert cancelled["text"] == "Nothing was deleted."
    offer = await live.send(parent, "/forget_me")
    done = await live.press(parent, offer, "Yes, delete my data")
    assert "1 child link(s) and 1 question(s)" in done["text"]

    async with live.sessionmaker() as session:
        assert await session.scalar(select(func.count(Guardianship.id))) == 0
        assert await session.scalar(select(func.count(FaqQuestion.id))) == 0
        forgotten = await session.scalar(select(Person).where(Person.forgotten_at.is_not(None)))
        assert forgotten is not None
        assert (forgotten.full_name, forgotten.telegram_user_id) == ("", None)
        names = [e.payload for e in await session.scalars(select(AuditEvent))]
        assert "Li Na" not in str(names)
        assert (await verify_chain(session)).intact
    assert "open the invite link" in (await live.send(parent, "/help"))["text"]


async def test_guessing_codes_is_slowed_down(live: LiveBot) -> None:
    admin = await live.admin()
    await live.send(admin, "/newclass 3A")
    real_code = await _invite_for(live, admin, "3A", "Wang Fang")
    guesser = live.emu.create_user("Guess", language_code="en")
    for n in range(5):
        assert "not valid" in (await live.send(guesser, f"/start guess{n:04d}"))["text"]
    blocked = await live.send(guesser, f"/start {real_code}")
    assert "Too many invite links did not work" in blocked["text"]
    honest = live.emu.create_user("Honest", language_code="en")
    assert "Is this your child?" in (await live.send(honest, f"/start {real_code}"))["text"]


async def test_expired_and_revoked_codes_are_refused(live: LiveBot) -> None:
    admin = await live.admin()
    await live.send(admin, "/newclass 3A")
    expired = await _invite_for(live, admin, "3A", "Wang Fang")
    revoked = await _invite_for(live, admin, "3A", "Li Lei")
    async with live.sessionmaker() as session, session.begin():
        invites = list(await session.scalars(select(Invite).order_by(Invite.id.desc()).limit(2)))
        await session.execute(
            update(Invite)
            .where(Invite.id == invites[1].id)
            .values(expires_at=invites[1].created_at - timedelta(seconds=1))
        )
        await session.execute(
            update(Invite)
            .where(Invite.id == invites[0].id)
            .values(revoked_at=invites[0].created_at)
        )
    parent = live.emu.create_user("Li", language_code="en")
    assert "has expired" in (await live.send(parent, f"/start {expired}"))["text"]
    assert "withdrawn by the school" in (await live.send(parent, f"/start {revoked}"))["text"]


async def test_second_guardian_and_parent_with_two_children(live: LiveBot) -> None:
    admin = await live.admin()
    await live.send(admin, "/newclass 3A")
    await live.send(admin, "/newclass 5C")
    mother = live.emu.create_user("Mother", language_code="en")
    father = live.emu.create_user("Father", language_code="en")
    assert "Wang Fang (3A)" in await _join(
        live, mother, await _invite_for(live, admin, "3A", "Wang Fang")
    )
    assert "Wang Lei (5C)" in await _join(
        live, mother, await _invite_for(live, admin, "5C", "Wang Lei")
    )
    assert "Wang Fang (3A)" in await _join(
        live, father, await _invite_for(live, admin, "3A", "Wang Fang")
    )
    async with live.sessionmaker() as session:
        links = await session.execute(
            select(Person.full_name, func.count(Guardianship.id))
            .join(Guardianship, Guardianship.guardian_id == Person.id)
            .group_by(Person.full_name)
        )
        assert dict(links.all()) == {"Mother": 2, "Father": 1}
