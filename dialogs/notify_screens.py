"""The screens of /notify, one function per step, drawn from what the dialog has loaded."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from aiogram.utils.i18n import gettext as _

from bot.notice_messages import ack_button_text, kind_label, local_time
from campus.models import NoticeKind, School, SchoolClass
from campus.notice_templates import NoticeTemplate
from campus.services.notices import MAX_BODY, MAX_TITLE, Audience, NoticeDraft
from campus.services.outbox import pick_language
from dialogs import notice_texts as texts
from dialogs.notice_keyboards import (
    Action,
    Button,
    Screen,
    back_and_cancel,
    cancel_button,
    in_rows,
    ticked,
)
from dialogs.notice_preview import SampleChild, preview_intro
from dialogs.schedule import (
    PLAN_PRESETS,
    SEND_IN_AN_HOUR,
    SEND_NOW,
    SEND_TOMORROW_MORNING,
    example_send_time,
)

CLASSES_PER_ROW = 3
GRADES_PER_ROW = 4

KIND_ICONS = {
    NoticeKind.CLASS_NOTICE: "📢",
    NoticeKind.SAFETY_ALERT: "⚠️",
    NoticeKind.URGENT_ALERT: "🚨",
}


def audience(classes: Sequence[SchoolClass], chosen: set[int], *, is_admin: bool) -> Screen:
    """Classes to tick; an admin also gets the whole school and whole grades."""
    rows: list[list[Button]] = []
    if is_admin:
        everyone = bool(classes) and chosen >= {c.id for c in classes}
        rows.append([Button(ticked(_("🏫 Whole school"), everyone), Action.WHOLE_SCHOOL)])
        grades = sorted({c.grade for c in classes if c.grade is not None})
        grade_buttons = []
        for grade in grades:
            ids = {c.id for c in classes if c.grade == grade}
            label = ticked(_("Grade {grade}").format(grade=grade), chosen >= ids)
            grade_buttons.append(Button(label, Action.GRADE, str(grade)))
        rows += in_rows(grade_buttons, GRADES_PER_ROW)
    class_buttons = [
        Button(ticked(c.name, c.id in chosen), Action.CLASS, str(c.id)) for c in classes
    ]
    rows += in_rows(class_buttons, CLASSES_PER_ROW)
    rows += [[Button(_("Done ➡️"), Action.AUDIENCE_DONE)], [cancel_button()]]
    names = [c.name for c in classes if c.id in chosen]
    text = _("📝 New notice to parents.\n\nWho should receive it? Tap the classes, then Done.")
    selected = ", ".join(names) if names else _("none yet")
    text += "\n" + _("Selected: {classes}").format(classes=selected)
    return Screen(text, rows)


def kind() -> Screen:
    text = "\n".join(
        [
            _("What kind of notice is it?"),
            "",
            _("📢 Class notice: everyday class information; acknowledgement optional."),
            _("⚠️ Safety alert: parents are asked to confirm, and reminded if they don't."),
            _("🚨 URGENT alert: sent first, reminders within the hour."),
        ]
    )
    rows = [[Button(kind_label(k), Action.KIND, k.value)] for k in NoticeKind]
    return Screen(text, [*rows, back_and_cancel()])


def template(templates: Sequence[NoticeTemplate], chosen_kind: NoticeKind, lang: str) -> Screen:
    """``templates`` of the chosen kind first; the others are marked with their kind."""
    rows: list[list[Button]] = []
    for notice_template in templates:
        title = pick_language(notice_template.title, lang)
        if notice_template.kind != chosen_kind:
            title = f"{KIND_ICONS[notice_template.kind]} {title}"
        rows.append([Button(title, Action.TEMPLATE, notice_template.id)])
    rows.append([Button(_("✍️ Write my own text"), Action.OWN_TEXT)])
    rows.append(back_and_cancel())
    text = _(
        "Pick a template or write your own text.\n\n"
        "First the templates for this kind ({kind}), then the others, marked with their "
        "kind. Templates reach parents in English and Chinese."
    ).format(kind=kind_label(chosen_kind))
    return Screen(text, rows)


def template_field(notice_template: NoticeTemplate, index: int, lang: str) -> Screen:
    template_field = notice_template.fields[index]
    text = "\n".join(
        [
            pick_language(notice_template.title, lang),
            "",
            _("Field {number} of {count}: {label}").format(
                number=index + 1,
                count=len(notice_template.fields),
                label=pick_language(template_field.label, lang),
            ),
            _("For example: {example}").format(example=pick_language(template_field.example, lang)),
            "",
            _("Send it as a message."),
        ]
    )
    return Screen(text, [back_and_cancel()])


def own_title() -> Screen:
    text = _("Send the title of your notice (at most {limit} characters).").format(limit=MAX_TITLE)
    return Screen(text, [back_and_cancel()])


def own_body() -> Screen:
    text = (
        _("Now send the text of the notice (at most {limit} characters).").format(limit=MAX_BODY)
        + "\n\n"
        + _(
            "Write {child} and {class_name} where the child's name and class should go: "
            "each family gets the name of its own child. For example: Dear parent of "
            "{child}, ..."
        )
    )
    return Screen(text, [back_and_cancel()])


def acknowledgement(*, recommended: bool) -> Screen:
    """Whether to ask for an acknowledgement; ``recommended`` marks the yes."""
    yes, no = _("✅ Yes, ask them to acknowledge"), _("No acknowledgement needed")
    rows = [
        [Button(texts.recommended(yes) if recommended else yes, Action.ACK, "1")],
        [Button(no if recommended else texts.recommended(no), Action.ACK, "0")],
        back_and_cancel(),
    ]
    text = _(
        "Should parents acknowledge that they have read it? Those who don't are reminded, "
        "and at the deadline you get the list of families to call."
    )
    return Screen(text, rows)


def reminder_plan(notice_kind: NoticeKind) -> Screen:
    """The kind's deadline-and-reminder presets, its default first."""
    rows = [
        [Button(texts.recommended(label) if i == 0 else label, Action.PLAN, str(i))]
        for i, label in enumerate(texts.plan_label(p) for p in PLAN_PRESETS[notice_kind])
    ]
    text = _(
        "By when must parents acknowledge, and when should those who have not done so be "
        "reminded? Times count from sending."
    )
    return Screen(text, [*rows, back_and_cancel()])


def drill() -> Screen:
    rows = [
        [Button(_("No, this is real"), Action.DRILL, "0")],
        [Button(_("Yes, it is a drill"), Action.DRILL, "1")],
        back_and_cancel(),
    ]
    text = _(
        "Is this a drill? Parents see a drill marked [DRILL], so nobody takes it for a "
        "real emergency."
    )
    return Screen(text, rows)


def send_time(school: School) -> Screen:
    rows = [
        [Button(_("Now"), Action.SEND_TIME, SEND_NOW)],
        [Button(_("In 1 hour"), Action.SEND_TIME, SEND_IN_AN_HOUR)],
        [Button(_("Tomorrow 07:30"), Action.SEND_TIME, SEND_TOMORROW_MORNING)],
        back_and_cancel(),
    ]
    text = _(
        "When should it be sent? Or type a date and time as YYYY-MM-DD HH:MM, e.g. {example}."
        "\nTimes are school time ({timezone})."
    ).format(example=example_send_time(school.timezone), timezone=school.timezone)
    return Screen(text, rows)


def preview(
    family_message: str,
    draft: NoticeDraft,
    class_names: Sequence[str],
    reach: Audience,
    child: SampleChild,
    school: School,
    sent_at: datetime,
) -> Screen:
    """The family's message, then who gets it, when, and what is asked of them."""
    kind_text = kind_label(draft.kind)
    if draft.is_drill:
        kind_text += " " + _("(drill)")
    lines = [
        preview_intro(child),
        "",
        _("Kind: {kind}").format(kind=kind_text),
        _("Classes: {classes}").format(classes=", ".join(class_names)),
        _("Children: {children}. Guardians who will receive it: {guardians}.").format(
            children=reach.children, guardians=reach.guardian_links
        ),
    ]
    unlinked = reach.children_without_guardian
    if unlinked:
        lines.append(
            _("Children without a linked guardian ({count}), who will not get it: {names}").format(
                count=len(unlinked), names=texts.first_names(unlinked)
            )
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
        lines.append(
            _("Acknowledgement required by {time} (school time).").format(
                time=local_time(sent_at + draft.deadline, school.timezone)
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
    rows = [[Button(_("📤 Send"), Action.SEND)], back_and_cancel()]
    return Screen("\n".join(lines), rows, before=family_message)
