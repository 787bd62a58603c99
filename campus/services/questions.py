"""Parents' questions to the knowledge base: what was asked, how it was answered, whether it
helped, and requests for a human expert."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.models import FaqQuestion, Person, Role, utcnow
from campus.services.audit import person_ref, record_event
from campus.services.people import schools_where

MAX_QUESTION_LENGTH = 2000


class QuestionError(Exception):
    """A question action that is not allowed; ``code`` says why."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def record_question(
    session: AsyncSession,
    person: Person,
    text: str,
    *,
    language: str,
    decision: str,
    entry_id: str | None,
    confidence: float,
) -> FaqQuestion:
    """Keep a question and how the knowledge base answered it."""
    schools = schools_where(person, Role.GUARDIAN) or [g.school_id for g in person.roles]
    question = FaqQuestion(
        person_id=person.id,
        school_id=schools[0] if schools else None,
        text=text[:MAX_QUESTION_LENGTH],
        language=language,
        decision=decision,
        entry_id=entry_id,
        confidence=confidence,
    )
    session.add(question)
    await session.flush()
    if decision == "crisis":
        await record_event(
            session, "question.crisis", person_ref(person.id), {"question": question.id}
        )
    return question


async def own_question(session: AsyncSession, question_id: int, person: Person) -> FaqQuestion:
    """The question, if ``person`` asked it: a button press from anyone else is refused."""
    question = await session.get(FaqQuestion, question_id)
    if question is None or question.person_id != person.id:
        raise QuestionError("not_yours")
    return question


async def give_feedback(
    session: AsyncSession, question_id: int, person: Person, *, helpful: bool
) -> FaqQuestion:
    """Record 👍 or 👎 on an answer; a second tap changes the verdict."""
    question = await own_question(session, question_id, person)
    question.helpful = helpful
    question.feedback_at = utcnow()
    await session.flush()
    return question


async def request_expert(session: AsyncSession, question_id: int, person: Person) -> bool:
    """Ask for a human expert on a question; False when it was already requested."""
    question = await own_question(session, question_id, person)
    if question.expert_requested_at is not None:
        return False
    question.expert_requested_at = utcnow()
    await session.flush()
    await record_event(
        session, "question.expert_requested", person_ref(person.id), {"question": question.id}
    )
    return True


@dataclass(frozen=True)
class EntryFeedback:
    """Feedback on one knowledge-base entry over a period."""

    entry_id: str
    helpful: int
    unhelpful: int


@dataclass(frozen=True)
class FeedbackReport:
    """What parents thought of the answers: per entry, and the latest unhelpful questions."""

    asked: int
    answered: int
    expert_requests: int
    entries: list[EntryFeedback]
    latest_unhelpful: list[FaqQuestion]


async def feedback_report(
    session: AsyncSession, school_id: int, *, days: int = 30, latest: int = 5
) -> FeedbackReport:
    """Feedback on the answers given to a school's parents in the last ``days`` days."""
    since = utcnow() - timedelta(days=days)
    questions = list(
        await session.scalars(
            select(FaqQuestion)
            .where(FaqQuestion.school_id == school_id, FaqQuestion.asked_at >= since)
            .order_by(FaqQuestion.asked_at.desc())
        )
    )
    helpful: Counter[str] = Counter()
    unhelpful: Counter[str] = Counter()
    for question in questions:
        if question.entry_id and question.helpful is not None:
            (helpful if question.helpful else unhelpful)[question.entry_id] += 1
    entries = [
        EntryFeedback(entry_id, helpful[entry_id], unhelpful[entry_id])
        for entry_id in sorted(
            set(helpful) | set(unhelpful), key=lambda e: (-unhelpful[e], -helpful[e], e)
        )
    ]
    return FeedbackReport(
        asked=len(questions),
        answered=sum(1 for q in questions if q.decision == "answer"),
        expert_requests=sum(1 for q in questions if q.expert_requested_at is not None),
        entries=entries,
        latest_unhelpful=[q for q in questions if q.helpful is False][:latest],
    )
