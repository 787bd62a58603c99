"""Learning from experts: an expert saves their answer as an FAQ draft, an administrator
reviews it (/drafts), edits it if needed and approves it, and the knowledge base answers
it from then on, without a restart.

Every button is checked again by the service (the case's handler saves, an administrator
of the draft's school reviews), since callback data can be forged. Drafts hold parents'
and experts' words: they are sent as plain text, never as HTML.
"""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.filters import HasRole
from bot.handlers.admin import refuse_admin_command, show_in_place
from bot.texts import admin_only_button, categories_text, languages_text
from campus.models import FaqDraft, Person, Role, as_utc
from campus.services.cases import admins_of
from campus.services.faq_drafts import (
    MAX_QUESTIONS,
    MAX_TEXT,
    DraftError,
    approve_draft,
    create_draft_from_case,
    draft_questions,
    edit_draft,
    pending_draft,
    pending_drafts,
    reject_draft,
)
from campus.settings import Settings
from knowledge_base.engine import FaqEngine
from knowledge_base.entries import ContentError
from knowledge_base.learned import remove_learned_entry

log = logging.getLogger(__name__)

#: Drafts /drafts shows at once (one message each).
SHOWN_DRAFTS = 10
#: Characters of a draft's first question shown in the review message (the others get a
#: quarter each); the answer gets what is left of a message (Telegram allows 4096
#: characters; some room is kept for a heading).
SHOWN_QUESTION = 400
MESSAGE_LENGTH = 4000
APPROVE = "approve"
EDIT_QUESTION = "question"
EDIT_ANSWER = "answer"
REJECT = "reject"


class SaveAsFaq(CallbackData, prefix="savefaq"):
    """The expert's "Save as FAQ" button under the confirmation that their answer was sent."""

    case: int


class DraftReview(CallbackData, prefix="fdraft"):
    """An administrator's button under a draft: ``act`` is approve, question, answer or
    reject."""

    act: str
    draft: int


class EditDraft(StatesGroup):
    """An administrator typing a draft's new question(s) or answer."""

    question = State()
    answer = State()


def save_as_faq_keyboard(case_id: int) -> InlineKeyboardMarkup:
    """The button an expert's "answer sent" confirmation carries."""
    builder = InlineKeyboardBuilder()
    builder.button(text=_("💾 Save as FAQ"), callback_data=SaveAsFaq(case=case_id))
    return builder.as_markup()


def review_keyboard(draft_id: int) -> InlineKeyboardMarkup:
    """Approve / Edit question / Edit answer / Reject under a draft."""
    builder = InlineKeyboardBuilder()
    for act, label in (
        (APPROVE, _("Approve")),
        (EDIT_QUESTION, _("Edit question")),
        (EDIT_ANSWER, _("Edit answer")),
        (REJECT, _("Reject")),
    ):
        builder.button(text=label, callback_data=DraftReview(act=act, draft=draft_id))
    builder.adjust(1, 2, 1)
    return builder.as_markup()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def draft_text(draft: FaqDraft) -> str:
    """A draft as an administrator reviews it (plain text, within Telegram's 4096
    characters: long questions and answers are shown clipped, and kept whole)."""
    questions = draft_questions(draft)
    due = as_utc(draft.review_due).date().isoformat() if draft.review_due else "-"
    lines = [
        _("FAQ draft #{number}: {category}, {language}").format(
            number=draft.id,
            category=categories_text([draft.category]),
            language=languages_text([draft.language]),
        ),
        _("From {expert}, case #{case}; review due {date}").format(
            expert=draft.expert_pseudonym, case=draft.case_id or "-", date=due
        ),
        "",
        _("Question: {question}").format(
            question=_clip(questions[0], SHOWN_QUESTION) if questions else ""
        ),
    ]
    if len(questions) > 1:
        lines.append(_("Other ways of asking:"))
        lines += [f"• {_clip(question, SHOWN_QUESTION // 4)}" for question in questions[1:]]
    lines += ["", _("Answer:")]
    head = "\n".join(lines)
    return head + "\n" + _clip(draft.answer, MESSAGE_LENGTH - len(head) - 1)


def _save_problem(code: str) -> str:
    problems = {
        "not_handler": _("Only the expert who answered this case can save it as an FAQ."),
        "not_answered": _("Send your answer first; then you can save it as an FAQ."),
        "already_pending": _("This answer is already waiting for an administrator's review."),
        "already_learned": _("This answer is already in the knowledge base."),
    }
    return problems.get(code, _("This case cannot be saved as an FAQ."))


def _review_problem(code: str) -> str:
    problems = {
        "not_admin": admin_only_button(),
        "unknown_draft": _("That draft no longer exists."),
        "not_pending": _("This draft has already been reviewed."),
        "empty": _("The text is empty. Please send it again."),
        "too_long": _(
            "That is too long: at most {questions} questions and {characters} characters. "
            "Please send it again."
        ).format(questions=MAX_QUESTIONS, characters=MAX_TEXT),
    }
    return problems.get(code, _("That did not work. Please check and try again."))


# --- the expert ----------------------------------------------------------------------------


async def on_save_as_faq(
    query: CallbackQuery,
    callback_data: SaveAsFaq,
    session: AsyncSession,
    person: Person | None,
    bot: Bot,
    i18n: I18n,
) -> None:
    if person is None:
        await query.answer()
        return
    try:
        draft = await create_draft_from_case(session, callback_data.case, person)
    except DraftError as problem:
        await query.answer(_save_problem(problem.code), show_alert=True)
        return
    await session.commit()
    await query.answer()
    await bot.send_message(query.from_user.id, _("Draft saved; an administrator will review it."))
    for admin in await admins_of(session, draft.school_id):
        if admin.telegram_user_id is None:
            continue
        with i18n.use_locale(admin.language):
            text = "\n\n".join([_("New FAQ draft to review:"), draft_text(draft)])
            markup = review_keyboard(draft.id)
        try:
            await bot.send_message(admin.telegram_user_id, text, reply_markup=markup)
        except TelegramAPIError as problem:  # /drafts still lists it
            log.warning("FAQ draft %s not sent to person %s: %s", draft.id, admin.id, problem)


# --- the administrator ---------------------------------------------------------------------


async def show_drafts(message: Message, session: AsyncSession, person: Person) -> None:
    drafts = await pending_drafts(session, person)
    if not drafts:
        await message.answer(_("No FAQ drafts are waiting for review."))
        return
    for draft in drafts[:SHOWN_DRAFTS]:
        await message.answer(draft_text(draft), reply_markup=review_keyboard(draft.id))
    if len(drafts) > SHOWN_DRAFTS:
        await message.answer(
            _(
                "{count} more drafts are waiting; /drafts shows them once these are reviewed."
            ).format(count=len(drafts) - SHOWN_DRAFTS)
        )


async def on_review_button(
    query: CallbackQuery,
    callback_data: DraftReview,
    session: AsyncSession,
    person: Person | None,
    state: FSMContext,
    faq: FaqEngine,
    settings: Settings,
) -> None:
    if person is None:
        await query.answer()
        return
    act, draft_id = callback_data.act, callback_data.draft
    if act == APPROVE:
        await _approve(query, session, person, draft_id, faq, settings)
    elif act == REJECT:
        try:
            await reject_draft(session, draft_id, person)
        except DraftError as problem:
            await query.answer(_review_problem(problem.code), show_alert=True)
            return
        await session.commit()
        await query.answer()
        await show_in_place(query, _("Draft rejected; nothing was added to the knowledge base."))
    elif act in (EDIT_QUESTION, EDIT_ANSWER):
        await _start_editing(query, session, person, draft_id, act, state)
    else:
        await query.answer(_("This button is no longer active."), show_alert=True)


async def _approve(
    query: CallbackQuery,
    session: AsyncSession,
    person: Person,
    draft_id: int,
    faq: FaqEngine,
    settings: Settings,
) -> None:
    learned_dir = settings.kb_learned_dir
    try:
        entry_id = await approve_draft(session, draft_id, person, learned_dir=learned_dir)
    except DraftError as problem:
        await query.answer(_review_problem(problem.code), show_alert=True)
        return
    try:
        await session.commit()
    except BaseException:
        remove_learned_entry(learned_dir, entry_id)  # not recorded: not learned either
        raise
    await query.answer(_("Approved. Adding it to the knowledge base…"))
    try:
        # the new entry's texts are embedded; the index is swapped in one step
        await asyncio.to_thread(faq.reload, None, learned_dir)
    except ContentError as problem:
        await show_in_place(
            query,
            _(
                "Added as {entry}, but the knowledge base was not reloaded: the content has "
                "errors. Run `safecampus kb validate` on the server.\n{problems}"
            ).format(entry=entry_id, problems="\n".join(problem.problems[:5])),
        )
        return
    entry = faq.entry(entry_id)
    missing = list(entry.missing_languages) if entry else []
    if missing:
        text = _("Added as {entry}; the other language ({language}) is missing until translated.")
        await show_in_place(query, text.format(entry=entry_id, language=languages_text(missing)))
    else:
        await show_in_place(query, _("Added as {entry}.").format(entry=entry_id))


async def _start_editing(
    query: CallbackQuery,
    session: AsyncSession,
    person: Person,
    draft_id: int,
    act: str,
    state: FSMContext,
) -> None:
    try:
        await pending_draft(session, draft_id, person)
    except DraftError as problem:
        await query.answer(_review_problem(problem.code), show_alert=True)
        return
    await query.answer()
    await state.set_state(EditDraft.question if act == EDIT_QUESTION else EditDraft.answer)
    await state.update_data(draft=draft_id)
    if not isinstance(query.message, Message):
        return
    if act == EDIT_QUESTION:
        prompt = _(
            "Send the question as a parent would ask it. To add other ways of asking it, put "
            "each on its own line. /cancel keeps the draft as it is."
        )
    else:
        prompt = _("Send the new answer. /cancel keeps the draft as it is.")
    await query.message.answer(prompt)


async def on_new_question(
    message: Message, session: AsyncSession, person: Person, state: FSMContext
) -> None:
    lines = [line for line in (message.text or "").splitlines() if line.strip()]
    await _save_edit(
        message,
        session,
        person,
        state,
        question=lines[0] if lines else "",
        extra_questions=lines[1:],
    )


async def on_new_answer(
    message: Message, session: AsyncSession, person: Person, state: FSMContext
) -> None:
    await _save_edit(message, session, person, state, answer=message.text or "")


async def _save_edit(
    message: Message,
    session: AsyncSession,
    person: Person,
    state: FSMContext,
    *,
    question: str | None = None,
    extra_questions: list[str] | None = None,
    answer: str | None = None,
) -> None:
    draft_id = int((await state.get_data()).get("draft", 0))
    try:
        draft = await edit_draft(
            session,
            draft_id,
            person,
            question=question,
            extra_questions=extra_questions,
            answer=answer,
        )
    except DraftError as problem:
        if problem.code not in ("empty", "too_long"):
            await state.clear()  # nothing left to edit
        await message.answer(_review_problem(problem.code))
        return
    await session.commit()
    await state.clear()
    await message.answer(draft_text(draft), reply_markup=review_keyboard(draft.id))


async def on_not_text(message: Message) -> None:
    await message.answer(_("Please send the text as a message, or /cancel."))


async def on_cancel(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(_("Editing cancelled; the draft is unchanged."))


def build_router() -> Router:
    """The learning-from-experts router; a new one for every Dispatcher."""
    router = Router(name="faq_drafts")
    router.message.filter(F.chat.type == "private")
    router.callback_query.register(on_save_as_faq, SaveAsFaq.filter())
    router.callback_query.register(on_review_button, DraftReview.filter())
    router.message.register(show_drafts, Command("drafts"), HasRole(Role.ADMIN))
    router.message.register(refuse_admin_command, Command("drafts"))
    editing = StateFilter(EditDraft)
    router.message.register(on_cancel, Command("cancel"), editing)
    not_a_command = ~F.text.startswith("/")
    router.message.register(on_new_question, EditDraft.question, F.text, not_a_command)
    router.message.register(on_new_answer, EditDraft.answer, F.text, not_a_command)
    router.message.register(on_not_text, editing, ~F.text)
    return router
