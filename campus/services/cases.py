"""Cases: a parent's question handed to a person, and the thread that follows.

* An **expert** case is offered to one expert at a time: of the case's category and
  language, on duty, within their hours, least loaded first. The offered expert may claim,
  pass, or say it is not their area; an offer not claimed in time moves on to the next
  expert; when nobody is left the school's administrators get it.
* A **school** case (timetable, fees, lost property...) goes to the child's class teachers,
  head teacher first, then to the administrators.
* A **crisis** case pages the school's psychology experts on duty and its administrators at
  once, and again every few minutes, until one of them acknowledges.

Experts and teachers see the parent only as ``Parent <pseudonym>`` with the child's grade,
and the parent's words with personal data redacted (:mod:`campus.redaction`). Every message
goes out through the outbox, so it is rate-limited, retried and recorded like notices.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.models import (
    Case,
    CaseKind,
    CaseMessage,
    CaseStatus,
    Expert,
    Guardianship,
    GuardianSlot,
    OutboxMessage,
    OutboxPurpose,
    Person,
    Role,
    RoleGrant,
    School,
    SchoolClass,
    Student,
    TeacherAssignment,
    as_utc,
    utcnow,
)
from campus.redaction import redact
from campus.services.audit import person_ref, record_event

DEFAULT_CLAIM_MINUTES = 60.0
DEFAULT_ANSWER_HOURS = 24.0
MAX_MESSAGE = 3000
#: What a case's category is called when it is for the school rather than an expert.
SCHOOL_CATEGORY = "school"


class CaseError(Exception):
    """A case request that cannot be carried out; ``code`` names the reason."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class CaseTimes:
    """How long an offer waits for a claim, and a claim for an answer, per category."""

    claim_minutes: Mapping[str, float]
    answer_hours: Mapping[str, float]
    repage_minutes: float = 5.0

    def claim_window(self, category: str) -> timedelta:
        return timedelta(minutes=self.claim_minutes.get(category, DEFAULT_CLAIM_MINUTES))

    def answer_window(self, category: str) -> timedelta:
        return timedelta(hours=self.answer_hours.get(category, DEFAULT_ANSWER_HOURS))


def category_of_entry(entry_id: str | None) -> str:
    """The expert category for a knowledge-base entry id (``law.bullying`` → ``law``);
    school-help topics and unknown questions go to the school."""
    prefix = (entry_id or "").partition(".")[0]
    return prefix if prefix in {"law", "psych", "family", "safety"} else SCHOOL_CATEGORY


def _queue(
    session: AsyncSession, case: Case, chat_id: int | None, event: str, **extra: object
) -> None:
    if chat_id is None:
        return
    session.add(
        OutboxMessage(
            school_id=case.school_id,
            case_id=case.id,
            purpose=OutboxPurpose.CASE,
            chat_id=chat_id,
            urgent=case.kind == CaseKind.CRISIS,
            due_at=utcnow(),
            payload={"event": event, **extra},
        )
    )


async def _new_pseudonym(session: AsyncSession, school_id: int) -> str:
    for _attempt in range(20):
        candidate = secrets.token_hex(2).upper()
        taken = await session.scalar(
            select(Case.id).where(Case.school_id == school_id, Case.pseudonym == candidate)
        )
        if taken is None:
            return candidate
    return secrets.token_hex(4).upper()


async def known_names(session: AsyncSession, parent: Person) -> list[str]:
    """Names that must never reach an expert: the parent's, their children's and the
    guardian names the roster holds for those children."""
    names = [parent.full_name]
    children = list(
        await session.scalars(
            select(Student)
            .join(Guardianship, Guardianship.student_id == Student.id)
            .where(Guardianship.guardian_id == parent.id)
        )
    )
    names += [c.full_name for c in children]
    if children:
        names += list(
            await session.scalars(
                select(GuardianSlot.guardian_name).where(
                    GuardianSlot.student_id.in_([c.id for c in children])
                )
            )
        )
    return [n for n in names if n]


async def open_case(
    session: AsyncSession,
    parent: Person,
    school_id: int,
    text: str,
    *,
    kind: CaseKind,
    category: str,
    language: str,
    times: CaseTimes,
    student_id: int | None = None,
    question_id: int | None = None,
    also_redact: Sequence[str] = (),
    now: datetime | None = None,
) -> Case:
    """Open a case for a parent's question and hand it to the first person who should
    see it (a crisis pages everyone on call at once). ``also_redact``: more names of the
    parent the database does not hold (their Telegram username and names)."""
    now = now or utcnow()
    text = text.strip()[:MAX_MESSAGE]
    if not text:
        raise CaseError("empty")
    if kind == CaseKind.CRISIS:
        ongoing = await _ongoing_crisis(session, parent, school_id, now)
        if ongoing is not None:
            await _add_to_crisis(session, ongoing, parent, text, times, also_redact, now)
            return ongoing
    grade = None
    if student_id is not None:
        student = await session.get(Student, student_id)
        if student is None or student.school_id != school_id:
            raise CaseError("unknown_child")
        school_class = await session.get(SchoolClass, student.class_id)
        grade = school_class.grade if school_class else None
    case = Case(
        school_id=school_id,
        kind=kind,
        category=SCHOOL_CATEGORY if kind == CaseKind.SCHOOL else category,
        language=language,
        pseudonym=await _new_pseudonym(session, school_id),
        parent_id=parent.id,
        student_id=student_id,
        grade=grade,
        question_id=question_id,
        created_at=now,
        declined_by=[],
    )
    session.add(case)
    await session.flush()
    await _add_message(session, case, "parent", parent, text, now=now, also_redact=also_redact)
    await record_event(
        session,
        "case.opened",
        person_ref(parent.id),
        {"case": case.id, "kind": kind.value, "category": case.category, "language": language},
    )
    if kind == CaseKind.CRISIS:
        await page(session, case, times, now=now)
    else:
        await offer_next(session, case, times, now=now)
    return case


#: A parent's further crisis messages within this time join the open crisis case.
CRISIS_THREAD_WINDOW = timedelta(hours=24)


async def _ongoing_crisis(
    session: AsyncSession, parent: Person, school_id: int, now: datetime
) -> Case | None:
    return await session.scalar(
        select(Case)
        .where(
            Case.parent_id == parent.id,
            Case.school_id == school_id,
            Case.kind == CaseKind.CRISIS,
            Case.status != CaseStatus.RESOLVED,
            Case.created_at >= now - CRISIS_THREAD_WINDOW,
        )
        .order_by(Case.id.desc())
        .limit(1)
    )


async def _add_to_crisis(
    session: AsyncSession,
    case: Case,
    parent: Person,
    text: str,
    times: CaseTimes,
    also_redact: Sequence[str],
    now: datetime,
) -> None:
    """A further crisis message goes to whoever took the crisis, or pages again at once
    with the new words while nobody has."""
    if case.acknowledged_at is not None:
        await reply(session, case.id, parent, text, times, also_redact=also_redact, now=now)
        return
    message = await _add_message(
        session, case, "parent", parent, text, now=now, also_redact=also_redact
    )
    await page(session, case, times, message_id=message.id, now=now)


async def _add_message(
    session: AsyncSession,
    case: Case,
    role: str,
    author: Person,
    text: str,
    *,
    now: datetime,
    also_redact: Sequence[str] = (),
) -> CaseMessage:
    shown = text
    if role == "parent":
        names = [*await known_names(session, author), *also_redact]
        shown = redact(text, known_names=names).text
    message = CaseMessage(
        case_id=case.id,
        author_role=role,
        author_id=author.id,
        text=text,
        shown_text=shown,
        created_at=now,
    )
    session.add(message)
    await session.flush()
    return message


def _within(hours: str | None, now: datetime, zone: ZoneInfo) -> bool:
    if not hours:
        return True
    start_text, _sep, end_text = hours.partition("-")
    try:
        start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
    except ValueError:
        return True
    clock = as_utc(now).astimezone(zone).time()
    return start <= clock < end if start <= end else clock >= start or clock < end


async def _load(session: AsyncSession, person_id: int) -> int:
    """How many cases a person is working on."""
    count = await session.scalar(
        select(func.count(Case.id)).where(
            Case.handler_id == person_id,
            Case.status.in_([CaseStatus.CLAIMED, CaseStatus.ANSWERED]),
        )
    )
    return int(count or 0)


async def experts_on_call(
    session: AsyncSession, school_id: int, category: str, language: str | None, now: datetime
) -> list[Person]:
    """Experts of the school for ``category`` (and ``language`` if given) who are on duty
    and within their hours now, least loaded first."""
    school = await session.get(School, school_id)
    zone = ZoneInfo(school.timezone if school else "UTC")
    rows = await session.execute(
        select(Person, Expert)
        .join(Expert, Expert.person_id == Person.id)
        .join(RoleGrant, RoleGrant.person_id == Person.id)
        .where(
            RoleGrant.school_id == school_id,
            RoleGrant.role == Role.EXPERT,
            Expert.on_duty.is_(True),
            Person.telegram_user_id.is_not(None),
        )
        .order_by(Person.id)
    )
    fitting = [
        person
        for person, expert in rows
        if category in (expert.categories or [])
        and (language is None or language in (expert.languages or []))
        and _within(expert.duty_hours, now, zone)
    ]
    loads = {p.id: await _load(session, p.id) for p in fitting}
    return sorted(fitting, key=lambda p: (loads[p.id], p.id))


async def _school_staff(session: AsyncSession, case: Case) -> list[Person]:
    """The child's class teachers, head teacher first."""
    if case.student_id is None:
        return []
    student = await session.get(Student, case.student_id)
    if student is None:
        return []
    rows = await session.execute(
        select(Person)
        .join(TeacherAssignment, TeacherAssignment.teacher_id == Person.id)
        .join(RoleGrant, RoleGrant.person_id == Person.id)
        .where(
            TeacherAssignment.class_id == student.class_id,
            RoleGrant.school_id == case.school_id,
            RoleGrant.role == Role.TEACHER,
            Person.telegram_user_id.is_not(None),
        )
        .order_by(TeacherAssignment.is_head_teacher.desc(), Person.id)
    )
    return list(dict.fromkeys(rows.scalars()))


async def admins_of(session: AsyncSession, school_id: int) -> list[Person]:
    """The school's administrators who can be reached."""
    rows = await session.scalars(
        select(Person)
        .join(RoleGrant, RoleGrant.person_id == Person.id)
        .where(
            RoleGrant.school_id == school_id,
            RoleGrant.role == Role.ADMIN,
            Person.telegram_user_id.is_not(None),
        )
        .order_by(Person.id)
    )
    return list(rows)


async def candidates(session: AsyncSession, case: Case, now: datetime) -> list[Person]:
    """Who may be offered the case next, best first, leaving out who declined it."""
    if case.kind == CaseKind.SCHOOL:
        people = await _school_staff(session, case)
    else:
        people = await experts_on_call(session, case.school_id, case.category, case.language, now)
        if not people:  # nobody speaks the parent's language: any language is better
            people = await experts_on_call(session, case.school_id, case.category, None, now)
    declined = set(case.declined_by or [])
    return [p for p in people if p.id not in declined]


async def offer_next(
    session: AsyncSession, case: Case, times: CaseTimes, *, now: datetime | None = None
) -> Person | None:
    """Offer the case to the next candidate, or escalate it to the administrators."""
    now = now or utcnow()
    people = await candidates(session, case, now)
    if not people:
        await escalate(session, case, "nobody_available", now=now)
        return None
    person = people[0]
    case.offered_to_id = person.id
    case.claim_due_at = now + times.claim_window(case.category)
    _queue(session, case, person.telegram_user_id, "offer")
    await record_event(
        session, "case.offered", person_ref(person.id), {"case": case.id, "kind": case.kind.value}
    )
    return person


async def escalate(session: AsyncSession, case: Case, reason: str, *, now: datetime) -> None:
    """Hand the case to the school's administrators (nobody claimed it, or no answer came)."""
    case.status = CaseStatus.ESCALATED if case.handler_id is None else case.status
    case.escalated_at = now
    case.claim_due_at = None
    case.answer_due_at = None
    case.offered_to_id = None
    for admin in await admins_of(session, case.school_id):
        _queue(session, case, admin.telegram_user_id, "escalated", reason=reason)
    await record_event(session, "case.escalated", "system", {"case": case.id, "reason": reason})


async def claim(
    session: AsyncSession,
    case_id: int,
    person: Person,
    times: CaseTimes,
    *,
    now: datetime | None = None,
) -> Case:
    """The offered person takes the case; once it is escalated, an administrator may take
    it over."""
    now = now or utcnow()
    case = await _case(session, case_id)
    if case.status == CaseStatus.RESOLVED:
        raise CaseError("resolved")
    if case.handler_id == person.id:
        raise CaseError("yours")
    takeover = case.escalated_at is not None and await _is_admin(session, person, case.school_id)
    if case.handler_id is not None and not takeover:
        raise CaseError("already_claimed")
    if case.offered_to_id != person.id and not takeover:
        raise CaseError("not_offered")
    case.status = CaseStatus.CLAIMED
    case.handler_id = person.id
    case.claimed_at = now
    case.claim_due_at = None
    case.answer_due_at = now + times.answer_window(case.category)
    parent = await session.get(Person, case.parent_id) if case.parent_id else None
    _queue(session, case, parent.telegram_user_id if parent else None, "claimed")
    await record_event(session, "case.claimed", person_ref(person.id), {"case": case.id})
    return case


async def decline(
    session: AsyncSession,
    case_id: int,
    person: Person,
    reason: str,
    times: CaseTimes,
    *,
    now: datetime | None = None,
) -> Person | None:
    """The offered person passes (``pass``) or says it is not their area
    (``not_my_area``); the case moves on. Returns who is offered it next."""
    now = now or utcnow()
    case = await _case(session, case_id)
    if case.offered_to_id != person.id or case.status != CaseStatus.OPEN:
        raise CaseError("not_offered")
    case.declined_by = [*(case.declined_by or []), person.id]
    await record_event(
        session, "case.declined", person_ref(person.id), {"case": case.id, "reason": reason}
    )
    return await offer_next(session, case, times, now=now)


async def _case(session: AsyncSession, case_id: int) -> Case:
    case = await session.get(Case, case_id)
    if case is None:
        raise CaseError("unknown")
    return case


async def _is_admin(session: AsyncSession, person: Person, school_id: int) -> bool:
    found = await session.scalar(
        select(RoleGrant.id).where(
            RoleGrant.person_id == person.id,
            RoleGrant.school_id == school_id,
            RoleGrant.role == Role.ADMIN,
        )
    )
    return found is not None


async def reply(
    session: AsyncSession,
    case_id: int,
    author: Person,
    text: str,
    times: CaseTimes,
    *,
    also_redact: Sequence[str] = (),
    now: datetime | None = None,
) -> CaseMessage:
    """A message in the case thread, relayed to the other side: the handler's answer to the
    parent, or the parent's follow-up to the handler (redacted, see :func:`open_case`)."""
    now = now or utcnow()
    text = text.strip()[:MAX_MESSAGE]
    if not text:
        raise CaseError("empty")
    case = await _case(session, case_id)
    if case.status == CaseStatus.RESOLVED:
        raise CaseError("resolved")
    if author.id == case.parent_id:
        message = await _add_message(
            session, case, "parent", author, text, now=now, also_redact=also_redact
        )
        handler = await session.get(Person, case.handler_id) if case.handler_id else None
        if handler is None:
            offered = await session.get(Person, case.offered_to_id) if case.offered_to_id else None
            _queue(
                session,
                case,
                offered.telegram_user_id if offered else None,
                "follow_up",
                message=message.id,
            )
        else:
            case.status = CaseStatus.CLAIMED
            case.answer_due_at = now + times.answer_window(case.category)
            _queue(session, case, handler.telegram_user_id, "follow_up", message=message.id)
        await record_event(
            session,
            "case.follow_up",
            person_ref(author.id),
            {"case": case.id, "message": message.id},
        )
        return message
    if author.id != case.handler_id:
        raise CaseError("not_handler")
    role = "teacher" if case.kind == CaseKind.SCHOOL else "expert"
    message = await _add_message(session, case, role, author, text, now=now)
    case.status = CaseStatus.ANSWERED
    case.answer_due_at = None
    case.first_answer_at = case.first_answer_at or now
    parent = await session.get(Person, case.parent_id) if case.parent_id else None
    _queue(session, case, parent.telegram_user_id if parent else None, "answer", message=message.id)
    await record_event(
        session, "case.answered", person_ref(author.id), {"case": case.id, "message": message.id}
    )
    return message


async def resolve(
    session: AsyncSession,
    case_id: int,
    parent: Person,
    *,
    rating: int | None = None,
    now: datetime | None = None,
) -> Case:
    """The parent marks the case resolved, optionally rating it 1–5."""
    now = now or utcnow()
    case = await _case(session, case_id)
    if case.parent_id != parent.id:
        raise CaseError("not_yours")
    if rating is not None and not 1 <= rating <= 5:
        raise CaseError("bad_rating")
    if case.status != CaseStatus.RESOLVED:
        case.status = CaseStatus.RESOLVED
        case.resolved_at = now
        case.claim_due_at = None
        case.answer_due_at = None
        handler = await session.get(Person, case.handler_id) if case.handler_id else None
        _queue(session, case, handler.telegram_user_id if handler else None, "resolved")
    if rating is not None:
        case.rating = rating
    await record_event(
        session, "case.resolved", person_ref(parent.id), {"case": case.id, "rating": case.rating}
    )
    return case


async def page(
    session: AsyncSession,
    case: Case,
    times: CaseTimes,
    *,
    message_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Page everyone on call for a crisis: the school's psychology experts on duty and its
    administrators, showing ``message_id`` (default: the first message). Returns how many
    were paged."""
    now = now or utcnow()
    people = await experts_on_call(session, case.school_id, "psych", None, now)
    people += await admins_of(session, case.school_id)
    paged = list({p.id: p for p in people}.values())
    shown = {"message": message_id} if message_id is not None else {}
    for person in paged:
        _queue(session, case, person.telegram_user_id, "page", number=case.pages + 1, **shown)
    case.pages += 1
    case.next_page_at = now + timedelta(minutes=times.repage_minutes)
    await record_event(
        session,
        "case.paged",
        "system",
        {"case": case.id, "page": case.pages, "people": [person_ref(p.id) for p in paged]},
    )
    return len(paged)


async def acknowledge_page(
    session: AsyncSession, case_id: int, person: Person, *, now: datetime | None = None
) -> Case:
    """Someone paged takes the crisis: paging stops and they handle the case."""
    now = now or utcnow()
    case = await _case(session, case_id)
    if case.kind != CaseKind.CRISIS:
        raise CaseError("not_crisis")
    on_call = await experts_on_call(session, case.school_id, "psych", None, now)
    if person.id not in {p.id for p in on_call} and not await _is_admin(
        session, person, case.school_id
    ):
        raise CaseError("not_on_call")
    if case.acknowledged_at is not None:
        raise CaseError("already_claimed" if case.acknowledged_by_id != person.id else "yours")
    case.acknowledged_at = now
    case.acknowledged_by_id = person.id
    case.next_page_at = None
    case.status = CaseStatus.CLAIMED
    case.handler_id = person.id
    case.claimed_at = now
    await record_event(session, "case.page_acknowledged", person_ref(person.id), {"case": case.id})
    return case


@dataclass
class CaseDutiesReport:
    reoffered: int = 0
    escalated: int = 0
    repaged: int = 0

    @property
    def anything(self) -> bool:
        return any((self.reoffered, self.escalated, self.repaged))


async def run_case_duties(
    session: AsyncSession, times: CaseTimes, *, now: datetime | None = None
) -> CaseDutiesReport:
    """What the tick does for cases: move unclaimed offers on, escalate unanswered claims,
    and page again for unacknowledged crises."""
    now = now or utcnow()
    report = CaseDutiesReport()
    unclaimed = await session.scalars(
        select(Case)
        .where(Case.status == CaseStatus.OPEN, Case.claim_due_at <= now)
        .with_for_update(skip_locked=True)
    )
    for case in list(unclaimed):
        if case.offered_to_id is not None:
            case.declined_by = [*(case.declined_by or []), case.offered_to_id]
            await record_event(
                session,
                "case.declined",
                person_ref(case.offered_to_id),
                {"case": case.id, "reason": "timeout"},
            )
        await offer_next(session, case, times, now=now)
        report.reoffered += 1
    unanswered = await session.scalars(
        select(Case)
        .where(Case.status == CaseStatus.CLAIMED, Case.answer_due_at <= now)
        .with_for_update(skip_locked=True)
    )
    for case in list(unanswered):
        await escalate(session, case, "no_answer", now=now)
        report.escalated += 1
    crises = await session.scalars(
        select(Case)
        .where(
            Case.kind == CaseKind.CRISIS,
            Case.acknowledged_at.is_(None),
            Case.next_page_at <= now,
        )
        .with_for_update(skip_locked=True)
    )
    for case in list(crises):
        await page(session, case, times, now=now)
        report.repaged += 1
    return report


async def open_cases_of(session: AsyncSession, parent: Person) -> Sequence[Case]:
    """A parent's cases that are not resolved, newest first."""
    rows = await session.scalars(
        select(Case)
        .where(Case.parent_id == parent.id, Case.status != CaseStatus.RESOLVED)
        .order_by(Case.id.desc())
    )
    return list(rows)


@dataclass(frozen=True)
class CaseOutgoing:
    """One outbox message of a case, with what its recipient may see."""

    outbox_id: int
    chat_id: int
    language: str
    event: str
    case_id: int
    kind: CaseKind
    category: str
    pseudonym: str
    grade: int | None
    to_parent: bool
    text: str = ""
    author_role: str = ""
    page_number: int = 0
    reason: str = ""
    uncertain: bool = False


async def load_case_outgoing(session: AsyncSession, row: OutboxMessage) -> CaseOutgoing | None:
    """The case message ``row`` as its recipient should get it: a parent sees the
    expert's words; an expert or teacher sees the parent's words with personal data
    redacted and never the parent's name."""
    if row.case_id is None:
        return None
    case = await session.get(Case, row.case_id)
    if case is None:
        return None
    payload = row.payload or {}
    recipient = await session.scalar(select(Person).where(Person.telegram_user_id == row.chat_id))
    to_parent = recipient is not None and recipient.id == case.parent_id
    message_id = payload.get("message")
    if message_id is None and payload.get("event") in {"offer", "page", "escalated"}:
        message_id = await session.scalar(
            select(CaseMessage.id)
            .where(CaseMessage.case_id == case.id)
            .order_by(CaseMessage.id)
            .limit(1)
        )
    message = await session.get(CaseMessage, message_id) if message_id else None
    text = ""
    if message is not None:
        text = message.text if to_parent or message.author_role != "parent" else message.shown_text
    return CaseOutgoing(
        outbox_id=row.id,
        chat_id=row.chat_id,
        language=recipient.language if recipient else case.language,
        event=str(payload.get("event", "")),
        case_id=case.id,
        kind=case.kind,
        category=case.category,
        pseudonym=case.pseudonym,
        grade=case.grade,
        to_parent=to_parent,
        text=text,
        author_role=message.author_role if message else "",
        page_number=int(payload.get("number", 0)),
        reason=str(payload.get("reason", "")),
        uncertain=row.uncertain,
    )


async def case_of_message(
    session: AsyncSession, chat_id: int, telegram_message_id: int
) -> Case | None:
    """The case a bot message in ``chat_id`` belongs to (for replies to it)."""
    case_id = await session.scalar(
        select(OutboxMessage.case_id).where(
            OutboxMessage.chat_id == chat_id,
            OutboxMessage.telegram_message_id == telegram_message_id,
            OutboxMessage.case_id.is_not(None),
        )
    )
    return await session.get(Case, case_id) if case_id else None
