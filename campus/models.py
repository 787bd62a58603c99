"""The domain model: schools, classes, people and their roles, students, guardians, invites,
and the audit ledger."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Timezone-aware now, the only clock the models use."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A stored moment as an aware UTC datetime (SQLite hands back naive ones)."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


class Base(AsyncAttrs, DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
    }


class Role(enum.StrEnum):
    ADMIN = "admin"
    TEACHER = "teacher"
    GUARDIAN = "guardian"
    EXPERT = "expert"


class InviteKind(enum.StrEnum):
    ADMIN_CLAIM = "admin_claim"
    TEACHER = "teacher"
    GUARDIAN = "guardian"
    EXPERT = "expert"


class ExpertCategory(enum.StrEnum):
    LAW = "law"
    PSYCHOLOGY = "psych"
    FAMILY = "family"
    SAFETY = "safety"


class NoticeKind(enum.StrEnum):
    """What a notice is: the kind sets its default acknowledgement and reminder plan."""

    CLASS_NOTICE = "class_notice"
    SAFETY_ALERT = "safety_alert"
    URGENT_ALERT = "urgent_alert"


def _enum(cls: type[enum.Enum]) -> Enum:
    # Stored as plain strings so that adding a member needs no database migration.
    return Enum(cls, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])


class School(Base):
    __tablename__ = "schools"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    classes: Mapped[list[SchoolClass]] = relationship(back_populates="school")


class SchoolClass(Base):
    __tablename__ = "school_classes"
    __table_args__ = (UniqueConstraint("school_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    grade: Mapped[int | None] = mapped_column(Integer)

    school: Mapped[School] = relationship(back_populates="classes")
    students: Mapped[list[Student]] = relationship(back_populates="school_class")


class Person(Base):
    """Anyone who talks to the bot: a guardian, teacher, admin or expert (or several)."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(8), default="en")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set by /forget_me: the row stays, nameless, so evidence that points at it still reads.
    forgotten_at: Mapped[datetime | None]

    roles: Mapped[list[RoleGrant]] = relationship(
        back_populates="person", cascade="all, delete-orphan", lazy="selectin"
    )


class RoleGrant(Base):
    """A role a person holds in one school."""

    __tablename__ = "role_grants"
    __table_args__ = (UniqueConstraint("person_id", "school_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    role: Mapped[Role] = mapped_column(_enum(Role))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)

    person: Mapped[Person] = relationship(back_populates="roles")


class Student(Base):
    __tablename__ = "students"
    __table_args__ = (UniqueConstraint("school_id", "student_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    class_id: Mapped[int] = mapped_column(ForeignKey("school_classes.id", ondelete="RESTRICT"))
    full_name: Mapped[str] = mapped_column(String(200))
    student_number: Mapped[str] = mapped_column(String(64))
    # Set when an admin removes the student: the row stays, so past notices still read.
    removed_at: Mapped[datetime | None]

    school_class: Mapped[SchoolClass] = relationship(back_populates="students")
    guardianships: Mapped[list[Guardianship]] = relationship(back_populates="student")


class Guardianship(Base):
    """A guardian's link to one child; a child may have several guardians and vice versa."""

    __tablename__ = "guardianships"
    __table_args__ = (UniqueConstraint("guardian_id", "student_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    guardian_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    relation: Mapped[str] = mapped_column(String(32), default="guardian")
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)

    guardian: Mapped[Person] = relationship()
    student: Mapped[Student] = relationship(back_populates="guardianships")


class TeacherAssignment(Base):
    __tablename__ = "teacher_assignments"
    __table_args__ = (UniqueConstraint("teacher_id", "class_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    class_id: Mapped[int] = mapped_column(ForeignKey("school_classes.id", ondelete="CASCADE"))
    is_head_teacher: Mapped[bool] = mapped_column(default=False)


class Expert(Base):
    """A volunteer expert's profile: what they answer and in which languages."""

    __tablename__ = "experts"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), unique=True
    )
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    on_duty: Mapped[bool] = mapped_column(default=True)
    # "HH:MM-HH:MM" in the school's time zone; None means at any time while on duty.
    duty_hours: Mapped[str | None] = mapped_column(String(16))


class Invite(Base):
    """A one-time deep-link code. Only its SHA-256 hash is stored."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    kind: Mapped[InviteKind] = mapped_column(_enum(InviteKind))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    student_id: Mapped[int | None] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    guardian_slot: Mapped[int | None] = mapped_column(Integer)
    # What the invite grants beyond its kind, e.g. an expert's categories and languages.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None]


class AuditEvent(Base):
    """One entry of the append-only, hash-chained ledger.

    ``payload`` holds pseudonymous ids only, so deleting a person never breaks the chain.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    note: Mapped[str | None] = mapped_column(Text)


class GuardianRelation(enum.StrEnum):
    """How a guardian named on the roster is related to the student."""

    MOTHER = "mother"
    FATHER = "father"
    GRANDMOTHER = "grandmother"
    GRANDFATHER = "grandfather"
    GUARDIAN = "guardian"
    OTHER = "other"


class GuardianSlot(Base):
    """A guardian the school's roster names for a student (slot 1, 2, ...).

    Slots exist before anybody joins: guardian invites are issued per slot, and the roster
    import keeps them up to date.
    """

    __tablename__ = "guardian_slots"
    __table_args__ = (UniqueConstraint("student_id", "slot"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    slot: Mapped[int] = mapped_column(Integer)
    guardian_name: Mapped[str] = mapped_column(String(200))
    relation: Mapped[GuardianRelation | None] = mapped_column(_enum(GuardianRelation))

    student: Mapped[Student] = relationship()


class FaqQuestion(Base):
    """A question someone asked the knowledge base, how it was answered, and whether it
    helped. The text is personal data: it goes when its author asks to be forgotten."""

    __tablename__ = "faq_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    decision: Mapped[str] = mapped_column(String(16))
    entry_id: Mapped[str | None] = mapped_column(String(80))
    confidence: Mapped[float] = mapped_column(Float)
    asked_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    helpful: Mapped[bool | None]
    feedback_at: Mapped[datetime | None]
    expert_requested_at: Mapped[datetime | None]


class InviteAttempt(Base):
    """A failed try at an invite code, kept for a day to slow down guessing."""

    __tablename__ = "invite_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)


class Notice(Base):
    """A message from the school to the guardians of an audience of children.

    The text lives in :class:`NoticeVersion`; editing a sent notice adds a version.
    """

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    kind: Mapped[NoticeKind] = mapped_column(_enum(NoticeKind))
    requires_ack: Mapped[bool] = mapped_column(default=False)
    is_drill: Mapped[bool] = mapped_column(default=False)
    template_id: Mapped[str | None] = mapped_column(String(64))
    # {"classes": [ids]} as resolved when published.
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    send_at: Mapped[datetime]
    deadline_at: Mapped[datetime | None]
    # Minutes after sending at which unacknowledged families are reminded.
    reminder_minutes: Mapped[list[int]] = mapped_column(JSON, default=list)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    deadline_reported_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]

    versions: Mapped[list[NoticeVersion]] = relationship(
        back_populates="notice", order_by="NoticeVersion.number"
    )


class NoticeVersion(Base):
    """The text of a notice as it was at one version, in one or both languages.

    ``body`` may hold ``{child}`` and ``{class_name}``, filled for each recipient.
    """

    __tablename__ = "notice_versions"
    __table_args__ = (UniqueConstraint("notice_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    body: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    change_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))

    notice: Mapped[Notice] = relationship(back_populates="versions")


class Delivery(Base):
    """One (guardian, child) pair a notice is for, and where that pair stands."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("notice_id", "guardian_id", "student_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    guardian_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    # The first guardian of a child is asked at once; the others when reminders go unanswered.
    is_primary: Mapped[bool] = mapped_column(default=True)
    asked_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    sent_version: Mapped[int | None] = mapped_column(Integer)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    unreachable_at: Mapped[datetime | None]
    unreachable_reason: Mapped[str | None] = mapped_column(String(200))
    acked_at: Mapped[datetime | None]
    acked_version: Mapped[int | None] = mapped_column(Integer)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    next_reminder_at: Mapped[datetime | None] = mapped_column(index=True)

    notice: Mapped[Notice] = relationship()
    guardian: Mapped[Person] = relationship()
    student: Mapped[Student] = relationship()


class Acknowledgement(Base):
    """A guardian's first press of "acknowledge" for one version of a notice."""

    __tablename__ = "acknowledgements"
    __table_args__ = (UniqueConstraint("delivery_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    acked_at: Mapped[datetime] = mapped_column(default=utcnow)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)


class OutboxPurpose(enum.StrEnum):
    NOTICE = "notice"
    REMINDER = "reminder"
    UPDATE = "update"
    REPORT = "report"
    # Messages of a case; ``payload["event"]`` says which (offer, relay, page, ...).
    CASE = "case"


class OutboxState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    CANCELLED = "cancelled"


class OutboxMessage(Base):
    """A message waiting to be sent, being sent, or sent: the delivery worker's queue.

    The text is rendered when it is sent, from the notice version and the recipient.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_due_at", "state", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    notice_id: Mapped[int | None] = mapped_column(
        ForeignKey("notices.id", ondelete="CASCADE"), index=True
    )
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    purpose: Mapped[OutboxPurpose] = mapped_column(_enum(OutboxPurpose))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int | None] = mapped_column(Integer)
    urgent: Mapped[bool] = mapped_column(default=False)
    state: Mapped[OutboxState] = mapped_column(_enum(OutboxState), default=OutboxState.PENDING)
    due_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # An attempt whose outcome is unknown (timeout, crash): retried at most once.
    uncertain: Mapped[bool] = mapped_column(default=False)
    lease_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(String(300))


class CaseKind(enum.StrEnum):
    EXPERT = "expert"
    SCHOOL = "school"
    CRISIS = "crisis"


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    ANSWERED = "answered"
    ESCALATED = "escalated"
    RESOLVED = "resolved"


class Case(Base):
    """A parent's question handed to a person: an expert, the class teacher, or (in a
    crisis) whoever is paged. Experts know the parent only by ``pseudonym``."""

    __tablename__ = "cases"
    __table_args__ = (UniqueConstraint("school_id", "pseudonym"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    kind: Mapped[CaseKind] = mapped_column(_enum(CaseKind))
    status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus), default=CaseStatus.OPEN)
    category: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    pseudonym: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    student_id: Mapped[int | None] = mapped_column(ForeignKey("students.id", ondelete="SET NULL"))
    grade: Mapped[int | None] = mapped_column(Integer)
    question_id: Mapped[int | None] = mapped_column(
        ForeignKey("faq_questions.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Whom the case is offered to now, and until when they may claim it.
    offered_to_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    claim_due_at: Mapped[datetime | None] = mapped_column(index=True)
    declined_by: Mapped[list[int]] = mapped_column(JSON, default=list)
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    claimed_at: Mapped[datetime | None]
    answer_due_at: Mapped[datetime | None] = mapped_column(index=True)
    first_answer_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    rating: Mapped[int | None] = mapped_column(Integer)
    # Crisis paging: re-paged until someone acknowledges.
    next_page_at: Mapped[datetime | None] = mapped_column(index=True)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id", ondelete="SET NULL")
    )


class CaseMessage(Base):
    """One message of a case thread. ``text`` is what its author wrote; ``shown_text`` is
    what the other side sees (a parent's words with personal data redacted)."""

    __tablename__ = "case_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author_role: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    shown_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DraftStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class FaqDraft(Base):
    """An expert's answer proposed as a knowledge-base entry, waiting for an admin."""

    __tablename__ = "faq_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    status: Mapped[DraftStatus] = mapped_column(_enum(DraftStatus), default=DraftStatus.PENDING)
    category: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    expert_pseudonym: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    review_due: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id", ondelete="SET NULL")
    )
    reviewed_at: Mapped[datetime | None]
    entry_id: Mapped[str | None] = mapped_column(String(80))
