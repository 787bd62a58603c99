"""What /notify has collected (kept in the dialog's FSM data) and the notice draft that
``publish_notice`` takes from it."""

from __future__ import annotations

from typing import Any

from campus.models import NoticeKind
from campus.notice_templates import LANGS, NoticeTemplate, load_templates, render
from campus.services.notices import DEFAULT_ACK, NoticeDraft
from dialogs.schedule import PLAN_PRESETS, stored_send_time


def templates_for(kind: NoticeKind) -> list[NoticeTemplate]:
    """Every template, those of ``kind`` first."""
    templates = list(load_templates().values())
    return [t for t in templates if t.kind == kind] + [t for t in templates if t.kind != kind]


def default_ack(data: dict[str, Any]) -> bool:
    """Whether an acknowledgement is recommended: the template's say, else the kind's."""
    if data.get("template"):
        return load_templates()[data["template"]].requires_ack
    return DEFAULT_ACK[NoticeKind(data["kind"])]


def draft_from(data: dict[str, Any], lang: str) -> NoticeDraft:
    """The notice as composed: a template's texts in every language with the typed fields
    filled in (the child and class stay placeholders), or one's own text in ``lang``."""
    kind = NoticeKind(data["kind"])
    template_id = data.get("template")
    if template_id:
        template = load_templates()[template_id]
        values = {"child": "{child}", "class_name": "{class_name}", **data["values"]}
        title = {language: render(template.title[language], values) for language in LANGS}
        body = {language: render(template.body[language], values) for language in LANGS}
    else:
        title, body = {lang: data["title"]}, {lang: data["body"]}
    requires_ack = bool(data.get("ack"))
    plan = PLAN_PRESETS[kind][data.get("plan") or 0]
    return NoticeDraft(
        kind=kind,
        class_ids=tuple(data["classes"]),
        title=title,
        body=body,
        requires_ack=requires_ack,
        deadline=plan.deadline if requires_ack else None,
        reminders=plan.reminders if requires_ack else (),
        send_at=stored_send_time(data.get("send_at")),
        template_id=template_id,
        is_drill=bool(data.get("drill")) and kind != NoticeKind.CLASS_NOTICE,
    )
