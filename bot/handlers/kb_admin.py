"""Knowledge-base administration: parents' feedback, and reloading the content."""

from __future__ import annotations

import asyncio

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.filters import HasRole
from campus.models import Person, Role
from campus.services.people import schools_where
from campus.services.questions import FeedbackReport, feedback_report
from knowledge_base.engine import FaqEngine
from knowledge_base.entries import ContentError

SHOWN_QUESTION_LENGTH = 120


async def show_feedback(message: Message, session: AsyncSession, person: Person) -> None:
    report = await feedback_report(session, schools_where(person, Role.ADMIN)[0])
    await message.answer(_render(report))


def _render(report: FeedbackReport) -> str:
    lines = [
        _(
            "Questions in the last 30 days: {asked}, answered directly: {answered}, "
            "sent to experts: {experts}."
        ).format(asked=report.asked, answered=report.answered, experts=report.expert_requests)
    ]
    if report.entries:
        lines.append("")
        lines.append(_("Feedback per topic (👍 / 👎):"))
        lines += [f"• {e.entry_id}: {e.helpful} / {e.unhelpful}" for e in report.entries[:15]]
    else:
        lines.append(_("No feedback yet."))
    if report.latest_unhelpful:
        lines.append("")
        lines.append(_("Latest answers marked not helpful:"))
        for question in report.latest_unhelpful:
            text = question.text[:SHOWN_QUESTION_LENGTH]
            lines.append(f"• «{text}» → {question.entry_id}")
    return "\n".join(lines)


async def reload_knowledge_base(message: Message, faq: FaqEngine) -> None:
    try:
        knowledge = await asyncio.to_thread(faq.reload)
    except ContentError as problem:
        await message.answer(
            _(
                "The knowledge base was not reloaded: the content has errors. Run "
                "`safecampus kb validate` on the server.\n{problems}"
            ).format(problems="\n".join(problem.problems[:5]))
        )
        return
    await message.answer(_("Knowledge base reloaded: {count} topics.").format(count=len(knowledge)))


def build_router() -> Router:
    """Administrators' knowledge-base commands."""
    router = Router(name="kb_admin")
    router.message.filter(F.chat.type == "private")
    router.message.register(show_feedback, Command("kb_feedback"), HasRole(Role.ADMIN))
    router.message.register(reload_knowledge_base, Command("kb_reload"), HasRole(Role.ADMIN))
    return router
