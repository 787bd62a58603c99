"""Composing a notice to parents (/notify) and editing a sent one (/edit_notice N).

Plain aiogram FSM. Each step is a screen: a text and inline buttons. A button press edits
the screen in place; a typed answer gets the next screen as a new message. Every button
carries the dialog's token and the screen's number, so a button of a finished dialog or of
an earlier screen changes nothing and is answered politely (callback data can also be
forged). The person's right to send is checked on every press and every typed answer, and
again by ``publish_notice`` / ``revise_notice``.
"""

from __future__ import annotations

import abc
import contextlib
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.filters import HasRole
from bot.notice_messages import ack_button_text, kind_label, local_time, render_outgoing
from campus.models import (
    Notice,
    NoticeKind,
    OutboxPurpose,
    Person,
    Role,
    School,
    SchoolClass,
    as_utc,
    utcnow,
)
from campus.notice_templates import LANGS, NoticeTemplate, load_templates, render
from campus.services.notices import (
    DEFAULT_ACK,
    DEFAULT_PLANS,
    MAX_BODY,
    MAX_TITLE,
    Audience,
    NoticeDraft,
    NoticeError,
    ReminderPlan,
    can_manage,
    preview_audience,
    publish_notice,
    revise_notice,
    sendable_classes,
)
from campus.services.outbox import Outgoing, fill_recipient, pending_families, pick_language
from campus.services.people import schools_where
from dialogs.states import ComposeNotice, EditNotice

#: A value typed into a template's field (a date, a place) is short.
MAX_FIELD = 200
MAX_CHANGE_NOTE = 300
#: Names of children without a guardian listed in the preview before "and N more".
SHOWN_NAMES = 10
CLASSES_PER_ROW = 3
GRADES_PER_ROW = 4
#: Keeps a screen that quotes a notice's text under Telegram's 4096 characters.
QUOTED_TEXT = 3600
TIME_FORMAT = "%Y-%m-%d %H:%M"

#: Deadline and reminder presets per kind; the first is the kind's default.
PLAN_PRESETS: Mapping[NoticeKind, tuple[ReminderPlan, ...]] = {
    NoticeKind.CLASS_NOTICE: (
        DEFAULT_PLANS[NoticeKind.CLASS_NOTICE],
        ReminderPlan(timedelta(hours=24), (timedelta(hours=8),)),
        ReminderPlan(timedelta(days=3), (timedelta(days=1), timedelta(days=2))),
    ),
    NoticeKind.SAFETY_ALERT: (
        DEFAULT_PLANS[NoticeKind.SAFETY_ALERT],
        ReminderPlan(timedelta(hours=48), (timedelta(days=1),)),
        ReminderPlan(timedelta(hours=12), (timedelta(hours=2), timedelta(hours=6))),
    ),
    NoticeKind.URGENT_ALERT: (
        DEFAULT_PLANS[NoticeKind.URGENT_ALERT],
        ReminderPlan(timedelta(hours=1), (timedelta(minutes=10), timedelta(minutes=30))),
        ReminderPlan(timedelta(hours=6), (timedelta(hours=1), timedelta(hours=3))),
    ),
}
#: The send-time presets: now, in an hour, tomorrow morning at school.
SEND_NOW, SEND_IN_AN_HOUR, SEND_TOMORROW_MORNING = "now", "hour", "tomorrow"
TOMORROW_MORNING = time(7, 30)

COMPOSE, EDIT = "compose", "edit"


class DialogPress(CallbackData, prefix="dlg"):
    """A button of a compose or edit dialog: the dialog's token (``d``), the number of the
    screen it was shown on (``n``), its action (``a``) and a value (``v``: a class id, a
    template id, a preset)."""

    d: str
    n: int
    a: str
    v: str = ""


@dataclass(frozen=True)
class Button:
    text: str
    action: str
    value: str = ""


@dataclass
class Screen:
    """One step as shown: a text, rows of buttons, and optionally a message sent before it
    (the parent's view of the notice in a preview)."""

    text: str
    rows: list[list[Button]] = field(default_factory=list)
    before: str | None = None


# --- texts shared by both dialogs ------------------------------------------------------


def _back() -> Button:
    return Button(_("⬅️ Back"), "back")


def _cancel() -> Button:
    return Button(_("✖️ Cancel"), "cancel")


def _cancelled() -> str:
    return _("Cancelled. Nothing was sent.")


def _dialog_ended() -> str:
    return _("This dialog has ended.")


def _too_long(length: int, limit: int) -> str:
    return _(
        "That is too long: {length} characters, at most {limit}. Please shorten it and send "
        "it again."
    ).format(length=length, limit=limit)


def _send_text_please() -> str:
    return _("Please send it as a text message.")


def _notice_problem(error: NoticeError) -> str:
    problems: dict[str, Callable[[], str]] = {
        "no_audience": lambda: _("Please pick at least one class."),
        "class_not_allowed": lambda: _("You may not send notices to one of the classes chosen."),
        "empty_text": lambda: _("The text is empty."),
        "text_too_long": lambda: _("The text is too long (at most {limit} characters).").format(
            limit=error.details.get("limit", MAX_BODY)
        ),
        "not_allowed": lambda: _("You may not change this notice."),
        "cancelled": lambda: _("This notice was withdrawn, so it cannot be changed."),
    }
    text = problems.get(error.code)
    return text() if text else _("That did not work.")


def _duration(span: timedelta, *, days_from: timedelta = timedelta(days=1)) -> str:
    """``span`` in whole days from ``days_from`` on, else in hours or minutes."""
    minutes = int(span.total_seconds() // 60)
    if span >= days_from and minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return _("1 day") if days == 1 else _("{count} days").format(count=days)
    if minutes and minutes % 60 == 0:
        return _("{count} h").format(count=minutes // 60)
    return _("{count} min").format(count=minutes)


def _and(items: Sequence[str]) -> str:
    if len(items) < 2:
        return "".join(items)
    return _("{first} and {last}").format(first=", ".join(items[:-1]), last=items[-1])


def _plan_label(plan: ReminderPlan) -> str:
    # "Deadline 48 h" reads better than "2 days" for a deadline.
    deadline = _duration(plan.deadline, days_from=timedelta(days=3))
    reminders = [_duration(r) for r in plan.reminders]
    if not reminders:
        return _("Deadline {deadline}, no reminders").format(deadline=deadline)
    if len(reminders) == 1:
        return _("Deadline {deadline}, reminder after {time}").format(
            deadline=deadline, time=reminders[0]
        )
    return _("Deadline {deadline}, reminders after {times}").format(
        deadline=deadline, times=_and(reminders)
    )


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:SHOWN_NAMES])
    if len(names) > SHOWN_NAMES:
        shown += " " + _("and {count} more").format(count=len(names) - SHOWN_NAMES)
    return shown


def _recommended(label: str) -> str:
    return _("{choice} (recommended)").format(choice=label)


def _quote(text: str) -> str:
    return text if len(text) <= QUOTED_TEXT else text[: QUOTED_TEXT - 1] + "…"


# --- telling the person ---------------------------------------------------------------


async def _edit(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """Replace the message whose button was pressed (a repeated press is not an error)."""
    if not isinstance(query.message, Message):
        return
    try:
        await query.message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as problem:
        if "message is not modified" not in str(problem):
            raise


async def _drop_buttons(bot: Bot, chat_id: int, message_id: int | None) -> None:
    """Take the buttons off an earlier screen, which has been answered by typing."""
    if message_id is None:
        return
    with contextlib.suppress(TelegramBadRequest):  # gone, or already without buttons
        await bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id)


@dataclass(frozen=True)
class _Child:
    name: str
    class_name: str


async def _sample_child(session: AsyncSession, class_ids: Sequence[int]) -> _Child:
    """A real child of the audience for the preview, one with a guardian if there is one."""
    fallback: _Child | None = None
    for class_id in sorted(class_ids):
        school_class = await session.get(SchoolClass, class_id)
        if school_class is None:
            continue
        students = await school_class.awaitable_attrs.students
        for student in sorted(students, key=lambda s: s.id):
            if student.removed_at is not None:
                continue
            child = _Child(student.full_name, school_class.name)
            if await student.awaitable_attrs.guardianships:
                return child
            fallback = fallback or child
    return fallback or _Child(_("[child's name]"), _("[class]"))


def _parent_view(out: Outgoing, i18n: I18n) -> str:
    """What the parent receives. The notice has no number yet: it is shown as "#…"."""
    text, _markup = render_outgoing(out, i18n)
    if out.notice_id:
        return text
    with i18n.context(), i18n.use_locale(out.language):
        unnumbered = _("Notice #{number} · {school}")
        return text.replace(
            unnumbered.format(number=0, school=out.school_name),
            unnumbered.format(number="…", school=out.school_name),
        )


# --- the dialog machinery ----------------------------------------------------------------


class _Dialog(abc.ABC):
    """One update's view of a dialog: its state, the person, and how steps are shown.

    A subclass names its steps (``fsm_state``), draws them (``screen``), says whether the
    person may still go on (``allowed``) and acts on presses and typed answers.
    """

    name: ClassVar[str]

    def __init__(
        self,
        state: FSMContext,
        session: AsyncSession,
        person: Person,
        i18n: I18n,
        bot: Bot,
        outbox_queued: Callable[[], None] | None = None,
    ) -> None:
        self.state = state
        self.session = session
        self.person = person
        self.i18n = i18n
        self.bot = bot
        # Wakes the delivery worker after a commit that queued messages.
        self.outbox_queued = outbox_queued

    @abc.abstractmethod
    def fsm_state(self, step: str) -> State: ...

    @abc.abstractmethod
    async def screen(self, step: str, data: dict[str, Any]) -> Screen: ...

    @abc.abstractmethod
    async def allowed(self, data: dict[str, Any]) -> bool: ...

    @abc.abstractmethod
    def refused(self) -> str: ...

    @abc.abstractmethod
    async def press(self, query: CallbackQuery, action: str, value: str) -> None: ...

    @abc.abstractmethod
    async def typed(self, message: Message, text: str) -> None: ...

    async def open(self, message: Message, step: str, **data: Any) -> None:
        """Start the dialog (replacing any other one) at ``step``."""
        await self.state.clear()
        token = secrets.token_hex(3)
        await self.state.set_data(
            {"dialog": self.name, "token": token, "screen": 0, "history": [], **data}
        )
        await self.show(message, step)

    async def show(
        self, target: Message | CallbackQuery, step: str, *, push: bool = True, note: str = ""
    ) -> None:
        """Show ``step``: in place of the pressed screen, or as a new message after a typed
        answer. ``push`` remembers the current step for Back."""
        data = await self.state.get_data()
        current = data.get("step")
        if current != step:
            if push and current:
                data["history"] = [*data["history"], current]
            data["screen"] += 1
        data["step"] = step
        await self.state.set_state(self.fsm_state(step))
        await self.state.set_data(data)
        screen = await self.screen(step, data)
        text = f"{note}\n\n{screen.text}" if note else screen.text
        markup = self.markup(screen, data)
        if isinstance(target, CallbackQuery) and screen.before is None:
            await _edit(target, text, markup)
            return
        message = target.message if isinstance(target, CallbackQuery) else target
        if not isinstance(message, Message):
            return
        answered = message.message_id if isinstance(target, CallbackQuery) else data.get("message")
        await _drop_buttons(self.bot, message.chat.id, answered)
        if screen.before:
            await message.answer(screen.before)
        sent = await message.answer(text, reply_markup=markup)
        await self.state.update_data(message=sent.message_id)

    async def refresh(self, query: CallbackQuery, note: str = "") -> None:
        """Show the current step again (after a toggle), keeping its buttons valid."""
        data = await self.state.get_data()
        await self.show(query, data["step"], push=False, note=note)

    async def back(self, query: CallbackQuery) -> None:
        data = await self.state.get_data()
        history = list(data["history"])
        if not history:
            await query.answer()
            return
        step = history.pop()
        await self.state.update_data(history=history)
        await self.show(query, step, push=False)
        await query.answer()

    async def cancel(self, query: CallbackQuery) -> None:
        await self.state.clear()
        await _edit(query, _cancelled(), None)
        await query.answer()

    def markup(self, screen: Screen, data: dict[str, Any]) -> InlineKeyboardMarkup | None:
        if not screen.rows:
            return None

        def button(b: Button) -> InlineKeyboardButton:
            press = DialogPress(d=data["token"], n=data["screen"], a=b.action, v=b.value)
            return InlineKeyboardButton(text=b.text, callback_data=press.pack())

        return InlineKeyboardMarkup(
            inline_keyboard=[[button(b) for b in row] for row in screen.rows]
        )

    @property
    def lang(self) -> str:
        return self.person.language


# --- /notify -------------------------------------------------------------------------------


def _school_of_sender(person: Person) -> int | None:
    schools = schools_where(person, Role.ADMIN) or schools_where(person, Role.TEACHER)
    return schools[0] if schools else None


def _is_admin(person: Person, school_id: int) -> bool:
    return any(g.role == Role.ADMIN and g.school_id == school_id for g in person.roles)


def _templates_for(kind: NoticeKind) -> list[NoticeTemplate]:
    templates = list(load_templates().values())
    return [t for t in templates if t.kind == kind] + [t for t in templates if t.kind != kind]


def _kind_icon(kind: NoticeKind) -> str:
    return {
        NoticeKind.CLASS_NOTICE: "📢",
        NoticeKind.SAFETY_ALERT: "⚠️",
        NoticeKind.URGENT_ALERT: "🚨",
    }[kind]


class ComposeDialog(_Dialog):
    """Audience, kind, template or own text, acknowledgement, drill, time, preview, send."""

    name = COMPOSE
    STATES: ClassVar[Mapping[str, State]] = {
        "audience": ComposeNotice.audience,
        "kind": ComposeNotice.kind,
        "template": ComposeNotice.template,
        "field": ComposeNotice.field,
        "title": ComposeNotice.own_title,
        "body": ComposeNotice.own_body,
        "ack": ComposeNotice.ack,
        "plan": ComposeNotice.plan,
        "drill": ComposeNotice.drill,
        "when": ComposeNotice.send_time,
        "preview": ComposeNotice.preview,
    }

    def fsm_state(self, step: str) -> State:
        return self.STATES[step.partition(":")[0]]

    async def allowed(self, data: dict[str, Any]) -> bool:
        school_id = data["school"]
        return any(
            g.school_id == school_id and g.role in (Role.ADMIN, Role.TEACHER)
            for g in self.person.roles
        )

    def refused(self) -> str:
        return _("You can no longer send notices at this school. Nothing was sent.")

    async def _classes(self, data: dict[str, Any]) -> list[SchoolClass]:
        return await sendable_classes(self.session, self.person, data["school"])

    async def _school(self, data: dict[str, Any]) -> School:
        school = await self.session.get(School, data["school"])
        assert school is not None
        return school

    # screens

    async def screen(self, step: str, data: dict[str, Any]) -> Screen:
        kind, _sep, index = step.partition(":")
        if kind == "audience":
            return await self._audience_screen(data)
        if kind == "field":
            return self._field_screen(data, int(index))
        if kind == "preview":
            return await self._preview_screen(data)
        screens: dict[str, Callable[[dict[str, Any]], Screen]] = {
            "kind": self._kind_screen,
            "template": self._template_screen,
            "title": self._title_screen,
            "body": self._body_screen,
            "ack": self._ack_screen,
            "plan": self._plan_screen,
            "drill": self._drill_screen,
        }
        if kind == "when":
            return self._when_screen(await self._school(data))
        return screens[kind](data)

    async def _audience_screen(self, data: dict[str, Any]) -> Screen:
        classes = await self._classes(data)
        chosen = set(data["classes"])
        rows: list[list[Button]] = []
        if _is_admin(self.person, data["school"]):
            everyone = bool(classes) and chosen >= {c.id for c in classes}
            rows.append([Button(self._ticked(_("🏫 Whole school"), everyone), "all")])
            grades = sorted({c.grade for c in classes if c.grade is not None})
            grade_buttons = []
            for grade in grades:
                ids = {c.id for c in classes if c.grade == grade}
                label = self._ticked(_("Grade {grade}").format(grade=grade), chosen >= ids)
                grade_buttons.append(Button(label, "grade", str(grade)))
            rows += [
                grade_buttons[i : i + GRADES_PER_ROW]
                for i in range(0, len(grade_buttons), GRADES_PER_ROW)
            ]
        class_buttons = [
            Button(self._ticked(c.name, c.id in chosen), "cls", str(c.id)) for c in classes
        ]
        rows += [
            class_buttons[i : i + CLASSES_PER_ROW]
            for i in range(0, len(class_buttons), CLASSES_PER_ROW)
        ]
        rows += [[Button(_("Done ➡️"), "done")], [_cancel()]]
        names = [c.name for c in classes if c.id in chosen]
        text = _("📝 New notice to parents.\n\nWho should receive it? Tap the classes, then Done.")
        selected = ", ".join(names) if names else _("none yet")
        text += "\n" + _("Selected: {classes}").format(classes=selected)
        return Screen(text, rows)

    @staticmethod
    def _ticked(label: str, ticked: bool) -> str:
        return f"✅ {label}" if ticked else label

    def _kind_screen(self, data: dict[str, Any]) -> Screen:
        text = "\n".join(
            [
                _("What kind of notice is it?"),
                "",
                _("📢 Class notice: everyday class information; acknowledgement optional."),
                _("⚠️ Safety alert: parents are asked to confirm, and reminded if they don't."),
                _("🚨 URGENT alert: sent first, reminders within the hour."),
            ]
        )
        rows = [[Button(kind_label(kind), "kind", kind.value)] for kind in NoticeKind]
        return Screen(text, [*rows, [_back(), _cancel()]])

    def _template_screen(self, data: dict[str, Any]) -> Screen:
        kind = NoticeKind(data["kind"])
        rows: list[list[Button]] = []
        for template in _templates_for(kind):
            title = pick_language(template.title, self.lang)
            if template.kind != kind:
                title = f"{_kind_icon(template.kind)} {title}"
            rows.append([Button(title, "tpl", template.id)])
        rows.append([Button(_("✍️ Write my own text"), "own")])
        rows.append([_back(), _cancel()])
        text = _(
            "Pick a template or write your own text.\n\n"
            "First the templates for this kind ({kind}), then the others, marked with their "
            "kind. Templates reach parents in English and Chinese."
        ).format(kind=kind_label(kind))
        return Screen(text, rows)

    def _field_screen(self, data: dict[str, Any], index: int) -> Screen:
        template = load_templates()[data["template"]]
        template_field = template.fields[index]
        text = "\n".join(
            [
                pick_language(template.title, self.lang),
                "",
                _("Field {number} of {count}: {label}").format(
                    number=index + 1,
                    count=len(template.fields),
                    label=pick_language(template_field.label, self.lang),
                ),
                _("For example: {example}").format(
                    example=pick_language(template_field.example, self.lang)
                ),
                "",
                _("Send it as a message."),
            ]
        )
        return Screen(text, [[_back(), _cancel()]])

    def _title_screen(self, data: dict[str, Any]) -> Screen:
        text = _("Send the title of your notice (at most {limit} characters).").format(
            limit=MAX_TITLE
        )
        return Screen(text, [[_back(), _cancel()]])

    def _body_screen(self, data: dict[str, Any]) -> Screen:
        text = (
            _("Now send the text of the notice (at most {limit} characters).").format(
                limit=MAX_BODY
            )
            + "\n\n"
            + _(
                "Write {child} and {class_name} where the child's name and class should go: "
                "each family gets the name of its own child. For example: Dear parent of "
                "{child}, ..."
            )
        )
        return Screen(text, [[_back(), _cancel()]])

    def _ack_screen(self, data: dict[str, Any]) -> Screen:
        recommended = self._default_ack(data)
        yes, no = _("✅ Yes, ask them to acknowledge"), _("No acknowledgement needed")
        rows = [
            [Button(_recommended(yes) if recommended else yes, "ack", "1")],
            [Button(no if recommended else _recommended(no), "ack", "0")],
            [_back(), _cancel()],
        ]
        text = _(
            "Should parents acknowledge that they have read it? Those who don't are reminded, "
            "and at the deadline you get the list of families to call."
        )
        return Screen(text, rows)

    def _default_ack(self, data: dict[str, Any]) -> bool:
        if data.get("template"):
            return load_templates()[data["template"]].requires_ack
        return DEFAULT_ACK[NoticeKind(data["kind"])]

    def _plan_screen(self, data: dict[str, Any]) -> Screen:
        presets = PLAN_PRESETS[NoticeKind(data["kind"])]
        rows = [
            [Button(_recommended(_plan_label(p)) if i == 0 else _plan_label(p), "plan", str(i))]
            for i, p in enumerate(presets)
        ]
        text = _(
            "By when must parents acknowledge, and when should those who have not done so be "
            "reminded? Times count from sending."
        )
        return Screen(text, [*rows, [_back(), _cancel()]])

    def _drill_screen(self, data: dict[str, Any]) -> Screen:
        rows = [
            [Button(_("No, this is real"), "drill", "0")],
            [Button(_("Yes, it is a drill"), "drill", "1")],
            [_back(), _cancel()],
        ]
        text = _(
            "Is this a drill? Parents see a drill marked [DRILL], so nobody takes it for a "
            "real emergency."
        )
        return Screen(text, rows)

    def _when_screen(self, school: School) -> Screen:
        rows = [
            [Button(_("Now"), "when", SEND_NOW)],
            [Button(_("In 1 hour"), "when", SEND_IN_AN_HOUR)],
            [Button(_("Tomorrow 07:30"), "when", SEND_TOMORROW_MORNING)],
            [_back(), _cancel()],
        ]
        text = _(
            "When should it be sent? Or type a date and time as YYYY-MM-DD HH:MM, e.g. {example}."
            "\nTimes are school time ({timezone})."
        ).format(
            example=self._tomorrow_morning(school).strftime(TIME_FORMAT),
            timezone=school.timezone,
        )
        return Screen(text, rows)

    @staticmethod
    def _tomorrow_morning(school: School) -> datetime:
        zone = ZoneInfo(school.timezone)
        today = utcnow().astimezone(zone).date()
        return datetime.combine(today + timedelta(days=1), TOMORROW_MORNING, tzinfo=zone)

    async def _preview_screen(self, data: dict[str, Any]) -> Screen:
        school = await self._school(data)
        draft = self._draft(data)
        audience: Audience = await preview_audience(
            self.session, self.person, school.id, draft.class_ids
        )
        child = await _sample_child(self.session, draft.class_ids)
        sent_at = draft.send_at or utcnow()
        deadline_at = sent_at + draft.deadline if draft.requires_ack and draft.deadline else None
        out = Outgoing(
            outbox_id=0,
            purpose=OutboxPurpose.NOTICE,
            chat_id=0,
            language=self.lang,
            notice_id=0,
            kind=draft.kind,
            version=1,
            requires_ack=draft.requires_ack,
            is_drill=draft.is_drill,
            title=fill_recipient(
                pick_language(dict(draft.title), self.lang), child.name, child.class_name
            ),
            body=fill_recipient(
                pick_language(dict(draft.body), self.lang), child.name, child.class_name
            ),
            school_name=school.name,
            timezone=school.timezone,
            deadline_at=deadline_at,
            child=child.name,
            class_name=child.class_name,
        )
        summary = self._summary(data, draft, audience, child, school, sent_at)
        rows = [[Button(_("📤 Send"), "send")], [_back(), _cancel()]]
        return Screen(summary, rows, before=_parent_view(out, self.i18n))

    def _summary(
        self,
        data: dict[str, Any],
        draft: NoticeDraft,
        audience: Audience,
        child: _Child,
        school: School,
        sent_at: datetime,
    ) -> str:
        kind = kind_label(draft.kind)
        if draft.is_drill:
            kind += " " + _("(drill)")
        lines = [
            _(
                "👆 Preview: the message above is exactly what the family of {child} "
                "({class_name}) will receive."
            ).format(child=child.name, class_name=child.class_name),
            "",
            _("Kind: {kind}").format(kind=kind),
            _("Classes: {classes}").format(classes=", ".join(data["class_names"])),
            _("Children: {children}. Guardians who will receive it: {guardians}.").format(
                children=audience.children, guardians=audience.guardian_links
            ),
        ]
        unlinked = audience.children_without_guardian
        if unlinked:
            lines.append(
                _(
                    "Children without a linked guardian ({count}), who will not get it: {names}"
                ).format(count=len(unlinked), names=_names(unlinked))
            )
        if draft.send_at is None:
            lines.append(_("Sending: now"))
        else:
            lines.append(
                _("Sending: {time} (school time)").format(
                    time=local_time(draft.send_at, school.timezone)
                )
            )
        if draft.requires_ack and draft.deadline is not None:
            deadline_at = sent_at + draft.deadline
            lines.append(
                _("Acknowledgement required by {time} (school time).").format(
                    time=local_time(deadline_at, school.timezone)
                )
            )
            reminders = [local_time(sent_at + r, school.timezone) for r in draft.reminders]
            if reminders:
                lines.append(
                    _("Reminders to families who have not acknowledged: {times}.").format(
                        times=", ".join(reminders)
                    )
                )
            lines.append(
                _("Parents will see the button “{button}”.").format(
                    button=ack_button_text(draft.kind, child.name)
                )
            )
        else:
            lines.append(_("No acknowledgement asked."))
        lines += ["", _("Send it?")]
        return "\n".join(lines)

    def _draft(self, data: dict[str, Any]) -> NoticeDraft:
        kind = NoticeKind(data["kind"])
        template_id = data.get("template")
        if template_id:
            template = load_templates()[template_id]
            values = {"child": "{child}", "class_name": "{class_name}", **data["values"]}
            title = {lang: render(template.title[lang], values) for lang in LANGS}
            body = {lang: render(template.body[lang], values) for lang in LANGS}
        else:
            title, body = {self.lang: data["title"]}, {self.lang: data["body"]}
        requires_ack = bool(data.get("ack"))
        plan = PLAN_PRESETS[kind][data.get("plan") or 0]
        # In UTC: SQLite keeps the wall-clock time of an aware datetime and drops its offset.
        send_at = (
            datetime.fromisoformat(data["send_at"]).astimezone(UTC) if data.get("send_at") else None
        )
        return NoticeDraft(
            kind=kind,
            class_ids=tuple(data["classes"]),
            title=title,
            body=body,
            requires_ack=requires_ack,
            deadline=plan.deadline if requires_ack else None,
            reminders=plan.reminders if requires_ack else (),
            send_at=send_at,
            template_id=template_id,
            is_drill=bool(data.get("drill")) and kind != NoticeKind.CLASS_NOTICE,
        )

    # button presses

    async def press(self, query: CallbackQuery, action: str, value: str) -> None:
        data = await self.state.get_data()
        step = data["step"].partition(":")[0]
        handlers: dict[tuple[str, str], Callable[[CallbackQuery, str, dict[str, Any]], Any]] = {
            ("audience", "cls"): self._toggle_class,
            ("audience", "all"): self._toggle_all,
            ("audience", "grade"): self._toggle_grade,
            ("audience", "done"): self._audience_done,
            ("kind", "kind"): self._kind_chosen,
            ("template", "tpl"): self._template_chosen,
            ("template", "own"): self._own_text_chosen,
            ("ack", "ack"): self._ack_chosen,
            ("plan", "plan"): self._plan_chosen,
            ("drill", "drill"): self._drill_chosen,
            ("when", "when"): self._when_chosen,
            ("preview", "send"): self._send,
        }
        handler = handlers.get((step, action))
        if handler is None:
            await query.answer(_("This button does not belong to this step."), show_alert=True)
            return
        await handler(query, value, data)

    async def _toggle(self, query: CallbackQuery, data: dict[str, Any], ids: set[int]) -> None:
        chosen = set(data["classes"])
        chosen = chosen - ids if chosen >= ids else chosen | ids
        await self.state.update_data(classes=sorted(chosen))
        await self.refresh(query)
        await query.answer()

    async def _toggle_class(self, query: CallbackQuery, value: str, data: dict[str, Any]) -> None:
        allowed = {c.id for c in await self._classes(data)}
        if not value.isdigit() or int(value) not in allowed:
            await query.answer(_("You may not send notices to that class."), show_alert=True)
            return
        await self._toggle(query, data, {int(value)})

    async def _toggle_all(self, query: CallbackQuery, value: str, data: dict[str, Any]) -> None:
        if not _is_admin(self.person, data["school"]):
            await query.answer(_("Only a school administrator can do this."), show_alert=True)
            return
        await self._toggle(query, data, {c.id for c in await self._classes(data)})

    async def _toggle_grade(self, query: CallbackQuery, value: str, data: dict[str, Any]) -> None:
        classes = await self._classes(data)
        ids = {c.id for c in classes if str(c.grade) == value}
        if not _is_admin(self.person, data["school"]) or not ids:
            await query.answer(_("Only a school administrator can do this."), show_alert=True)
            return
        await self._toggle(query, data, ids)

    async def _audience_done(self, query: CallbackQuery, value: str, data: dict[str, Any]) -> None:
        if not data["classes"]:
            await query.answer(_("Please pick at least one class."), show_alert=True)
            return
        try:
            audience = await preview_audience(
                self.session, self.person, data["school"], data["classes"]
            )
        except NoticeError as problem:
            allowed = {c.id for c in await self._classes(data)}
            await self.state.update_data(classes=[c for c in data["classes"] if c in allowed])
            await self.refresh(query)
            await query.answer(_notice_problem(problem), show_alert=True)
            return
        if not audience.children:
            await query.answer(_("These classes have no students yet."), show_alert=True)
            return
        if not audience.guardian_links:
            await query.answer(
                _("No parent of these classes has joined yet, so nobody would get the notice."),
                show_alert=True,
            )
            return
        names = [c.name for c in await self._classes(data) if c.id in set(data["classes"])]
        await self.state.update_data(class_names=names)
        await self.show(query, "kind")
        await query.answer()

    async def _kind_chosen(self, query: CallbackQuery, value: str, data: dict[str, Any]) -> None:
        if value not in {k.value for k in NoticeKind}:
            await query.answer(_("This button does not belong to this step."), show_alert=True)
            return
        if value != data.get("kind"):
            await self.state.update_data(kind=value, ack=None, plan=None, drill=False)
        await self.show(query, "template")
        await query.answer()

    async def _template_chosen(
        self, query: CallbackQuery, value: str, data: dict[str, Any]
    ) -> None:
        template = load_templates().get(value)
        if template is None:
            await query.answer(_("That template is no longer available."), show_alert=True)
            return
        if value != data.get("template"):
            await self.state.update_data(template=value, values={})
        await self.show(query, "field:0" if template.fields else "ack")
        await query.answer()

    async def _own_text_chosen(
        self, query: CallbackQuery, value: str, data: dict[str, Any]
    ) -> None:
        await self.state.update_data(template=None, values={})
        await self.show(query, "title")
        await query.answer()

    async def _ack_chosen(self, query: CallbackQuery, value: str, data: dict[str, Any]) -> None:
        requires_ack = value == "1"
        await self.state.update_data(ack=requires_ack)
        await self.show(query, "plan" if requires_ack else self._after_plan(data))
        await query.answer()

    def _after_plan(self, data: dict[str, Any]) -> str:
        return "when" if data["kind"] == NoticeKind.CLASS_NOTICE.value else "drill"

    async def _plan_chosen(self, query: CallbackQuery, value: str, data: dict[str, Any]) -> None:
        presets = PLAN_PRESETS[NoticeKind(data["kind"])]
        if not value.isdigit() or int(value) >= len(presets):
            await query.answer(_("This button does not belong to this step."), show_alert=True)
            return
        await self.state.update_data(plan=int(value))
        await self.show(query, self._after_plan(data))
        await query.answer()

    async def _drill_chosen(self, query: CallbackQuery, value: str, data: dict[str, Any]) -> None:
        await self.state.update_data(drill=value == "1")
        await self.show(query, "when")
        await query.answer()

    async def _when_chosen(self, query: CallbackQuery, value: str, data: dict[str, Any]) -> None:
        school = await self._school(data)
        moments = {
            SEND_NOW: None,
            SEND_IN_AN_HOUR: utcnow() + timedelta(hours=1),
            SEND_TOMORROW_MORNING: self._tomorrow_morning(school),
        }
        if value not in moments:
            await query.answer(_("This button does not belong to this step."), show_alert=True)
            return
        moment = moments[value]
        await self.state.update_data(send_at=moment.isoformat() if moment else None)
        await self._to_preview(query)
        await query.answer()

    async def _to_preview(self, target: Message | CallbackQuery) -> None:
        """The preview, or the audience again if a class may no longer be addressed (a
        teacher taken off a class meanwhile)."""
        data = await self.state.get_data()
        try:
            await preview_audience(self.session, self.person, data["school"], data["classes"])
        except NoticeError as problem:
            allowed = {c.id for c in await self._classes(data)}
            await self.state.update_data(classes=[c for c in data["classes"] if c in allowed])
            await self.show(target, "audience", note=_notice_problem(problem))
            return
        await self.show(target, "preview")

    async def _send(self, query: CallbackQuery, value: str, data: dict[str, Any]) -> None:
        send_at = datetime.fromisoformat(data["send_at"]) if data.get("send_at") else None
        if send_at is not None and send_at <= utcnow():
            await self.show(query, "when", note=_("The time you chose has passed."))
            await query.answer()
            return
        draft = self._draft(data)
        # Cleared before publishing: a second press of Send finds no dialog.
        await self.state.clear()
        try:
            audience = await preview_audience(
                self.session, self.person, data["school"], draft.class_ids
            )
            notice = await publish_notice(self.session, self.person, data["school"], draft)
        except NoticeError as problem:
            await _edit(
                query,
                _notice_problem(problem) + "\n" + _("Nothing was sent. Start again with /notify."),
                None,
            )
            await query.answer()
            return
        await self.session.commit()
        if self.outbox_queued is not None:
            self.outbox_queued()
        families = audience.children - len(audience.children_without_guardian)
        if send_at is None:
            text = _(
                "Notice #{number} is on its way to {families} families; /notices shows who has "
                "acknowledged."
            ).format(number=notice.id, families=families)
        else:
            school = await self._school(data)
            text = _(
                "Notice #{number} will go to {families} families at {time} (school time); "
                "/notices shows who has acknowledged."
            ).format(number=notice.id, families=families, time=local_time(send_at, school.timezone))
        await _edit(query, text, None)
        await query.answer()

    # typed answers

    async def typed(self, message: Message, text: str) -> None:
        data = await self.state.get_data()
        step, _sep, index = data["step"].partition(":")
        if step == "field":
            await self._field_typed(message, text, data, int(index))
        elif step == "title":
            if len(text) > MAX_TITLE:
                await message.answer(_too_long(len(text), MAX_TITLE))
                return
            await self.state.update_data(title=text)
            await self.show(message, "body")
        elif step == "body":
            if len(text) > MAX_BODY:
                await message.answer(_too_long(len(text), MAX_BODY))
                return
            await self.state.update_data(body=text)
            await self.show(message, "ack")
        elif step == "when":
            await self._time_typed(message, text, data)

    async def _field_typed(
        self, message: Message, text: str, data: dict[str, Any], index: int
    ) -> None:
        if len(text) > MAX_FIELD:
            await message.answer(_too_long(len(text), MAX_FIELD))
            return
        template = load_templates()[data["template"]]
        values = {**data["values"], template.fields[index].name: text}
        await self.state.update_data(values=values)
        following = index + 1
        await self.show(
            message, f"field:{following}" if following < len(template.fields) else "ack"
        )

    async def _time_typed(self, message: Message, text: str, data: dict[str, Any]) -> None:
        school = await self._school(data)
        zone = ZoneInfo(school.timezone)
        cleaned = " ".join(text.replace("：", ":").split())
        try:
            moment = datetime.strptime(cleaned, TIME_FORMAT).replace(tzinfo=zone)
        except ValueError:
            await message.answer(
                _("Please type the time as YYYY-MM-DD HH:MM, e.g. {example} (school time).").format(
                    example=self._tomorrow_morning(school).strftime(TIME_FORMAT)
                )
            )
            return
        if moment <= utcnow():
            await message.answer(
                _(
                    "{time} has already passed (school time). Please choose a time in the future."
                ).format(time=moment.strftime(TIME_FORMAT))
            )
            return
        await self.state.update_data(send_at=moment.isoformat())
        await self._to_preview(message)


# --- /edit_notice --------------------------------------------------------------------------


class EditDialog(_Dialog):
    """New title (or keep it), new text, what changed, preview, send the update."""

    name = EDIT
    STATES: ClassVar[Mapping[str, State]] = {
        "title": EditNotice.title,
        "body": EditNotice.body,
        "note": EditNotice.change_note,
        "preview": EditNotice.preview,
    }

    def fsm_state(self, step: str) -> State:
        return self.STATES[step]

    async def _notice(self, data: dict[str, Any]) -> Notice:
        notice = await self.session.get(Notice, data["notice"])
        assert notice is not None
        return notice

    async def allowed(self, data: dict[str, Any]) -> bool:
        notice = await self.session.get(Notice, data["notice"])
        return (
            notice is not None
            and notice.cancelled_at is None
            and await can_manage(self.session, self.person, notice)
        )

    def refused(self) -> str:
        return _("You can no longer edit this notice. Nothing was sent.")

    async def _current_texts(self, notice: Notice) -> tuple[str, str]:
        versions = await notice.awaitable_attrs.versions
        current = next(v for v in versions if v.number == notice.current_version)
        return pick_language(current.title, self.lang), pick_language(current.body, self.lang)

    async def screen(self, step: str, data: dict[str, Any]) -> Screen:
        notice = await self._notice(data)
        title, body = await self._current_texts(notice)
        if step == "title":
            text = _(
                "✏️ Editing notice #{number} (version {version}). Its title is now:\n{title}\n\n"
                "Send a new title, or keep this one."
            ).format(number=notice.id, version=notice.current_version, title=title)
            return Screen(text, [[Button(_("Keep the title"), "keep")], [_cancel()]])
        if step == "body":
            text = (
                _(
                    "Now send the new text in full (at most {limit} characters); it replaces the "
                    "old one. The text is now:"
                ).format(limit=MAX_BODY)
                + "\n\n"
                + _quote(body)
            )
            return Screen(text, [[_back(), _cancel()]])
        if step == "note":
            text = _(
                "In a few words, what changed? Parents see this above the new text (at most "
                "{limit} characters)."
            ).format(limit=MAX_CHANGE_NOTE)
            return Screen(text, [[_back(), _cancel()]])
        return await self._preview_screen(notice, data)

    async def _preview_screen(self, notice: Notice, data: dict[str, Any]) -> Screen:
        school = await self.session.get(School, notice.school_id)
        assert school is not None
        child = await _sample_child(self.session, notice.audience.get("classes", []))
        version = notice.current_version + 1
        deadline_at = notice.deadline_at
        if deadline_at is not None and as_utc(deadline_at) < utcnow():
            # As revise_notice does: a passed deadline starts again.
            deadline_at = utcnow() + DEFAULT_PLANS[notice.kind].deadline
        out = Outgoing(
            outbox_id=0,
            purpose=OutboxPurpose.UPDATE,
            chat_id=0,
            language=self.lang,
            notice_id=notice.id,
            kind=notice.kind,
            version=version,
            requires_ack=notice.requires_ack,
            is_drill=notice.is_drill,
            title=fill_recipient(data["title"], child.name, child.class_name),
            body=fill_recipient(data["body"], child.name, child.class_name),
            school_name=school.name,
            timezone=school.timezone,
            deadline_at=deadline_at,
            child=child.name,
            class_name=child.class_name,
            change_note=data["note"],
        )
        _lines, _acknowledged, children = await pending_families(self.session, notice)
        lines = [
            _(
                "👆 Preview: the message above is exactly what the family of {child} "
                "({class_name}) will receive."
            ).format(child=child.name, class_name=child.class_name),
            "",
            _(
                "Notice #{number} becomes version {version}. It concerns {children} children."
            ).format(number=notice.id, version=version, children=children),
            _(
                "Families who already have it get the new text with your note; the others get "
                "the new text when it is sent."
            ),
        ]
        if notice.requires_ack:
            lines.append(_("Everyone is asked to acknowledge again."))
        lines += ["", _("Send the update?")]
        rows = [[Button(_("📤 Send the update"), "send")], [_back(), _cancel()]]
        return Screen("\n".join(lines), rows, before=_parent_view(out, self.i18n))

    async def press(self, query: CallbackQuery, action: str, value: str) -> None:
        data = await self.state.get_data()
        step = data["step"]
        if step == "title" and action == "keep":
            notice = await self._notice(data)
            title, _body = await self._current_texts(notice)
            await self.state.update_data(title=title)
            await self.show(query, "body")
            await query.answer()
        elif step == "preview" and action == "send":
            await self._send(query, data)
        else:
            await query.answer(_("This button does not belong to this step."), show_alert=True)

    async def typed(self, message: Message, text: str) -> None:
        data = await self.state.get_data()
        limits = {"title": MAX_TITLE, "body": MAX_BODY, "note": MAX_CHANGE_NOTE}
        following = {"title": "body", "body": "note", "note": "preview"}
        step = data["step"]
        if step not in limits:
            return
        if len(text) > limits[step]:
            await message.answer(_too_long(len(text), limits[step]))
            return
        await self.state.update_data({step: text})
        await self.show(message, following[step])

    async def _send(self, query: CallbackQuery, data: dict[str, Any]) -> None:
        await self.state.clear()
        notice = await self._notice(data)
        try:
            version = await revise_notice(
                self.session,
                self.person,
                notice,
                {self.lang: data["title"]},
                {self.lang: data["body"]},
                data["note"],
            )
        except NoticeError as problem:
            await _edit(query, _notice_problem(problem) + "\n" + _("Nothing was sent."), None)
            await query.answer()
            return
        await self.session.commit()
        if self.outbox_queued is not None:
            self.outbox_queued()
        text = _(
            "Notice #{number} is now at version {version}. Parents get the new text and what "
            "changed; /notices shows who has acknowledged."
        ).format(number=notice.id, version=version.number)
        await _edit(query, text, None)
        await query.answer()


# --- handlers --------------------------------------------------------------------------------


def _dialog(
    name: str,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    bot: Bot,
    outbox_queued: Callable[[], None] | None,
) -> _Dialog:
    kind = EditDialog if name == EDIT else ComposeDialog
    return kind(state, session, person, i18n, bot, outbox_queued)


async def start_notify(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    bot: Bot,
) -> None:
    school_id = _school_of_sender(person)
    if school_id is None:
        await refuse_notify(message)
        return
    if not await sendable_classes(session, person, school_id):
        await message.answer(
            _(
                "You have no classes to send notices to yet. The school administrator assigns "
                "teachers to classes."
            )
        )
        return
    dialog = ComposeDialog(state, session, person, i18n, bot)
    await dialog.open(message, "audience", school=school_id, classes=[], values={})


async def start_edit(
    message: Message,
    command: CommandObject,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    bot: Bot,
) -> None:
    argument = (command.args or "").strip().lstrip("#")
    if not argument.isdigit():
        await message.answer(_("Usage: /edit_notice NUMBER, e.g. /edit_notice 12"))
        return
    notice = await session.get(Notice, int(argument))
    if notice is None or not await can_manage(session, person, notice):
        await message.answer(
            _("There is no notice #{number} that you can edit.").format(number=argument)
        )
        return
    if notice.cancelled_at is not None:
        await message.answer(
            _("Notice #{number} was withdrawn, so it cannot be edited.").format(number=notice.id)
        )
        return
    dialog = EditDialog(state, session, person, i18n, bot)
    await dialog.open(message, "title", notice=notice.id)


async def refuse_notify(message: Message) -> None:
    await message.answer(
        _(
            "Sorry, only teachers and school administrators can send or edit notices. Nothing "
            "was sent. /help shows what you can do."
        )
    )


async def on_press(
    query: CallbackQuery,
    callback_data: DialogPress,
    state: FSMContext,
    session: AsyncSession,
    person: Person | None,
    i18n: I18n,
    bot: Bot,
    outbox_queued: Callable[[], None] | None = None,
) -> None:
    data = await state.get_data()
    if person is None or not data or data.get("token") != callback_data.d:
        await query.answer(_dialog_ended(), show_alert=True)
        return
    if callback_data.n != data.get("screen"):
        await query.answer(
            _("This button is from an earlier step. Please use the newest message."),
            show_alert=True,
        )
        return
    dialog = _dialog(data["dialog"], state, session, person, i18n, bot, outbox_queued)
    if not await dialog.allowed(data):
        await state.clear()
        await _edit(query, dialog.refused(), None)
        await query.answer()
        return
    if callback_data.a == "cancel":
        await dialog.cancel(query)
    elif callback_data.a == "back":
        await dialog.back(query)
    else:
        await dialog.press(query, callback_data.a, callback_data.v)


async def on_text(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    bot: Bot,
) -> None:
    data = await state.get_data()
    if not data.get("token"):
        await state.clear()
        await message.answer(_dialog_ended())
        return
    dialog = _dialog(data["dialog"], state, session, person, i18n, bot, None)
    if not await dialog.allowed(data):
        await state.clear()
        await message.answer(dialog.refused())
        return
    text = (message.text or "").strip()
    if not text:
        await message.answer(_send_text_please())
        return
    await dialog.typed(message, text)


async def use_the_buttons(message: Message) -> None:
    await message.answer(_("Please use the buttons of the last message, or tap ✖️ Cancel to stop."))


async def cancel_command(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(_cancelled())


TYPED_STEPS = StateFilter(
    ComposeNotice.field,
    ComposeNotice.own_title,
    ComposeNotice.own_body,
    ComposeNotice.send_time,
    EditNotice.title,
    EditNotice.body,
    EditNotice.change_note,
)
ANY_STEP = StateFilter(ComposeNotice, EditNotice)


def build_router() -> Router:
    """The notice dialogs' router; a new one for every Dispatcher."""
    router = Router(name="compose")
    router.message.filter(F.chat.type == "private")
    staff = HasRole(Role.TEACHER, Role.ADMIN)
    router.message.register(start_notify, Command("notify"), staff)
    router.message.register(start_edit, Command("edit_notice"), staff)
    router.message.register(refuse_notify, Command("notify", "edit_notice"))
    router.message.register(cancel_command, Command("cancel"), ANY_STEP)
    not_a_command = ~F.text.startswith("/")
    router.message.register(on_text, TYPED_STEPS, F.text, not_a_command)
    router.message.register(on_text, TYPED_STEPS, ~F.text)
    router.message.register(use_the_buttons, ANY_STEP, not_a_command)
    router.callback_query.register(on_press, DialogPress.filter())
    return router
