"""Questions in a person's own words, answered from the knowledge base."""

from __future__ import annotations

import asyncio

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.faq_replies import (
    answer_keyboard,
    answer_message,
    expert_keyboard,
    expert_requested_text,
    greeting_text,
    not_sure_text,
    suggestions_text,
    topics_keyboard,
)
from bot.keyboards import FaqAction
from bot.small_talk import small_talk
from campus.models import Person
from campus.services.questions import (
    MAX_QUESTION_LENGTH,
    QuestionError,
    give_feedback,
    own_question,
    record_question,
    request_expert,
)
from knowledge_base.crisis_reply import crisis_reply
from knowledge_base.engine import Decision, FaqEngine
from knowledge_base.entries import Lang
from knowledge_base.language import detect_language, normalize_lang


async def answer_question(
    message: Message, session: AsyncSession, person: Person, faq: FaqEngine, i18n: I18n
) -> None:
    text = (message.text or "").strip()[:MAX_QUESTION_LENGTH]
    chatter = small_talk(text)
    if chatter is not None:
        with i18n.use_locale(detect_language(text, default=_person_lang(person))):
            await message.answer(greeting_text() if chatter == "greeting" else _("You're welcome!"))
        return
    decision = await asyncio.to_thread(faq.ask, text)
    question = await record_question(
        session,
        person,
        text,
        language=decision.language,
        decision=decision.decision,
        entry_id=decision.entry_id,
        confidence=decision.confidence,
    )
    with i18n.use_locale(decision.language):
        await _reply(message, faq, decision, question.id)


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


async def on_answer_button(
    query: CallbackQuery,
    callback_data: FaqAction,
    session: AsyncSession,
    person: Person | None,
    faq: FaqEngine,
    i18n: I18n,
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
    with i18n.use_locale(lang):
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
    elif action.act == "expert":
        first_time = await request_expert(session, action.question, person)
        await session.commit()
        await query.answer()
        if first_time:
            await message.answer(expert_requested_text())
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
    return router
