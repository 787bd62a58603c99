"""How the messages of a case read on a phone, in the recipient's language, and the buttons
they carry. Every message says who speaks: a parent reads "An expert in law replies", an
expert reads "Parent A7F3, grade 4 (law) asks". Experts and teachers get only the case's
pseudonym, the child's grade and the parent's words as redacted by the service."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.texts import category_label
from campus.models import CaseKind
from campus.services.cases import SCHOOL_CATEGORY, CaseOutgoing

#: Telegram refuses longer messages.
MAX_MESSAGE = 4096
RATINGS = (1, 2, 3, 4, 5)
CATEGORY_EMOJI = {"law": "👩‍⚖️", "psych": "🧠", "family": "👪", "safety": "🦺"}


class CasePress(CallbackData, prefix="case"):
    """A button for whoever handles a case: ``act`` is claim, pass, area (not my area),
    page (I'm taking it) or take (an administrator takes over)."""

    act: str
    case: int


class CaseResolve(CallbackData, prefix="caseok"):
    """The parent's "Resolved" (``rating`` 0) and then the 1–5 rating."""

    case: int
    rating: int = 0


class CaseChild(CallbackData, prefix="casekid"):
    """Which child a question to a person is about, for a parent of several."""

    question: int
    student: int


# --- who is who --------------------------------------------------------------------------------


def parent_label(pseudonym: str, grade: int | None) -> str:
    """How experts and teachers know a parent: "Parent A7F3, grade 4"."""
    if grade is None:
        return _("Parent {pseudonym}").format(pseudonym=pseudonym)
    return _("Parent {pseudonym}, grade {grade}").format(pseudonym=pseudonym, grade=grade)


def topic_label(kind: CaseKind, category: str) -> str:
    """What a case is about, for people: "law", "school matters", "crisis"."""
    if kind == CaseKind.CRISIS:
        return _("crisis")
    if kind == CaseKind.SCHOOL or category == SCHOOL_CATEGORY:
        return _("school matters")
    return category_label(category)


def _speaker(out: CaseOutgoing) -> str:
    """Who answers, as the parent sees it."""
    if out.kind == CaseKind.SCHOOL:
        return _("🏫 Your child's teacher replies:")
    if out.kind == CaseKind.CRISIS:
        return _("🆘 The school's on-call responder replies:")
    emoji = CATEGORY_EMOJI.get(out.category, "🧑‍💼")
    return _("{emoji} An expert in {topic} replies:").format(
        emoji=emoji, topic=category_label(out.category)
    )


def _taken(out: CaseOutgoing) -> str:
    if out.kind == CaseKind.SCHOOL:
        return _("🏫 Your child's teacher has seen your question and will answer here.")
    if out.kind == CaseKind.CRISIS:
        return _("🆘 Someone from the school is taking care of your message and will write here.")
    emoji = CATEGORY_EMOJI.get(out.category, "🧑‍💼")
    return _("{emoji} An expert in {topic} has taken your question and will answer here.").format(
        emoji=emoji, topic=category_label(out.category)
    )


# --- texts per event ---------------------------------------------------------------------------


def _offer(out: CaseOutgoing) -> str:
    who = parent_label(out.pseudonym, out.grade)
    if out.kind == CaseKind.SCHOOL:
        head = _("❓ {who}, a parent in your class, asks the school:").format(who=who)
        tail = _("Tap Claim to answer it, or Pass if a colleague should.")
    else:
        head = _("❓ {who} ({topic}) asks:").format(
            who=who, topic=topic_label(out.kind, out.category)
        )
        tail = _(
            "Tap Claim to answer it. Pass if you cannot take it now, or Not my area if "
            "another kind of expert should answer: it then goes to the next expert."
        )
    return f"{head}\n\n{out.text}\n\n{tail}"


def _follow_up(out: CaseOutgoing) -> str:
    who = parent_label(out.pseudonym, out.grade)
    head = _("↩️ {who} ({topic}) adds:").format(who=who, topic=topic_label(out.kind, out.category))
    return f"{head}\n\n{out.text}\n\n" + _("Reply to this message to answer.")


def _escalated(out: CaseOutgoing) -> str:
    who = parent_label(out.pseudonym, out.grade)
    topic = topic_label(out.kind, out.category)
    if out.reason == "no_answer":
        head = _("⚠️ A question ({topic}) from {who} was claimed but not answered in time:")
    else:
        head = _("⚠️ Nobody could take this question ({topic}) from {who}:")
    tail = _("Tap Take over to answer it yourself, then reply to this message.")
    return f"{head.format(topic=topic, who=who)}\n\n{out.text}\n\n{tail}"


def _page(out: CaseOutgoing) -> str:
    who = parent_label(out.pseudonym, out.grade)
    head = _("🚨 CRISIS, page {number}: {who} wrote:").format(number=out.page_number, who=who)
    tail = _(
        "The parent was given the emergency numbers at once. Tap I'm taking it to stop the "
        "paging, then reply to this message to talk to the parent."
    )
    return f"{head}\n\n{out.text}\n\n{tail}"


def _answer(out: CaseOutgoing) -> str:
    return f"{_speaker(out)}\n\n{out.text}\n\n" + _(
        "Reply to this message to ask a follow-up. Tap Resolved when your question is answered."
    )


def _claimed(out: CaseOutgoing) -> str:
    return _taken(out) + "\n" + _("You can add details by replying to this message.")


def _resolved(out: CaseOutgoing) -> str:
    return _("✅ {who} marked the question as resolved. Thank you!").format(
        who=parent_label(out.pseudonym, out.grade)
    )


# --- buttons -----------------------------------------------------------------------------------


def offer_keyboard(case_id: int, kind: CaseKind) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✋ Claim"), callback_data=CasePress(act="claim", case=case_id))
    builder.button(text=_("Pass"), callback_data=CasePress(act="pass", case=case_id))
    if kind != CaseKind.SCHOOL:
        builder.button(text=_("Not my area"), callback_data=CasePress(act="area", case=case_id))
    builder.adjust(1, 2)
    return builder.as_markup()


def _one_button(text: str, data: CallbackData) -> InlineKeyboardMarkup:
    button = InlineKeyboardButton(text=text, callback_data=data.pack())
    return InlineKeyboardMarkup(inline_keyboard=[[button]])


def resolved_keyboard(case_id: int) -> InlineKeyboardMarkup:
    return _one_button(_("✅ Resolved"), CaseResolve(case=case_id))


def rating_keyboard(case_id: int) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(
            text=f"{rating}⭐",
            callback_data=CaseResolve(case=case_id, rating=rating).pack(),
        )
        for rating in RATINGS
    ]
    return InlineKeyboardMarkup(inline_keyboard=[buttons])


def _markup(out: CaseOutgoing) -> InlineKeyboardMarkup | None:
    if out.event == "offer":
        return offer_keyboard(out.case_id, out.kind)
    if out.event == "page":
        return _one_button(_("🙋 I'm taking it"), CasePress(act="page", case=out.case_id))
    if out.event == "escalated":
        return _one_button(_("Take over"), CasePress(act="take", case=out.case_id))
    if out.event == "answer" and out.to_parent:
        return resolved_keyboard(out.case_id)
    return None


_TEXTS = {
    "offer": _offer,
    "follow_up": _follow_up,
    "escalated": _escalated,
    "page": _page,
    "answer": _answer,
    "claimed": _claimed,
    "resolved": _resolved,
}


def fit(text: str) -> str:
    """Cut ``text`` to what Telegram accepts."""
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def render_case(out: CaseOutgoing, i18n: I18n) -> tuple[str, InlineKeyboardMarkup | None]:
    """The text and buttons of a case's outbox message, in the recipient's language."""
    with i18n.context(), i18n.use_locale(out.language):
        texts = _TEXTS.get(out.event)
        text = (
            texts(out)
            if texts
            else _("A message about question {pseudonym}.").format(pseudonym=out.pseudonym)
        )
        if out.uncertain:
            text += "\n\n" + _("(If you already received this message, this is the same one.)")
        return fit(text), _markup(out)
