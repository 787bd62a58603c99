"""/edit_notice N: a new version of a sent notice. New title (or keep it), new text, what
changed, preview, send the update."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from aiogram import Bot
from aiogram.filters import CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from campus.models import Notice, OutboxPurpose, Person, School, as_utc, utcnow
from campus.services.notices import (
    DEFAULT_PLANS,
    MAX_BODY,
    MAX_TITLE,
    NoticeError,
    can_manage,
    revise_notice,
)
from campus.services.outbox import pending_families, pick_language
from dialogs import notice_texts as texts
from dialogs.notice_dialog import NoticeDialog, TypedText, end_pressed
from dialogs.notice_keyboards import (
    Action,
    Button,
    Screen,
    back_and_cancel,
    cancel_button,
)
from dialogs.notice_preview import family_message, preview_intro, sample_child
from dialogs.states import EditNotice

MAX_CHANGE_NOTE = 300
#: Every step before the preview is answered by typing.
TYPED_STEPS = {
    "title": TypedText(MAX_TITLE, "body"),
    "body": TypedText(MAX_BODY, "note"),
    "note": TypedText(MAX_CHANGE_NOTE, "preview"),
}


class EditNoticeDialog(NoticeDialog):
    """New title (or keep it), new text, what changed, preview, send the update."""

    name = "edit"
    STATES: ClassVar[Mapping[str, State]] = {
        "title": EditNotice.title,
        "body": EditNotice.body,
        "note": EditNotice.change_note,
        "preview": EditNotice.preview,
    }

    def fsm_state(self, step: str) -> State:
        return self.STATES[step]

    async def allowed(self, data: dict[str, Any]) -> bool:
        notice = await self.session.get(Notice, data["notice"])
        return (
            notice is not None
            and notice.cancelled_at is None
            and await can_manage(self.session, self.person, notice)
        )

    def refused(self) -> str:
        return _("You can no longer edit this notice. Nothing was sent.")

    # getters

    async def _notice(self, data: dict[str, Any]) -> Notice:
        notice = await self.session.get(Notice, data["notice"])
        assert notice is not None
        return notice

    async def _current_texts(self, notice: Notice) -> tuple[str, str]:
        """The title and text of the notice's current version."""
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
            return Screen(
                text, [[Button(_("Keep the title"), Action.KEEP_TITLE)], [cancel_button()]]
            )
        if step == "body":
            text = (
                _(
                    "Now send the new text in full (at most {limit} characters); it replaces the "
                    "old one. The text is now:"
                ).format(limit=MAX_BODY)
                + "\n\n"
                + texts.quoted(body)
            )
            return Screen(text, [back_and_cancel()])
        if step == "note":
            text = _(
                "In a few words, what changed? Parents see this above the new text (at most "
                "{limit} characters)."
            ).format(limit=MAX_CHANGE_NOTE)
            return Screen(text, [back_and_cancel()])
        return await self._preview(notice, data)

    async def _preview(self, notice: Notice, data: dict[str, Any]) -> Screen:
        school = await self.session.get(School, notice.school_id)
        assert school is not None
        child = await sample_child(self.session, notice.audience.get("classes", []))
        version = notice.current_version + 1
        deadline_at = notice.deadline_at
        if deadline_at is not None and as_utc(deadline_at) < utcnow():
            # As revise_notice does: a passed deadline starts again.
            deadline_at = utcnow() + DEFAULT_PLANS[notice.kind].deadline
        message = family_message(
            self.i18n,
            school=school,
            child=child,
            language=self.lang,
            purpose=OutboxPurpose.UPDATE,
            notice_id=notice.id,
            kind=notice.kind,
            version=version,
            requires_ack=notice.requires_ack,
            is_drill=notice.is_drill,
            title=data["title"],
            body=data["body"],
            deadline_at=deadline_at,
            change_note=data["note"],
        )
        _lines, _acknowledged, children = await pending_families(self.session, notice)
        lines = [
            preview_intro(child),
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
        rows = [[Button(_("📤 Send the update"), Action.SEND)], back_and_cancel()]
        return Screen("\n".join(lines), rows, before=message)

    # button presses and typed answers

    async def press(self, query: CallbackQuery, action: str, value: str) -> None:
        data = await self.state.get_data()
        step = data["step"]
        if step == "title" and action == Action.KEEP_TITLE:
            await self.on_keep_title(query, data)
        elif step == "preview" and action == Action.SEND:
            await self.on_send(query, data)
        else:
            await query.answer(texts.wrong_step(), show_alert=True)

    async def on_keep_title(self, query: CallbackQuery, data: dict[str, Any]) -> None:
        title, _body = await self._current_texts(await self._notice(data))
        await self.state.update_data(title=title)
        await self.go_to(query, "body")

    async def typed(self, message: Message, text: str) -> None:
        data = await self.state.get_data()
        step = data["step"]
        if step in TYPED_STEPS:
            await self.store_typed_text(message, step, text, TYPED_STEPS[step])

    async def on_send(self, query: CallbackQuery, data: dict[str, Any]) -> None:
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
            await end_pressed(query, texts.notice_problem(problem) + "\n" + _("Nothing was sent."))
            return
        await self.commit_and_deliver()
        text = _(
            "Notice #{number} is now at version {version}. Parents get the new text and what "
            "changed; /notices shows who has acknowledged."
        ).format(number=notice.id, version=version.number)
        await end_pressed(query, text)


async def on_edit_notice(
    message: Message,
    command: CommandObject,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    bot: Bot,
) -> None:
    """/edit_notice N: open the dialog at the title, if the person may change notice N."""
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
    dialog = EditNoticeDialog(state, session, person, i18n, bot)
    await dialog.open(message, "title", notice=notice.id)
