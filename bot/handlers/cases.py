"""Cases on the Telegram side: the buttons of offers, pages, escalations and answers,
replies that carry a case's thread between the parent and whoever handles it, and /cases.

Every press and every reply is checked by :mod:`campus.services.cases`: callback data can be
forged, and a reply only reaches a case its author belongs to.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, Filter
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.case_messages import (
    CasePress,
    CaseResolve,
    fit,
    parent_label,
    rating_keyboard,
    topic_label,
)
from bot.handlers.admin import show_in_place
from bot.handlers.faq_drafts import SaveAsFaq
from bot.notice_messages import local_time
from campus.models import Case, CaseKind, CaseStatus, Person, Role, School, utcnow
from campus.services.case_stats import (
    CRISIS_CATEGORY,
    CaseLine,
    CategoryTimes,
    handler_cases,
    response_times,
    waiting_for_admins,
)
from campus.services.cases import (
    CaseError,
    CaseTimes,
    acknowledge_page,
    case_of_message,
    claim,
    decline,
    open_cases_of,
    reply,
    resolve,
)
from campus.services.people import schools_where

log = logging.getLogger(__name__)

STAFF = frozenset({Role.EXPERT, Role.TEACHER, Role.ADMIN})
STATS_DAYS = 30
DECLINE_REASONS = {"pass": "pass", "area": "not_my_area"}


def _refusal(code: str) -> str:
    """Why a press or a reply changed nothing."""
    texts = {
        "unknown": _("This question no longer exists. Nothing was changed."),
        "resolved": _("This question is already resolved. Nothing was changed."),
        "yours": _("You are already handling this question."),
        "already_claimed": _(
            "Someone else is already handling this question. Nothing was changed."
        ),
        "not_offered": _("This question is not offered to you (any more). Nothing was changed."),
        "not_on_call": _("You are not on call for this school. Nothing was changed."),
        "not_yours": _("This button is not for you."),
    }
    return texts.get(code, _("This button does not fit this question. Nothing was changed."))


def _notify(outbox_queued: Callable[[], None] | None) -> None:
    if outbox_queued is not None:
        outbox_queued()


def _with_line(message: Message, line: str) -> str:
    return fit(f"{message.text or ''}\n\n{line}")


# --- buttons of people who handle cases --------------------------------------------------------


async def _act(session: AsyncSession, action: CasePress, person: Person, times: CaseTimes) -> str:
    """Carry out a press; returns the line added to the message."""
    if action.act in ("claim", "take"):
        await claim(session, action.case, person, times)
        if action.act == "take":
            return _("✅ You took it over. Reply to this message to answer the parent.")
        return _("✅ You claimed it. Reply to the parent's message to answer.")
    if action.act in DECLINE_REASONS:
        await decline(session, action.case, person, DECLINE_REASONS[action.act], times)
        if action.act == "area":
            return _("➡️ Passed on as not your area. Thank you.")
        return _("➡️ You passed it on. Thank you.")
    if action.act == "page":
        await acknowledge_page(session, action.case, person)
        return _(
            "✅ You are taking it: the paging has stopped. Reply to this message to talk to "
            "the parent."
        )
    raise CaseError("inactive")


async def on_case_press(
    query: CallbackQuery,
    callback_data: CasePress,
    session: AsyncSession,
    person: Person | None,
    case_times: CaseTimes,
    outbox_queued: Callable[[], None] | None = None,
) -> None:
    """Claim, Pass, Not my area, I'm taking it and Take over."""
    message = query.message
    # In a private chat only its owner sees the buttons: a press from anyone else is forged.
    if person is None or not isinstance(message, Message) or message.chat.id != query.from_user.id:
        await query.answer(_refusal("not_yours"), show_alert=True)
        return
    try:
        line = await _act(session, callback_data, person, case_times)
    except CaseError as refused:
        await query.answer(_refusal(refused.code), show_alert=True)
        return
    await session.commit()
    _notify(outbox_queued)
    await show_in_place(query, _with_line(message, line))
    await query.answer()


# --- the parent's Resolved and rating ----------------------------------------------------------


async def on_resolve(
    query: CallbackQuery,
    callback_data: CaseResolve,
    session: AsyncSession,
    person: Person | None,
    outbox_queued: Callable[[], None] | None = None,
) -> None:
    """ "✅ Resolved" under an answer, then the 1–5 rating."""
    message = query.message
    if person is None or not isinstance(message, Message) or message.chat.id != query.from_user.id:
        await query.answer(_refusal("not_yours"), show_alert=True)
        return
    rating = callback_data.rating or None
    try:
        await resolve(session, callback_data.case, person, rating=rating)
    except CaseError as refused:
        await query.answer(_refusal(refused.code), show_alert=True)
        return
    await session.commit()
    _notify(outbox_queued)
    if rating is None:
        line = _(
            "✅ Marked as resolved. How helpful was the answer? Tap 1 (not at all) to 5 (very)."
        )
        await show_in_place(query, _with_line(message, line), rating_keyboard(callback_data.case))
        await query.answer(_("Thank you!"))
    else:
        line = _("Thank you for rating the answer {rating}/5.").format(rating=rating)
        await show_in_place(query, _with_line(message, line))
        await query.answer(_("Thank you!"))


# --- replies: the case thread ------------------------------------------------------------------


class RepliesToCase(Filter):
    """Passes a private message that replies to a bot message of a case, with the case."""

    async def __call__(self, message: Message, session: AsyncSession) -> bool | dict[str, Any]:
        replied = message.reply_to_message
        if message.chat.type != "private" or replied is None:
            return False
        if replied.from_user is None or not replied.from_user.is_bot:
            return False
        case = await case_of_message(session, message.chat.id, replied.message_id)
        return {"case": case} if case is not None else False


def _reply_refusal(code: str, case: Case, person: Person) -> str:
    if code == "resolved":
        return _(
            "This question is closed, so nothing was sent. To ask something new, send it as "
            "a new message rather than a reply."
        )
    if code == "not_handler" and case.offered_to_id == person.id:
        return _("Please tap Claim on the question first, then reply. Nothing was sent.")
    if code == "not_handler" and case.kind == CaseKind.CRISIS and case.acknowledged_at is None:
        return _("Please tap I'm taking it first, then reply. Nothing was sent.")
    return _("You are not handling this question, so nothing was sent.")


def _sent_keyboard(case: Case) -> InlineKeyboardMarkup | None:
    if case.kind != CaseKind.EXPERT:
        return None
    builder = InlineKeyboardBuilder()
    builder.button(text=_("💾 Save as FAQ"), callback_data=SaveAsFaq(case=case.id))
    return builder.as_markup()


async def on_case_reply(
    message: Message,
    case: Case,
    session: AsyncSession,
    person: Person | None,
    case_times: CaseTimes,
    outbox_queued: Callable[[], None] | None = None,
) -> None:
    """A reply to a case's message: the parent's follow-up, or the handler's answer."""
    if person is None:
        return
    if not message.text:
        await message.answer(_("Only text can be passed on. Please write your message as text."))
        return
    from_parent = person.id == case.parent_id
    try:
        await reply(session, case.id, person, message.text, case_times)
    except CaseError as refused:
        if refused.code != "empty":
            await message.answer(_reply_refusal(refused.code, case, person))
        return
    await session.commit()
    _notify(outbox_queued)
    if from_parent:
        await message.answer(_("✉️ Sent. The answer will come here."))
        return
    await message.answer(
        _("✅ Sent to {who}.").format(who=parent_label(case.pseudonym, case.grade)),
        reply_markup=_sent_keyboard(case),
    )


# --- /cases -------------------------------------------------------------------------------------


def duration_text(duration: timedelta | None) -> str:
    """A duration for people: "25 min", "3 h 5 min", "2 d 4 h"."""
    if duration is None:
        return "—"
    minutes = max(0, round(duration.total_seconds() / 60))
    if minutes < 60:
        return _("{minutes} min").format(minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return _("{hours} h {minutes} min").format(hours=hours, minutes=minutes)
    days, hours = divmod(hours, 24)
    return _("{days} d {hours} h").format(days=days, hours=hours)


def _case_line(line: CaseLine, due: str, now: datetime) -> str:
    who = parent_label(line.pseudonym, line.grade)
    text = f"• {who} ({topic_label(line.kind, line.category)})"
    if line.due_at is not None:
        text += ": " + due.format(time=local_time(line.due_at, line.timezone))
        if line.overdue(now):
            text += " " + _("⏰ overdue")
    return text


def _handler_section(offers: list[CaseLine], handling: list[CaseLine], now: datetime) -> str:
    if not offers and not handling:
        return _("Nothing is waiting for you.")
    lines: list[str] = []
    if offers:
        lines.append(_("Offered to you (claim or pass on the question's message):"))
        lines += [_case_line(line, _("claim by {time}"), now) for line in offers]
    if handling:
        if lines:
            lines.append("")
        lines.append(_("You are handling (reply to the parent's message to answer):"))
        for line in handling:
            text = _case_line(line, _("answer by {time}"), now)
            if line.due_at is None:
                text += ": " + _("answered, waiting for the parent")
            lines.append(text)
    return "\n".join(lines)


def _category_name(category: str) -> str:
    if category == CRISIS_CATEGORY:
        return _("crisis")
    return topic_label(CaseKind.EXPERT, category)


def _times_line(times: CategoryTimes) -> str:
    return _(
        "• {category}: {cases} cases; median {claim} to claim, {answer} to the first "
        "answer; {unanswered} unanswered"
    ).format(
        category=_category_name(times.category),
        cases=times.cases,
        claim=duration_text(times.median_to_claim),
        answer=duration_text(times.median_to_first_answer),
        unanswered=times.unanswered,
    )


async def _admin_section(session: AsyncSession, school_ids: list[int], now: datetime) -> str:
    lines = [_("Waiting for the administrators (tap Take over on its message):")]
    waiting = await waiting_for_admins(session, school_ids)
    lines += [_case_line(line, _("since {time}"), now) for line in waiting] or [_("none")]
    for school_id in school_ids:
        school = await session.get(School, school_id)
        lines += [
            "",
            _("Response times at {school}, last {days} days:").format(
                school=school.name if school else school_id, days=STATS_DAYS
            ),
        ]
        figures = await response_times(session, school_id, days=STATS_DAYS, now=now)
        lines += [_times_line(times) for times in figures] or [_("no questions yet")]
    return "\n".join(lines)


def _parent_status(case: Case) -> str:
    if case.status == CaseStatus.ANSWERED:
        return _("answered: reply to the answer to ask more, or tap Resolved")
    if case.handler_id is not None:
        return _("someone is answering it")
    return _("waiting for someone to take it")


async def _parent_section(session: AsyncSession, person: Person) -> str:
    cases = await open_cases_of(session, person)
    if not cases:
        return ""
    lines = [_("Your questions to the school's people:")]
    for case in cases:
        school = await session.get(School, case.school_id)
        asked = local_time(case.created_at, school.timezone if school else "UTC")
        lines.append(
            _("• asked {time} ({topic}): {status}").format(
                time=asked, topic=topic_label(case.kind, case.category), status=_parent_status(case)
            )
        )
    return "\n".join(lines)


async def show_cases(
    message: Message, session: AsyncSession, person: Person | None, roles: frozenset[Role]
) -> None:
    """/cases: open offers and cases for experts and teachers; for administrators also
    the escalations and the response times; for parents their open questions."""
    if person is None:
        return
    now = utcnow()
    sections: list[str] = []
    if roles & STAFF:
        mine = await handler_cases(session, person.id)
        sections.append(
            _("📂 Your cases") + "\n\n" + _handler_section(mine.offers, mine.handling, now)
        )
    if Role.ADMIN in roles:
        sections.append(await _admin_section(session, schools_where(person, Role.ADMIN), now))
    parent = await _parent_section(session, person)
    if parent:
        sections.append(parent)
    if not sections:
        sections.append(
            _(
                "You have no open questions with the school's experts or teachers. Ask a "
                'question in your own words and tap "Ask an expert" under the answer.'
            )
        )
    await message.answer(fit("\n\n".join(sections)))


def build_router() -> Router:
    """The cases router; before the questions router, so a reply in a case thread never
    reaches the knowledge base."""
    router = Router(name="cases")
    router.callback_query.register(on_case_press, CasePress.filter())
    router.callback_query.register(on_resolve, CaseResolve.filter())
    router.message.register(show_cases, Command("cases"), F.chat.type == "private")
    router.message.register(on_case_reply, RepliesToCase())
    return router
