"""Inline keyboards and the callback data they carry."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from campus.models import Role
from campus.settings import Language

LANGUAGE_NAMES = {Language.EN: "English", Language.ZH: "简体中文"}


class LanguageChoice(CallbackData, prefix="lang"):
    code: Language


class JoinAnswer(CallbackData, prefix="join"):
    code: str
    accept: bool


class FaqAction(CallbackData, prefix="faq"):
    """A button under an answer: ``act`` is one of topic, more, helpful, unhelpful, expert."""

    act: str
    question: int
    entry: str = ""


class TeacherPick(CallbackData, prefix="tpick"):
    """A teacher chosen after /assign or /unassign; ``mode`` is assign or unassign."""

    mode: str
    teacher: int


class TeacherClass(CallbackData, prefix="tclass"):
    """A class tapped in a teacher's panel; ``class_id`` 0 is the Done button."""

    mode: str
    teacher: int
    class_id: int


class StaffRemoval(CallbackData, prefix="rmstaff"):
    """/remove_staff: ``step`` is ask (a person chosen in the list), yes or no."""

    step: str
    person: int
    role: Role


class StudentRemoval(CallbackData, prefix="rmstudent"):
    """The answer to "Remove this student?"."""

    student: int
    confirm: bool


class GuardianRemoval(CallbackData, prefix="rmguardian"):
    """/remove_guardian: ``step`` is ask (a guardian chosen in the list), yes or no;
    ``link`` is the guardianship's id."""

    step: str
    link: int


def language_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for language, name in LANGUAGE_NAMES.items():
        builder.button(text=name, callback_data=LanguageChoice(code=language))
    return builder.as_markup()


def join_keyboard(code: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("Yes, this is my child"), callback_data=JoinAnswer(code=code, accept=True)
    )
    builder.button(text=_("No, cancel"), callback_data=JoinAnswer(code=code, accept=False))
    builder.adjust(1)
    return builder.as_markup()
