"""One-time invite codes carried in ``/start`` deep links.

A code carries 144 random bits and is stored only as its SHA-256 hash: the database alone is
not enough to join a school. Codes expire, can be revoked and work once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from campus.models import (
    Expert,
    Guardianship,
    Invite,
    InviteAttempt,
    InviteKind,
    Person,
    Role,
    School,
    SchoolClass,
    Student,
    as_utc,
    utcnow,
)
from campus.services.audit import person_ref, record_event
from campus.services.people import grant_role

DEFAULT_TTL = timedelta(days=30)
#: Failed codes a Telegram user may try per window before being told to wait.
MAX_FAILED_ATTEMPTS = 5
ATTEMPT_WINDOW = timedelta(hours=1)
ROLE_FOR_KIND = {
    InviteKind.ADMIN_CLAIM: Role.ADMIN,
    InviteKind.TEACHER: Role.TEACHER,
    InviteKind.GUARDIAN: Role.GUARDIAN,
    InviteKind.EXPERT: Role.EXPERT,
}


class InviteError(Exception):
    """An invite that cannot be used; ``code`` is one of unknown, expired, used, revoked,
    too_many_attempts."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def hash_code(code: str) -> str:
    """The stored form of an invite code."""
    return hashlib.sha256(code.encode("ascii", "replace")).hexdigest()


@dataclass(frozen=True)
class InviteView:
    """What a person is about to accept, shown to them before they confirm."""

    invite: Invite
    school: School
    student: Student | None
    school_class: SchoolClass | None


async def issue_invite(
    session: AsyncSession,
    school_id: int,
    kind: InviteKind,
    *,
    student_id: int | None = None,
    guardian_slot: int | None = None,
    ttl: timedelta = DEFAULT_TTL,
    actor_id: int | None = None,
) -> tuple[Invite, str]:
    """Create an invite and return it with its code; the code is never stored."""
    if (kind == InviteKind.GUARDIAN) != (student_id is not None):
        raise ValueError("a guardian invite names exactly one student")
    code = secrets.token_urlsafe(18)
    invite = Invite(
        school_id=school_id,
        kind=kind,
        code_hash=hash_code(code),
        student_id=student_id,
        guardian_slot=guardian_slot,
        expires_at=utcnow() + ttl,
    )
    session.add(invite)
    await session.flush()
    await record_event(
        session,
        "invite.issued",
        person_ref(actor_id),
        {"invite": invite.id, "kind": kind.value, "school": school_id, "student": student_id},
    )
    return invite, code


async def inspect_invite(session: AsyncSession, code: str) -> InviteView:
    """The usable invite behind a code, or InviteError saying why it cannot be used."""
    invite = await session.scalar(select(Invite).where(Invite.code_hash == hash_code(code)))
    if invite is None:
        raise InviteError("unknown")
    if invite.revoked_at is not None:
        raise InviteError("revoked")
    if invite.used_at is not None:
        raise InviteError("used")
    if as_utc(invite.expires_at) <= utcnow():
        raise InviteError("expired")
    school = await session.get_one(School, invite.school_id)
    student = None
    school_class = None
    if invite.student_id is not None:
        student = await session.scalar(
            select(Student)
            .where(Student.id == invite.student_id)
            .options(selectinload(Student.school_class))
        )
        school_class = student.school_class if student else None
    return InviteView(invite, school, student, school_class)


async def redeem_invite(
    session: AsyncSession, code: str, person: Person, *, relation: str = "guardian"
) -> InviteView:
    """Use an invite: grant its role and, for a guardian, link the child; for an expert,
    set their profile from the invite's details."""
    view = await inspect_invite(session, code)
    invite = view.invite
    await grant_role(session, person, invite.school_id, ROLE_FOR_KIND[invite.kind])
    if invite.kind == InviteKind.EXPERT:
        await _set_expert_profile(session, person, invite)
    if view.student is not None:
        already = await session.scalar(
            select(Guardianship).where(
                Guardianship.guardian_id == person.id,
                Guardianship.student_id == view.student.id,
            )
        )
        if already is None:
            session.add(
                Guardianship(guardian_id=person.id, student_id=view.student.id, relation=relation)
            )
    invite.used_at = utcnow()
    invite.used_by_id = person.id
    await session.flush()
    await record_event(
        session,
        "invite.redeemed",
        person_ref(person.id),
        {"invite": invite.id, "kind": invite.kind.value, "student": invite.student_id},
    )
    return view


async def _set_expert_profile(session: AsyncSession, person: Person, invite: Invite) -> None:
    # One profile per person: a newer invite replaces the categories and languages, and
    # puts the expert back on duty.
    details = invite.details or {}
    expert = await session.scalar(select(Expert).where(Expert.person_id == person.id))
    if expert is None:
        expert = Expert(person_id=person.id)
        session.add(expert)
    expert.school_id = invite.school_id
    expert.categories = list(details.get("categories", []))
    expert.languages = list(details.get("languages", []))
    expert.on_duty = True
    await session.flush()


async def check_attempts(session: AsyncSession, telegram_user_id: int) -> None:
    """Raise InviteError("too_many_attempts") while a user has failed too often recently."""
    since = utcnow() - ATTEMPT_WINDOW
    failures = await session.scalar(
        select(func.count(InviteAttempt.id)).where(
            InviteAttempt.telegram_user_id == telegram_user_id,
            InviteAttempt.attempted_at >= since,
        )
    )
    if (failures or 0) >= MAX_FAILED_ATTEMPTS:
        raise InviteError("too_many_attempts")


async def record_failed_attempt(session: AsyncSession, telegram_user_id: int) -> None:
    """Remember a failed code; attempts older than a day are dropped on the way."""
    await session.execute(
        delete(InviteAttempt).where(InviteAttempt.attempted_at < utcnow() - timedelta(days=1))
    )
    session.add(InviteAttempt(telegram_user_id=telegram_user_id))
    await session.flush()
