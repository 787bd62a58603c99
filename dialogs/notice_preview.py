"""The preview both notice dialogs end with: the message one real family of the audience
will receive, sent just above the summary that asks whether to send."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.notice_messages import render_outgoing
from campus.models import NoticeKind, OutboxPurpose, School, SchoolClass
from campus.services.outbox import Outgoing, fill_recipient


@dataclass(frozen=True)
class SampleChild:
    """The child whose family's message the preview shows."""

    name: str
    class_name: str


async def sample_child(session: AsyncSession, class_ids: Sequence[int]) -> SampleChild:
    """A real child of the audience for the preview, one with a guardian if there is one."""
    fallback: SampleChild | None = None
    for class_id in sorted(class_ids):
        school_class = await session.get(SchoolClass, class_id)
        if school_class is None:
            continue
        students = await school_class.awaitable_attrs.students
        for student in sorted(students, key=lambda s: s.id):
            if student.removed_at is not None:
                continue
            child = SampleChild(student.full_name, school_class.name)
            if await student.awaitable_attrs.guardianships:
                return child
            fallback = fallback or child
    return fallback or SampleChild(_("[child's name]"), _("[class]"))


def family_message(
    i18n: I18n,
    *,
    school: School,
    child: SampleChild,
    language: str,
    purpose: OutboxPurpose,
    notice_id: int,
    kind: NoticeKind,
    version: int,
    requires_ack: bool,
    is_drill: bool,
    title: str,
    body: str,
    deadline_at: datetime | None,
    change_note: str | None = None,
) -> str:
    """What the family of ``child`` receives, ``title`` and ``body`` filled in for the child.
    A notice not yet published (``notice_id`` 0) is shown as "#…"."""
    out = Outgoing(
        outbox_id=0,
        purpose=purpose,
        chat_id=0,
        language=language,
        notice_id=notice_id,
        kind=kind,
        version=version,
        requires_ack=requires_ack,
        is_drill=is_drill,
        title=fill_recipient(title, child.name, child.class_name),
        body=fill_recipient(body, child.name, child.class_name),
        school_name=school.name,
        timezone=school.timezone,
        deadline_at=deadline_at,
        child=child.name,
        class_name=child.class_name,
        change_note=change_note,
    )
    text, _markup = render_outgoing(out, i18n)
    if out.notice_id:
        return text
    with i18n.context(), i18n.use_locale(out.language):
        unnumbered = _("Notice #{number} · {school}")
        return text.replace(
            unnumbered.format(number=0, school=out.school_name),
            unnumbered.format(number="…", school=out.school_name),
        )


def preview_intro(child: SampleChild) -> str:
    """The first line of the summary under the family's message."""
    return _(
        "👆 Preview: the message above is exactly what the family of {child} "
        "({class_name}) will receive."
    ).format(child=child.name, class_name=child.class_name)
