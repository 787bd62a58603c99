"""/notify: a teacher or admin composes a notice to parents. Audience, kind, template (with
its fields) or own text, acknowledgement and reminder plan, drill, send time, preview, send.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.notice_messages import local_time
from campus.models import NoticeKind, OutboxPurpose, Person, Role, School, SchoolClass, utcnow
from campus.notice_templates import load_templates
from campus.services.notices import (
    MAX_BODY,
    MAX_TITLE,
    NoticeError,
    preview_audience,
    publish_notice,
    sendable_classes,
)
from campus.services.outbox import pick_language
from campus.services.people import schools_where
from dialogs import notice_texts as texts
from dialogs import notify_screens as screens
from dialogs.notice_dialog import NoticeDialog, TypedText, end_pressed, refuse_if_too_long
from dialogs.notice_keyboards import Action, Screen
from dialogs.notice_preview import family_message, sample_child
from dialogs.notify_draft import default_ack, draft_from, templates_for
from dialogs.schedule import (
    PLAN_PRESETS,
    TIME_FORMAT,
    example_send_time,
    parse_school_time,
    preset_send_times,
    stored_send_time,
)
from dialogs.states import ComposeNotice

#: A value typed into a template's field (a date, a place) is short.
MAX_FIELD = 200
#: The steps of one's own text: title, then body.
OWN_TEXT_STEPS = {"title": TypedText(MAX_TITLE, "body"), "body": TypedText(MAX_BODY, "ack")}

PressHandler = Callable[[CallbackQuery, str, dict[str, Any]], Awaitable[None]]


def school_of_sender(person: Person) -> int | None:
    """The school a notice is sent in: the first where the person is admin, else teacher."""
    schools = schools_where(person, Role.ADMIN) or schools_where(person, Role.TEACHER)
    return schools[0] if schools else None


def is_admin(person: Person, school_id: int) -> bool:
    return any(g.role == Role.ADMIN and g.school_id == school_id for g in person.roles)


class ComposeDialog(NoticeDialog):
    """Audience, kind, template or own text, acknowledgement, drill, time, preview, send."""

    name = "compose"
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

    # getters

    async def _classes(self, data: dict[str, Any]) -> list[SchoolClass]:
        return await sendable_classes(self.session, self.person, data["school"])

    async def _school(self, data: dict[str, Any]) -> School:
        school = await self.session.get(School, data["school"])
        assert school is not None
        return school

    async def screen(self, step: str, data: dict[str, Any]) -> Screen:
        name, _sep, index = step.partition(":")
        match name:
            case "audience":
                is_school_admin = is_admin(self.person, data["school"])
                classes = await self._classes(data)
                return screens.audience(classes, set(data["classes"]), is_admin=is_school_admin)
            case "kind":
                return screens.kind()
            case "template":
                kind = NoticeKind(data["kind"])
                return screens.template(templates_for(kind), kind, self.lang)
            case "field":
                template = load_templates()[data["template"]]
                return screens.template_field(template, int(index), self.lang)
            case "title":
                return screens.own_title()
            case "body":
                return screens.own_body()
            case "ack":
                return screens.acknowledgement(recommended=default_ack(data))
            case "plan":
                return screens.reminder_plan(NoticeKind(data["kind"]))
            case "drill":
                return screens.drill()
            case "when":
                return screens.send_time(await self._school(data))
            case "preview":
                return await self._preview(data)
        raise KeyError(step)

    async def _preview(self, data: dict[str, Any]) -> Screen:
        school = await self._school(data)
        draft = draft_from(data, self.lang)
        reach = await preview_audience(self.session, self.person, school.id, draft.class_ids)
        child = await sample_child(self.session, draft.class_ids)
        sent_at = draft.send_at or utcnow()
        deadline_at = sent_at + draft.deadline if draft.requires_ack and draft.deadline else None
        message = family_message(
            self.i18n,
            school=school,
            child=child,
            language=self.lang,
            purpose=OutboxPurpose.NOTICE,
            notice_id=0,
            kind=draft.kind,
            version=1,
            requires_ack=draft.requires_ack,
            is_drill=draft.is_drill,
            title=pick_language(dict(draft.title), self.lang),
            body=pick_language(dict(draft.body), self.lang),
            deadline_at=deadline_at,
        )
        return screens.preview(message, draft, data["class_names"], reach, child, school, sent_at)

    # button presses

    async def press(self, query: CallbackQuery, action: str, value: str) -> None:
        data = await self.state.get_data()
        step = data["step"].partition(":")[0]
        handlers: dict[tuple[str, str], PressHandler] = {
            ("audience", Action.CLASS): self.on_class,
            ("audience", Action.WHOLE_SCHOOL): self.on_whole_school,
            ("audience", Action.GRADE): self.on_grade,
            ("audience", Action.AUDIENCE_DONE): self.on_audience_done,
            ("kind", Action.KIND): self.on_kind,
            ("template", Action.TEMPLATE): self.on_template,
            ("template", Action.OWN_TEXT): self.on_own_text,
            ("ack", Action.ACK): self.on_ack,
            ("plan", Action.PLAN): self.on_plan,
            ("drill", Action.DRILL): self.on_drill,
            ("when", Action.SEND_TIME): self.on_send_time,
            ("preview", Action.SEND): self.on_send,
        }
        handler = handlers.get((step, action))
        if handler is None:
            await query.answer(texts.wrong_step(), show_alert=True)
            return
        await handler(query, value, data)

    async def _toggle(self, query: CallbackQuery, data: dict[str, Any], ids: set[int]) -> None:
        chosen = set(data["classes"])
        chosen = chosen - ids if chosen >= ids else chosen | ids
        await self.state.update_data(classes=sorted(chosen))
        await self.refresh(query)
        await query.answer()

    async def on_class(self, query: CallbackQuery, value: str, data: dict[str, Any]) -> None:
        allowed = {c.id for c in await self._classes(data)}
        if not value.isdigit() or int(value) not in allowed:
            await query.answer(_("You may not send notices to that class."), show_alert=True)
            return
        await self._toggle(query, data, {int(value)})

    async def on_whole_school(self, query: CallbackQuery, value: str, data: dict[str, Any]) -> None:
        if not is_admin(self.person, data["school"]):
            await query.answer(texts.admins_only(), show_alert=True)
            return
        await self._toggle(query, data, {c.id for c in await self._classes(data)})

    async def on_grade(self, query: CallbackQuery, value: str, data: dict[str, Any]) -> None:
        classes = await self._classes(data)
        ids = {c.id for c in classes if str(c.grade) == value}
        if not is_admin(self.person, data["school"]) or not ids:
            await query.answer(texts.admins_only(), show_alert=True)
            return
        await self._toggle(query, data, ids)

    async def _keep_sendable_classes(self, data: dict[str, Any]) -> None:
        """Drop the chosen classes the person may no longer address (taken off a class)."""
        allowed = {c.id for c in await self._classes(data)}
        await self.state.update_data(classes=[c for c in data["classes"] if c in allowed])

    async def on_audience_done(
        self, query: CallbackQuery, value: str, data: dict[str, Any]
    ) -> None:
        if not data["classes"]:
            await query.answer(_("Please pick at least one class."), show_alert=True)
            return
        try:
            reach = await preview_audience(
                self.session, self.person, data["school"], data["classes"]
            )
        except NoticeError as problem:
            await self._keep_sendable_classes(data)
            await self.refresh(query)
            await query.answer(texts.notice_problem(problem), show_alert=True)
            return
        if not reach.children:
            await query.answer(_("These classes have no students yet."), show_alert=True)
            return
        if not reach.guardian_links:
            await query.answer(
                _("No parent of these classes has joined yet, so nobody would get the notice."),
                show_alert=True,
            )
            return
        names = [c.name for c in await self._classes(data) if c.id in set(data["classes"])]
        await self.state.update_data(class_names=names)
        await self.go_to(query, "kind")

    async def on_kind(self, query: CallbackQuery, value: str, data: dict[str, Any]) -> None:
        if value not in {k.value for k in NoticeKind}:
            await query.answer(texts.wrong_step(), show_alert=True)
            return
        if value != data.get("kind"):
            await self.state.update_data(kind=value, ack=None, plan=None, drill=False)
        await self.go_to(query, "template")

    async def on_template(self, query: CallbackQuery, value: str, data: dict[str, Any]) -> None:
        template = load_templates().get(value)
        if template is None:
            await query.answer(_("That template is no longer available."), show_alert=True)
            return
        if value != data.get("template"):
            await self.state.update_data(template=value, values={})
        await self.go_to(query, "field:0" if template.fields else "ack")

    async def on_own_text(self, query: CallbackQuery, value: str, data: dict[str, Any]) -> None:
        await self.state.update_data(template=None, values={})
        await self.go_to(query, "title")

    async def on_ack(self, query: CallbackQuery, value: str, data: dict[str, Any]) -> None:
        requires_ack = value == "1"
        await self.state.update_data(ack=requires_ack)
        await self.go_to(query, "plan" if requires_ack else self._after_plan(data))

    def _after_plan(self, data: dict[str, Any]) -> str:
        """A class notice is never a drill: its step is skipped."""
        return "when" if data["kind"] == NoticeKind.CLASS_NOTICE.value else "drill"

    async def on_plan(self, query: CallbackQuery, value: str, data: dict[str, Any]) -> None:
        presets = PLAN_PRESETS[NoticeKind(data["kind"])]
        if not value.isdigit() or int(value) >= len(presets):
            await query.answer(texts.wrong_step(), show_alert=True)
            return
        await self.state.update_data(plan=int(value))
        await self.go_to(query, self._after_plan(data))

    async def on_drill(self, query: CallbackQuery, value: str, data: dict[str, Any]) -> None:
        await self.state.update_data(drill=value == "1")
        await self.go_to(query, "when")

    async def on_send_time(self, query: CallbackQuery, value: str, data: dict[str, Any]) -> None:
        school = await self._school(data)
        moments = preset_send_times(school.timezone)
        if value not in moments:
            await query.answer(texts.wrong_step(), show_alert=True)
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
            await self._keep_sendable_classes(data)
            await self.show(target, "audience", note=texts.notice_problem(problem))
            return
        await self.show(target, "preview")

    async def on_send(self, query: CallbackQuery, value: str, data: dict[str, Any]) -> None:
        send_at = stored_send_time(data.get("send_at"))
        if send_at is not None and send_at <= utcnow():
            await self.show(query, "when", note=_("The time you chose has passed."))
            await query.answer()
            return
        draft = draft_from(data, self.lang)
        # Cleared before publishing: a second press of Send finds no dialog.
        await self.state.clear()
        try:
            reach = await preview_audience(
                self.session, self.person, data["school"], draft.class_ids
            )
            notice = await publish_notice(self.session, self.person, data["school"], draft)
        except NoticeError as problem:
            await end_pressed(
                query,
                texts.notice_problem(problem)
                + "\n"
                + _("Nothing was sent. Start again with /notify."),
            )
            return
        await self.commit_and_deliver()
        families = reach.children - len(reach.children_without_guardian)
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
        await end_pressed(query, text)

    # typed answers

    async def typed(self, message: Message, text: str) -> None:
        data = await self.state.get_data()
        step, _sep, index = data["step"].partition(":")
        if step == "field":
            await self.on_field_typed(message, text, data, int(index))
        elif step in OWN_TEXT_STEPS:
            await self.store_typed_text(message, step, text, OWN_TEXT_STEPS[step])
        elif step == "when":
            await self.on_send_time_typed(message, text, data)

    async def on_field_typed(
        self, message: Message, text: str, data: dict[str, Any], index: int
    ) -> None:
        if await refuse_if_too_long(message, text, MAX_FIELD):
            return
        template = load_templates()[data["template"]]
        values = {**data["values"], template.fields[index].name: text}
        await self.state.update_data(values=values)
        following = index + 1
        await self.show(
            message, f"field:{following}" if following < len(template.fields) else "ack"
        )

    async def on_send_time_typed(self, message: Message, text: str, data: dict[str, Any]) -> None:
        school = await self._school(data)
        moment = parse_school_time(text, school.timezone)
        if moment is None:
            await message.answer(
                _("Please type the time as YYYY-MM-DD HH:MM, e.g. {example} (school time).").format(
                    example=example_send_time(school.timezone)
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


async def on_notify(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    bot: Bot,
) -> None:
    """/notify: open the dialog at the audience, if the person has classes to address."""
    school_id = school_of_sender(person)
    if school_id is None:
        await message.answer(texts.staff_only())
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
