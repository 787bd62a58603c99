"""Questions in a person's own words, answered from the knowledge base; "Ask an expert"
hands a question to a person (an expert, or the class teacher for school matters), and a
crisis message gets the emergency reply at once and pages whoever is on call."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.case_messages import CaseChild
from bot.faq_replies import (
    already_asked_text,
    answer_keyboard,
    answer_message,
    case_opened_text,
    child_keyboard,
    expert_keyboard,
    expert_requested_text,
    greeting_text,
    not_sure_text,
    suggestions_text,
    topics_keyboard,
    which_child_text,
)
from bot.keyboards import FaqAction
from bot.small_talk import small_talk
from campus.models import CaseKind, FaqQuestion, Person, Student
from campus.services.cases import (
    SCHOOL_CATEGORY,
    CaseError,
    CaseTimes,
    category_of_entry,
    open_case,
)
from campus.services.questions import (
    MAX_QUESTION_LENGTH,
    QuestionError,
    give_feedback,
    own_question,
    record_question,
    request_expert,
)
from campus.services.schools import children_of
from knowledge_base.crisis_reply import crisis_reply
from knowledge_base.engine import Decision, FaqEngine
from knowledge_base.entries import Lang
from knowledge_base.language import detect_language, normalize_lang
from knowledge_base.nlu_backend import Nlu
from knowledge_base.school_questions import is_school_question

log = logging.getLogger(__name__)

#: The expert category of a question whose closest topic names none.
DEFAULT_CATEGORY = "family"
#: The experts who are paged for a crisis.
CRISIS_CATEGORY = "psych"


async def answer_question(
    message: Message,
    session: AsyncSession,
    person: Person,
    faq: FaqEngine,
    nlu: Nlu,
    i18n: I18n,
    case_times: CaseTimes | None = None,
    outbox_queued: Callable[[], None] | None = None,
) -> None:
    text = (message.text or "").strip()[:MAX_QUESTION_LENGTH]
    chatter = small_talk(text)
    if chatter is not None:
        with i18n.use_locale(detect_language(text, default=_person_lang(person))):
            await message.answer(greeting_text() if chatter == "greeting" else _("You're welcome!"))
        return
    decision = await nlu.ask(text)
    question = await record_question(
        session,
        person,
        text,
        language=decision.language,
        decision=decision.decision,
        entry_id=decision.entry_id,
        confidence=decision.confidence,
    )
    # Recorded before the reply, so the question (and a crisis flag) is never lost to a
    # failure afterwards; a commit takes milliseconds, paging comes after the reply.
    await session.commit()
    with i18n.use_locale(decision.language):
        await _reply(message, faq, decision, question.id)
    # The emergency reply is out; now page whoever is on call.
    if decision.decision == "crisis" and decision.crisis_kind is not None:
        await _open_crisis_case(session, person, question, case_times or CaseTimes({}, {}))
        await session.commit()
        if outbox_queued is not None:
            outbox_queued()


def _person_lang(person: Person) -> Lang:
    return normalize_lang(person.language) or "en"


async def _reply(message: Message, faq: FaqEngine, decision: Decision, question_id: int) -> None:
    lang = decision.language
    entry = faq.entry(decision.entry_id)
    if decision.decision == "crisis":
        # Detected signs get the emergency reply; a general question about self-harm gets
        # the urgent entry, which says the same with its sources.
        if decision.crisis_kind is None and entry is not None:
            await message.answer(**answer_message(entry, lang))
        else:
            await message.answer(crisis_reply(decision.crisis_kind or "self_harm", lang))
        return
    if decision.decision == "answer" and entry is not None:
        await message.answer(
            **answer_message(entry, lang), reply_markup=answer_keyboard(question_id, entry.id)
        )
        return
    suggestions = [e for e in (faq.entry(i) for i in decision.top3) if e is not None]
    if decision.decision == "suggest" and suggestions:
        await message.answer(
            suggestions_text(), reply_markup=topics_keyboard(question_id, suggestions, lang)
        )
        return
    await message.answer(
        not_sure_text(), reply_markup=expert_keyboard(question_id, bool(suggestions))
    )


async def _open_crisis_case(
    session: AsyncSession, person: Person, question: FaqQuestion, times: CaseTimes
) -> None:
    children = await children_of(session, person)
    school_id = children[0].school_id if children else question.school_id
    if school_id is None:  # not in any school: nobody to page
        return
    try:
        await open_case(
            session,
            person,
            school_id,
            question.text,
            kind=CaseKind.CRISIS,
            category=CRISIS_CATEGORY,
            language=question.language,
            times=times,
            student_id=children[0].id if len(children) == 1 else None,
            question_id=question.id,
        )
    except CaseError as error:
        log.warning("no crisis case for question %s: %s", question.id, error.code)


async def _ask_a_person(
    message: Message,
    session: AsyncSession,
    person: Person,
    question: FaqQuestion,
    times: CaseTimes,
    outbox_queued: Callable[[], None] | None,
    child: Student | None,
) -> None:
    """Hand the question to the class teacher (school matters) or an expert."""
    school_id = child.school_id if child is not None else question.school_id
    if not await request_expert(session, question.id, person):
        await message.answer(already_asked_text())
        return
    if school_id is None:  # not in a school yet: the request is only recorded
        await session.commit()
        await message.answer(expert_requested_text())
        return
    if is_school_question(question.text):
        kind, category = CaseKind.SCHOOL, SCHOOL_CATEGORY
    else:
        kind, category = CaseKind.EXPERT, category_of_entry(question.entry_id)
        if category == SCHOOL_CATEGORY:
            category = DEFAULT_CATEGORY
    await open_case(
        session,
        person,
        school_id,
        question.text,
        kind=kind,
        category=category,
        language=question.language,
        times=times,
        student_id=child.id if child is not None else None,
        question_id=question.id,
    )
    await session.commit()
    if outbox_queued is not None:
        outbox_queued()
    wait = times.claim_window(category) + times.answer_window(category)
    await message.answer(case_opened_text(kind, category, wait))


async def _ask_expert_pressed(
    message: Message,
    session: AsyncSession,
    person: Person,
    question: FaqQuestion,
    times: CaseTimes,
    outbox_queued: Callable[[], None] | None,
) -> None:
    if question.expert_requested_at is not None:
        return  # asked before: pressing again sends nothing new
    children = await children_of(session, person)
    if len(children) > 1:
        pairs = [(child.id, child.full_name) for child in children]
        await message.answer(which_child_text(), reply_markup=child_keyboard(question.id, pairs))
        return
    child = children[0] if children else None
    await _ask_a_person(message, session, person, question, times, outbox_queued, child)


async def on_child_pick(
    query: CallbackQuery,
    callback_data: CaseChild,
    session: AsyncSession,
    person: Person | None,
    i18n: I18n,
    case_times: CaseTimes | None = None,
    outbox_queued: Callable[[], None] | None = None,
) -> None:
    """The child a question to a person is about, for a parent of several."""
    message = query.message
    if person is None or not isinstance(message, Message):
        await query.answer()
        return
    try:
        question = await own_question(session, callback_data.question, person)
    except QuestionError:
        await query.answer(_("This button is not for you."), show_alert=True)
        return
    child = next(
        (c for c in await children_of(session, person) if c.id == callback_data.student), None
    )
    if child is None:
        await query.answer(_("This button is not for you."), show_alert=True)
        return
    await query.answer()
    await message.edit_reply_markup(reply_markup=None)
    lang = normalize_lang(question.language) or _person_lang(person)
    times = case_times or CaseTimes({}, {})
    with i18n.use_locale(lang):
        await _ask_a_person(message, session, person, question, times, outbox_queued, child)


async def on_answer_button(
    query: CallbackQuery,
    callback_data: FaqAction,
    session: AsyncSession,
    person: Person | None,
    faq: FaqEngine,
    i18n: I18n,
    case_times: CaseTimes | None = None,
    outbox_queued: Callable[[], None] | None = None,
) -> None:
    if person is None or not isinstance(query.message, Message):
        await query.answer()
        return
    try:
        question = await own_question(session, callback_data.question, person)
    except QuestionError:
        await query.answer(_("This button is not for you."), show_alert=True)
        return
    lang = normalize_lang(question.language) or _person_lang(person)
    times = case_times or CaseTimes({}, {})
    with i18n.use_locale(lang):
        if callback_data.act == "expert":
            await query.answer()
            await _ask_expert_pressed(
                query.message, session, person, question, times, outbox_queued
            )
            return
        await _act(query, query.message, callback_data, session, person, faq, question.text, lang)


async def _act(
    query: CallbackQuery,
    message: Message,
    action: FaqAction,
    session: AsyncSession,
    person: Person,
    faq: FaqEngine,
    question_text: str,
    lang: Lang,
) -> None:
    if action.act in ("helpful", "unhelpful"):
        await give_feedback(session, action.question, person, helpful=action.act == "helpful")
        await session.commit()
        await query.answer(_("Thank you for the feedback."))
    elif action.act == "topic" and (entry := faq.entry(action.entry)) is not None:
        await query.answer()
        await message.answer(
            **answer_message(entry, lang), reply_markup=answer_keyboard(action.question, entry.id)
        )
    elif action.act == "more":
        decision = await asyncio.to_thread(faq.ask, question_text, lang)
        related = [
            entry
            for entry in (faq.entry(i) for i in decision.top3)
            if entry is not None and entry.id != action.entry
        ]
        await query.answer()
        await message.answer(
            suggestions_text(), reply_markup=topics_keyboard(action.question, related, lang)
        )
    else:
        await query.answer(_("This button is no longer active."), show_alert=True)


def build_router() -> Router:
    """The questions router: free text in a private chat is a question."""
    router = Router(name="questions")
    router.message.register(
        answer_question, F.chat.type == "private", F.text, ~F.text.startswith("/")
    )
    router.callback_query.register(on_answer_button, FaqAction.filter())
    router.callback_query.register(on_child_pick, CaseChild.filter())
    return router
