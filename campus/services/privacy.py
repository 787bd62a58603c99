"""A guardian's right to be forgotten (PIPL art. 47).

The person's name, Telegram id, links to children, roles, questions and case threads go.
The row itself stays, nameless, so that evidence the school must keep (who was sent what,
and when) still points at a pseudonymous id; the audit ledger never held names, so it still
verifies.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from campus.models import (
    Case,
    CaseMessage,
    CaseStatus,
    FaqQuestion,
    Guardianship,
    Person,
    RoleGrant,
    utcnow,
)
from campus.services.audit import person_ref, record_event


@dataclass(frozen=True)
class ForgetReport:
    """What was removed for a person who asked to be forgotten."""

    children_unlinked: int
    questions_deleted: int


async def forget_person(session: AsyncSession, person: Person) -> ForgetReport:
    """Remove a person's personal data, keeping only a pseudonymous row."""
    children = await session.scalar(
        select(func.count(Guardianship.id)).where(Guardianship.guardian_id == person.id)
    )
    questions = await session.scalar(
        select(func.count(FaqQuestion.id)).where(FaqQuestion.person_id == person.id)
    )
    await session.execute(delete(Guardianship).where(Guardianship.guardian_id == person.id))
    await session.execute(delete(FaqQuestion).where(FaqQuestion.person_id == person.id))
    # The parent's case threads go too (experts' answers may quote the parent); the cases
    # stay as counts for the school's response-time figures, with nobody behind them.
    own_cases = select(Case.id).where(Case.parent_id == person.id)
    await session.execute(delete(CaseMessage).where(CaseMessage.case_id.in_(own_cases)))
    await session.execute(
        update(Case)
        .where(Case.parent_id == person.id)
        .values(parent_id=None, student_id=None, status=CaseStatus.RESOLVED)
    )
    await session.execute(delete(RoleGrant).where(RoleGrant.person_id == person.id))
    person.full_name = ""
    person.telegram_user_id = None
    person.forgotten_at = utcnow()
    await session.flush()
    session.expire(person, ["roles"])
    await record_event(
        session,
        "person.forgotten",
        person_ref(person.id),
        {"children_unlinked": children or 0, "questions_deleted": questions or 0},
    )
    return ForgetReport(children or 0, questions or 0)
