"""FAQ drafts: an expert's answer in a case, proposed as a knowledge-base entry.

The expert who handled a case saves their answer as a draft; an administrator of the
school edits it if needed and approves it, which writes it as a learned entry
(:mod:`knowledge_base.learned`), or rejects it, which writes nothing.

A draft's example questions are kept in ``FaqDraft.question``, one per line: the first
is the parent's question as the expert saw it (personal data redacted, on one line), the
others are ways of asking it the administrator added. Audit events carry pseudonymous
ids only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from campus.models import (
    Case,
    CaseKind,
    CaseMessage,
    DraftStatus,
    Expert,
    ExpertCategory,
    FaqDraft,
    Person,
    Role,
    RoleGrant,
    as_utc,
    utcnow,
)
from campus.services.audit import person_ref, record_event
from campus.services.staff import expert_label
from knowledge_base.learned import (
    DEFAULT_REVIEW_DAYS,
    LearnedAnswer,
    remove_learned_entry,
    write_learned_entry,
)

#: Longest question or answer a draft keeps (an expert's message is at most 3000).
MAX_TEXT = 4000
#: Most example questions one draft carries.
MAX_QUESTIONS = 12
CATEGORIES = frozenset(category.value for category in ExpertCategory)


class DraftError(Exception):
    """A draft request that cannot be carried out; ``code`` names the reason."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) as one space."""
    return " ".join(text.split())


def draft_questions(draft: FaqDraft) -> list[str]:
    """The draft's example questions, the parent's first."""
    return [line for line in (one_line(q) for q in draft.question.splitlines()) if line]


def _language(code: str) -> str:
    return "zh" if code.lower().startswith("zh") else "en"


async def _expert_pseudonym(session: AsyncSession, person: Person) -> str:
    expert_id = await session.scalar(select(Expert.id).where(Expert.person_id == person.id))
    # an administrator who took an escalated case over has no expert profile
    return f"Expert {expert_label(expert_id)}" if expert_id else f"School staff P{person.id}"


async def create_draft_from_case(
    session: AsyncSession,
    case_id: int,
    expert: Person,
    *,
    review_days: int = DEFAULT_REVIEW_DAYS,
    now: datetime | None = None,
) -> FaqDraft:
    """Save the answer ``expert`` gave in an expert case as a draft for the school's
    administrators. Only the case's handler may, only once they have answered, and only
    one draft per case waits at a time (nor is a case learned twice).

    Raises ``DraftError``: ``unknown_case``, ``not_expert_case``, ``not_handler``,
    ``not_answered``, ``already_pending``, ``already_learned``.
    """
    now = now or utcnow()
    case = await session.get(Case, case_id)
    if case is None:
        raise DraftError("unknown_case")
    if case.kind != CaseKind.EXPERT or case.category not in CATEGORIES:
        raise DraftError("not_expert_case")
    if case.handler_id != expert.id:
        raise DraftError("not_handler")
    answer = await session.scalar(
        select(CaseMessage)
        .where(
            CaseMessage.case_id == case.id,
            CaseMessage.author_role == "expert",
            CaseMessage.author_id == expert.id,
        )
        .order_by(CaseMessage.id.desc())
        .limit(1)
    )
    if answer is None:
        raise DraftError("not_answered")
    earlier = await session.scalars(
        select(FaqDraft.status).where(
            FaqDraft.case_id == case.id,
            FaqDraft.status.in_([DraftStatus.PENDING, DraftStatus.APPROVED]),
        )
    )
    statuses = set(earlier)
    if DraftStatus.PENDING in statuses:
        raise DraftError("already_pending")
    if DraftStatus.APPROVED in statuses:
        raise DraftError("already_learned")
    # the parent's words as the expert saw them: redacted, never CaseMessage.text
    asked = await session.scalar(
        select(CaseMessage.shown_text)
        .where(CaseMessage.case_id == case.id, CaseMessage.author_role == "parent")
        .order_by(CaseMessage.id)
        .limit(1)
    )
    draft = FaqDraft(
        school_id=case.school_id,
        case_id=case.id,
        status=DraftStatus.PENDING,
        category=case.category,
        language=_language(case.language),
        question=one_line(asked or "")[:MAX_TEXT],
        answer=answer.text.strip()[:MAX_TEXT],
        expert_pseudonym=await _expert_pseudonym(session, expert),
        created_at=now,
        review_due=now + timedelta(days=review_days),
    )
    session.add(draft)
    await session.flush()
    await record_event(
        session, "faq_draft.created", person_ref(expert.id), {"draft": draft.id, "case": case.id}
    )
    return draft


async def _is_admin(session: AsyncSession, person: Person, school_id: int) -> bool:
    grant = await session.scalar(
        select(RoleGrant.id).where(
            RoleGrant.person_id == person.id,
            RoleGrant.school_id == school_id,
            RoleGrant.role == Role.ADMIN,
        )
    )
    return grant is not None


async def draft_for_admin(session: AsyncSession, draft_id: int, admin: Person) -> FaqDraft:
    """The draft, if ``admin`` administers its school; ``DraftError`` (``unknown_draft``,
    ``not_admin``) otherwise."""
    draft = await session.get(FaqDraft, draft_id)
    if draft is None:
        raise DraftError("unknown_draft")
    if not await _is_admin(session, admin, draft.school_id):
        raise DraftError("not_admin")
    return draft


async def pending_draft(session: AsyncSession, draft_id: int, admin: Person) -> FaqDraft:
    """The draft, if it waits for review and ``admin`` administers its school;
    ``DraftError`` (``unknown_draft``, ``not_admin``, ``not_pending``) otherwise."""
    draft = await draft_for_admin(session, draft_id, admin)
    if draft.status != DraftStatus.PENDING:
        raise DraftError("not_pending")
    return draft


async def pending_drafts(session: AsyncSession, admin: Person) -> list[FaqDraft]:
    """Drafts waiting for review in the schools ``admin`` administers, oldest first."""
    schools = select(RoleGrant.school_id).where(
        RoleGrant.person_id == admin.id, RoleGrant.role == Role.ADMIN
    )
    rows = await session.scalars(
        select(FaqDraft)
        .where(FaqDraft.status == DraftStatus.PENDING, FaqDraft.school_id.in_(schools))
        .order_by(FaqDraft.id)
    )
    return list(rows)


async def edit_draft(
    session: AsyncSession,
    draft_id: int,
    admin: Person,
    *,
    question: str | None = None,
    extra_questions: Sequence[str] | None = None,
    answer: str | None = None,
    category: str | None = None,
) -> FaqDraft:
    """Change a pending draft: its question (the first example), the other ways of asking
    it (replacing those there were), its answer or its category. Only an administrator
    of the draft's school may.

    Raises ``DraftError``: ``unknown_draft``, ``not_admin``, ``not_pending``, ``empty``,
    ``too_long``, ``bad_category``.
    """
    draft = await pending_draft(session, draft_id, admin)
    # everything is checked before anything changes: a refused edit leaves the draft as it was
    changed: list[str] = []
    questions = draft_questions(draft)
    if question is not None:
        questions = [one_line(question), *questions[1:]]
        changed.append("question")
    if extra_questions is not None:
        questions = [questions[0] if questions else "", *map(one_line, extra_questions)]
        changed.append("extra_questions")
    kept = [q for q in dict.fromkeys(questions) if q]
    if not questions or not questions[0]:
        raise DraftError("empty")
    if len(kept) > MAX_QUESTIONS or len("\n".join(kept)) > MAX_TEXT:
        raise DraftError("too_long")
    text = draft.answer if answer is None else answer.strip()
    if not text:
        raise DraftError("empty")
    if len(text) > MAX_TEXT:
        raise DraftError("too_long")
    if answer is not None:
        changed.append("answer")
    if category is not None:
        if category not in CATEGORIES:
            raise DraftError("bad_category")
        changed.append("category")
    draft.question = "\n".join(kept)
    draft.answer = text
    draft.category = category or draft.category
    await session.flush()
    await record_event(
        session, "faq_draft.edited", person_ref(admin.id), {"draft": draft.id, "fields": changed}
    )
    return draft


async def _set_reviewed(
    session: AsyncSession,
    draft: FaqDraft,
    admin: Person,
    status: DraftStatus,
    now: datetime,
    entry_id: str | None = None,
) -> None:
    # only from pending: of two administrators deciding at once, one wins
    result = await session.execute(
        update(FaqDraft)
        .where(FaqDraft.id == draft.id, FaqDraft.status == DraftStatus.PENDING)
        .values(status=status, reviewed_by_id=admin.id, reviewed_at=now, entry_id=entry_id)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise DraftError("not_pending")
    await session.refresh(draft)


async def approve_draft(
    session: AsyncSession,
    draft_id: int,
    admin: Person,
    *,
    learned_dir: Path,
    now: datetime | None = None,
) -> str:
    """Approve a pending draft: write it to ``learned_dir`` as the next learned entry of
    its category and return the entry's id. Only an administrator of the draft's school
    may. The file is removed again if recording the approval fails here; a caller whose
    commit fails should remove it too (``knowledge_base.learned.remove_learned_entry``).

    Raises ``DraftError``: ``unknown_draft``, ``not_admin``, ``not_pending``, ``empty``.
    """
    now = now or utcnow()
    draft = await pending_draft(session, draft_id, admin)
    questions = draft_questions(draft)
    if not questions or not draft.answer.strip():
        raise DraftError("empty")
    created = as_utc(draft.created_at)
    review_due = as_utc(draft.review_due) if draft.review_due else None
    handed_out = await session.scalars(
        select(FaqDraft.entry_id).where(FaqDraft.entry_id.is_not(None))
    )
    entry = write_learned_entry(
        learned_dir,
        LearnedAnswer(
            category=draft.category,
            language="zh" if draft.language == "zh" else "en",
            questions=questions,
            answer=draft.answer,
            expert=draft.expert_pseudonym,
            drafted=created.date(),
            approved=as_utc(now).date(),
            review_due=(review_due or created + timedelta(days=DEFAULT_REVIEW_DAYS)).date(),
            case_id=draft.case_id,
        ),
        taken=[entry_id for entry_id in handed_out if entry_id],
    )
    try:
        await _set_reviewed(session, draft, admin, DraftStatus.APPROVED, now, entry.id)
        await record_event(
            session,
            "faq_draft.approved",
            person_ref(admin.id),
            {"draft": draft.id, "entry": entry.id},
        )
    except BaseException:
        remove_learned_entry(learned_dir, entry.id)
        raise
    return entry.id


async def reject_draft(
    session: AsyncSession, draft_id: int, admin: Person, *, now: datetime | None = None
) -> FaqDraft:
    """Reject a pending draft; nothing is written to the knowledge base. Only an
    administrator of the draft's school may.

    Raises ``DraftError``: ``unknown_draft``, ``not_admin``, ``not_pending``.
    """
    now = now or utcnow()
    draft = await pending_draft(session, draft_id, admin)
    await _set_reviewed(session, draft, admin, DraftStatus.REJECTED, now)
    await record_event(session, "faq_draft.rejected", person_ref(admin.id), {"draft": draft.id})
    return draft
