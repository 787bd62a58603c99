"""How notices, reminders, updates and deadline reports read on a phone, in the recipient's
language. Every message to a guardian names the child it is about and carries the notice
number, so a rare duplicate is recognisable as one."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from campus.models import NoticeKind, OutboxPurpose, as_utc
from campus.services.outbox import Outgoing

#: Telegram refuses longer messages; reports are cut to fit.
MAX_MESSAGE = 4096
BUTTON_NAME_LIMIT = 24


class AckPress(CallbackData, prefix="ack"):
    """The acknowledge button: which delivery and which version it confirms."""

    delivery: int
    version: int


def local_time(moment: datetime, timezone: str) -> str:
    """A moment as the school's clock shows it."""
    return as_utc(moment).astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def _short(name: str, limit: int = BUTTON_NAME_LIMIT) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def kind_label(kind: NoticeKind) -> str:
    labels = {
        NoticeKind.CLASS_NOTICE: _("📢 Class notice"),
        NoticeKind.SAFETY_ALERT: _("⚠️ Safety alert"),
        NoticeKind.URGENT_ALERT: _("🚨 URGENT alert"),
    }
    return labels[kind]


def ack_button_text(kind: NoticeKind, child: str) -> str:
    if kind == NoticeKind.CLASS_NOTICE:
        return _("✅ Acknowledge")
    return _("✅ I have read this and will supervise {child}").format(child=_short(child))


def acknowledged_line(at: datetime, timezone: str) -> str:
    return _("✅ Acknowledged at {time}.").format(time=local_time(at, timezone))


def _notice_text(out: Outgoing) -> str:
    header = f"{kind_label(out.kind)} · {out.class_name} · {out.child}"
    if out.is_drill:
        header = _("[DRILL]") + " " + header
    lines = [header, out.title, "", out.body, ""]
    footer = _("Notice #{number} · {school}").format(number=out.notice_id, school=out.school_name)
    if out.version > 1:
        footer += " · " + _("version {version}").format(version=out.version)
    lines.append(footer)
    if out.requires_ack:
        if out.deadline_at is not None:
            lines.append(
                _("Please tap the button below by {time}.").format(
                    time=local_time(out.deadline_at, out.timezone)
                )
            )
        else:
            lines.append(_("Please tap the button below to confirm you have read it."))
    return "\n".join(lines)


def _prefix(out: Outgoing) -> str:
    if out.purpose == OutboxPurpose.REMINDER:
        return _("⏰ Reminder: we have not yet had your confirmation about {child}.").format(
            child=out.child
        )
    if out.purpose == OutboxPurpose.UPDATE:
        text = _("✏️ This notice has been updated (version {version}).").format(version=out.version)
        if out.change_note:
            text += "\n" + _("What changed: {note}").format(note=out.change_note)
        if out.requires_ack:
            text += "\n" + _("Please read it again and confirm.")
        return text
    return ""


def _report_text(out: Outgoing) -> str:
    lines = [
        _("📋 Deadline reached for notice #{number}: {title}").format(
            number=out.notice_id, title=out.title
        ),
        _("Acknowledged: {done} of {total} families.").format(
            done=out.acknowledged, total=out.total
        ),
    ]
    if not out.pending_families:
        lines.append(_("Every family has acknowledged. Thank you!"))
        return "\n".join(lines)
    lines += ["", _("Not yet acknowledged (please call them):")]
    reachable, unreachable = _("reachable"), _("not reachable in Telegram")
    shown = 0
    for family in out.pending_families:
        guardians = "; ".join(
            f"{name or '—'} ({reachable if ok else unreachable})" for name, ok in family.guardians
        )
        line = f"• {family.child} ({family.class_name}): {guardians}"
        if sum(len(x) + 1 for x in lines) + len(line) > MAX_MESSAGE - 200:
            break
        lines.append(line)
        shown += 1
    rest = len(out.pending_families) - shown
    if rest:
        lines.append(_("… and {count} more: see /notices for the full list.").format(count=rest))
    lines += ["", _("This list is sent only to you, never to a group.")]
    return "\n".join(lines)


def render_outgoing(out: Outgoing, i18n: I18n) -> tuple[str, InlineKeyboardMarkup | None]:
    """The text and buttons of an outbox message, in the recipient's language."""
    with i18n.context(), i18n.use_locale(out.language):
        if out.purpose == OutboxPurpose.REPORT:
            return _report_text(out), None
        parts = [p for p in (_prefix(out), _notice_text(out)) if p]
        if out.uncertain:
            parts.append(
                _("(If you already received notice #{number}, this is the same one.)").format(
                    number=out.notice_id
                )
            )
        text = "\n\n".join(parts)
        if len(text) > MAX_MESSAGE:
            text = text[: MAX_MESSAGE - 1] + "…"
        markup = None
        if out.requires_ack and out.delivery_id is not None:
            button = InlineKeyboardButton(
                text=ack_button_text(out.kind, out.child),
                callback_data=AckPress(delivery=out.delivery_id, version=out.version).pack(),
            )
            markup = InlineKeyboardMarkup(inline_keyboard=[[button]])
        return text, markup
