"""How knowledge-base answers look in the chat: texts and buttons, in one language."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.formatting import Bold, Italic, Text
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.case_messages import CaseChild
from bot.keyboards import FaqAction
from bot.texts import category_label
from bot.translation_notes import translation_note
from campus.models import CaseKind
from knowledge_base.entries import Entry, Lang


def answer_message(entry: Entry, lang: Lang) -> dict[str, Any]:
    """An entry's answer with its title and sources, as send/edit keyword arguments."""
    note = translation_note(entry, lang)
    return Text(
        Bold(entry.title.in_lang(lang)),
        "\n\n",
        entry.answer.in_lang(lang).strip(),
        "\n\n",
        *([Italic(note), "\n\n"] if note else []),
        Italic(_("Source: {sources}").format(sources=entry.source_line())),
    ).as_kwargs()


def answer_keyboard(question_id: int, entry_id: str) -> InlineKeyboardMarkup:
    """Feedback, related topics and a human expert under an answer."""
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("👍 Helpful"), callback_data=FaqAction(act="helpful", question=question_id)
    )
    builder.button(
        text=_("👎 Not helpful"), callback_data=FaqAction(act="unhelpful", question=question_id)
    )
    builder.button(
        text=_("Related topics"),
        callback_data=FaqAction(act="more", question=question_id, entry=entry_id),
    )
    builder.button(
        text=_("Ask an expert"), callback_data=FaqAction(act="expert", question=question_id)
    )
    builder.adjust(2, 2)
    return builder.as_markup()


def topics_keyboard(question_id: int, entries: Sequence[Entry], lang: Lang) -> InlineKeyboardMarkup:
    """One button per suggested topic, then "Ask an expert"."""
    builder = InlineKeyboardBuilder()
    for entry in entries:
        builder.button(
            text=entry.title.in_lang(lang),
            callback_data=FaqAction(act="topic", question=question_id, entry=entry.id),
        )
    builder.button(
        text=_("Ask an expert"), callback_data=FaqAction(act="expert", question=question_id)
    )
    builder.adjust(1)
    return builder.as_markup()


def expert_keyboard(question_id: int, with_topics: bool) -> InlineKeyboardMarkup:
    """The way out when the knowledge base has no confident answer."""
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("Ask an expert"), callback_data=FaqAction(act="expert", question=question_id)
    )
    if with_topics:
        builder.button(
            text=_("Show close topics"), callback_data=FaqAction(act="more", question=question_id)
        )
    builder.adjust(1)
    return builder.as_markup()


def greeting_text() -> str:
    return _(
        "Hello! Ask me anything about your child's safety, school life, health or family "
        "education, in your own words. /help shows what else I can do."
    )


def suggestions_text() -> str:
    return _("I found these topics close to your question. Tap one to read it:")


def not_sure_text() -> str:
    return _(
        "I don't have a reliable answer to that in the knowledge base. You can ask one of "
        "the school's experts.\n\nFor school matters such as timetables, fees or lost "
        "property, please contact your child's teacher."
    )


def expert_requested_text() -> str:
    return _(
        "Thank you. Your question has been recorded for the school's experts, and their "
        "answer will come here. If it is urgent, please contact your child's teacher "
        "directly."
    )


def child_keyboard(question_id: int, children: Sequence[tuple[int, str]]) -> InlineKeyboardMarkup:
    """One button per child, for a parent of several who asks a person."""
    builder = InlineKeyboardBuilder()
    for student_id, name in children:
        builder.button(
            text=name[:40] or "—", callback_data=CaseChild(question=question_id, student=student_id)
        )
    builder.adjust(1)
    return builder.as_markup()


def which_child_text() -> str:
    return _("Which child is this question about?")


def usual_wait(wait: timedelta) -> str:
    """Roughly how long an answer takes: "within an hour", "within 13 hours", "within a day"."""
    hours = wait.total_seconds() / 3600
    if hours <= 1:
        return _("within an hour")
    if hours < 20:
        return _("within {hours} hours").format(hours=math.ceil(hours))
    if hours <= 36:
        return _("within a day")
    return _("within {days} days").format(days=math.ceil(hours / 24))


def case_opened_text(kind: CaseKind, category: str, wait: timedelta) -> str:
    """What the parent is told when their question goes to a person."""
    if kind == CaseKind.SCHOOL:
        text = _(
            "Thank you. Your question has gone to your child's class teacher, who will "
            "answer here, usually {when}."
        )
    else:
        text = _(
            "Thank you. Your question has gone to one of the school's experts in {topic}, "
            "who will answer here, usually {when}. The expert does not see your name or "
            "your contact details."
        )
    return text.format(when=usual_wait(wait), topic=category_label(category))


def already_asked_text() -> str:
    return _("This question has already been passed on. The answer will come here.")
