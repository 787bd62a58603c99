"""/notices: where the notices stand, for the teacher who sent them and the school's admins.

The list shows the latest notices; a notice's view shows its counts, the families still to
acknowledge (and, for drills, how fast each class answered), with buttons for a chart and a
CSV. Every button checks again that the person may see that notice: callback data can be
forged.
"""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.filters import HasRole
from bot.handlers.admin import short, show_in_place
from bot.notice_messages import MAX_MESSAGE, kind_label, local_time
from bot.texts import no_name
from campus.evidence import csv_safe
from campus.models import Person, Role, as_utc, utcnow
from campus.services.notice_status import (
    ClassAckTimes,
    NoticeStatus,
    NoticeSummary,
    RecipientRow,
    manageable_notice,
    notice_status,
    recent_notices,
    recipient_rows,
    summarize,
)
from campus.services.outbox import FamilyLine, pick_language

CSV_COLUMNS = (
    "child",
    "class",
    "guardian",
    "relation",
    "sent_at",
    "telegram_message_id",
    "acknowledged_at",
    "reminders",
    "reachable",
)
#: Room kept free under Telegram's limit for the closing line of a view.
VIEW_RESERVE = 200


class NoticeStatusAction(CallbackData, prefix="nstatus"):
    """A button of /notices: ``act`` is open, refresh, chart or csv."""

    act: str
    notice: int


STAFF = (Role.ADMIN, Role.TEACHER)
ACTS = ("open", "refresh", "chart", "csv")


# --- texts -------------------------------------------------------------------------------------


def _title(summary: NoticeSummary, language: str) -> str:
    return pick_language(summary.title, language)


def _heading(summary: NoticeSummary) -> str:
    heading = f"{kind_label(summary.kind)} · #{summary.notice_id}"
    if summary.is_drill:
        heading = _("[DRILL]") + " " + heading
    return heading


def _progress(summary: NoticeSummary) -> str:
    deliveries, families = summary.deliveries, summary.families
    if summary.requires_ack:
        text = _("acknowledged {done}/{total}").format(
            done=families.acknowledged, total=families.total
        )
        unreachable = families.no_reachable_guardian
    else:
        text = _("sent to {sent} of {total} guardians").format(
            sent=deliveries.sent, total=deliveries.guardians
        )
        unreachable = deliveries.unreachable
    if unreachable:
        text += ", " + _("{count} unreachable").format(count=unreachable)
    if summary.cancelled:
        text += ", " + _("cancelled")
    return text


def list_line(summary: NoticeSummary, language: str) -> str:
    """One notice in /notices: number, date, kind, title and how far it got."""
    when = local_time(summary.send_at, summary.timezone)
    return f"{_heading(summary)} · {when}\n{_title(summary, language)}\n{_progress(summary)}"


def duration(value: timedelta) -> str:
    """A time to acknowledge as people read it: 45 s, 12 min, 3 h 5 min, 2 d 4 h."""
    seconds = int(value.total_seconds())
    if seconds < 60:
        return _("{seconds} s").format(seconds=seconds)
    minutes = seconds // 60
    if minutes < 60:
        return _("{minutes} min").format(minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return _("{hours} h {minutes} min").format(hours=hours, minutes=minutes)
    days, hours = divmod(hours, 24)
    return _("{days} d {hours} h").format(days=days, hours=hours)


def _delivery_line(summary: NoticeSummary) -> str:
    d = summary.deliveries
    parts = [_("{count} sent").format(count=d.sent)]
    if d.failed:
        parts.append(_("{count} failed").format(count=d.failed))
    if d.unreachable:
        parts.append(_("{count} not reachable").format(count=d.unreachable))
    if d.to_send:
        parts.append(_("{count} waiting to be sent").format(count=d.to_send))
    if d.not_asked:
        parts.append(_("{count} to be asked later if needed").format(count=d.not_asked))
    return _("Guardians: {parts}.").format(parts=", ".join(parts))


def _family_line(summary: NoticeSummary) -> str:
    if not summary.requires_ack:
        return _("No acknowledgement was asked for.")
    f = summary.families
    line = _("Families: {done} of {total} acknowledged, {pending} not yet.").format(
        done=f.acknowledged, total=f.total, pending=f.not_acknowledged
    )
    if f.no_reachable_guardian:
        line += " " + _(
            "{count} of them have no guardian reachable in Telegram: please call."
        ).format(count=f.no_reachable_guardian)
    return line


def _drill_line(figures: ClassAckTimes) -> str:
    line = _("{class_name}: {done} of {total} acknowledged").format(
        class_name=figures.class_name, done=figures.acknowledged, total=figures.families
    )
    if figures.median is not None and figures.p90 is not None:
        line += ", " + _("median {median}, 90% within {p90}").format(
            median=duration(figures.median), p90=duration(figures.p90)
        )
    return f"• {line}"


def _family(line: FamilyLine) -> str:
    reachable, unreachable = _("reachable"), _("not reachable in Telegram")
    guardians = "; ".join(
        f"{name or no_name()} ({reachable if ok else unreachable})" for name, ok in line.guardians
    )
    return f"• {line.child} ({line.class_name}): {guardians}"


def status_text(status: NoticeStatus, language: str) -> str:
    """A notice's view, cut to fit one Telegram message."""
    summary = status.summary
    when = _("Sent {time}").format(time=local_time(summary.send_at, summary.timezone))
    if summary.deadline_at is not None:
        when += " · " + _("deadline {time}").format(
            time=local_time(summary.deadline_at, summary.timezone)
        )
    if summary.version > 1:
        when += " · " + _("version {version}").format(version=summary.version)
    lines = [_heading(summary), _title(summary, language), when]
    if summary.cancelled:
        lines.append(_("This notice was cancelled."))
    lines += ["", _delivery_line(summary), _family_line(summary)]
    if status.drill:
        lines += ["", _("Time to acknowledge, by class:")]
        lines += [_drill_line(figures) for figures in status.drill]
    if status.pending:
        lines += ["", _("Not yet acknowledged:")]
        shown = 0
        for family in status.pending:
            line = _family(family)
            if sum(len(x) + 1 for x in lines) + len(line) > MAX_MESSAGE - VIEW_RESERVE:
                break
            lines.append(line)
            shown += 1
        rest = len(status.pending) - shown
        if rest:
            lines.append(_("… and {count} more: the CSV lists everyone.").format(count=rest))
    return "\n".join(lines)


def _view_buttons(status: NoticeStatus) -> InlineKeyboardMarkup:
    notice = status.summary.notice_id
    builder = InlineKeyboardBuilder()
    if status.summary.requires_ack:
        builder.button(
            text=_("📈 Chart"), callback_data=NoticeStatusAction(act="chart", notice=notice)
        )
    builder.button(text=_("📄 CSV"), callback_data=NoticeStatusAction(act="csv", notice=notice))
    builder.button(
        text=_("🔄 Refresh"), callback_data=NoticeStatusAction(act="refresh", notice=notice)
    )
    builder.adjust(3)
    return builder.as_markup()


def _school_time(moment: datetime | None, timezone: str) -> str:
    if moment is None:
        return ""
    return as_utc(moment).astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M:%S")


def status_csv(rows: list[RecipientRow], timezone: str) -> bytes:
    """Every guardian of the notice, times in school time; UTF-8 with BOM for Excel."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                csv_safe(row.child),
                csv_safe(row.class_name),
                csv_safe(row.guardian),
                csv_safe(row.relation),
                _school_time(row.sent_at, timezone),
                row.telegram_message_id or "",
                _school_time(row.acknowledged_at, timezone),
                row.reminders,
                "yes" if row.reachable else "no",
            ]
        )
    return out.getvalue().encode("utf-8-sig")


def refusal() -> str:
    return _(
        "You can see only the notices you sent (administrators: every notice of their school)."
    )


# --- handlers ----------------------------------------------------------------------------------


async def list_notices(message: Message, session: AsyncSession, person: Person) -> None:
    summaries = await recent_notices(session, person)
    if not summaries:
        await message.answer(_("No notices yet."))
        return
    builder = InlineKeyboardBuilder()
    for summary in summaries:
        builder.button(
            text=short(f"#{summary.notice_id} · {_title(summary, person.language)}"),
            callback_data=NoticeStatusAction(act="open", notice=summary.notice_id),
        )
    builder.adjust(1)
    blocks = [_("Recent notices (newest first):")]
    blocks += [list_line(summary, person.language) for summary in summaries]
    await message.answer("\n\n".join(blocks), reply_markup=builder.as_markup())


async def notice_button(
    query: CallbackQuery,
    callback_data: NoticeStatusAction,
    session: AsyncSession,
    person: Person,
    bot: Bot,
) -> None:
    notice = await manageable_notice(session, person, callback_data.notice)
    if notice is None or callback_data.act not in ACTS:
        await query.answer(refusal(), show_alert=True)
        return
    chat_id = query.from_user.id
    if callback_data.act == "csv":
        await query.answer()
        rows = await recipient_rows(session, notice)
        summary = await summarize(session, notice)
        await bot.send_document(
            chat_id,
            BufferedInputFile(status_csv(rows, summary.timezone), f"notice-{notice.id}.csv"),
            caption=_("Notice #{number}: every guardian, with times in school time.").format(
                number=notice.id
            ),
        )
        return
    status = await notice_status(session, notice)
    if callback_data.act == "chart":
        await query.answer()
        await _send_chart(bot, chat_id, status, person.language)
        return
    text, markup = status_text(status, person.language), _view_buttons(status)
    if callback_data.act == "refresh":
        await show_in_place(query, text, markup)
    else:
        await bot.send_message(chat_id, text, reply_markup=markup)
    await query.answer()


async def _send_chart(bot: Bot, chat_id: int, status: NoticeStatus, language: str) -> None:
    # matplotlib takes seconds to import: only when somebody asks for a chart.
    from bot.status_chart import ChartData, render_chart

    summary = status.summary
    await bot.send_chat_action(chat_id, "upload_photo")
    data = ChartData(
        notice_id=summary.notice_id,
        title=_title(summary, language),
        sent_from=status.sent_from,
        ack_times=status.ack_times,
        families=summary.families.total,
        deadline_at=summary.deadline_at,
        now=utcnow(),
        timezone=summary.timezone,
    )
    png = await asyncio.to_thread(render_chart, data)
    caption = _(
        "Notice #{number}: families who acknowledged ({done} of {total}) since it was sent."
    ).format(
        number=summary.notice_id, done=summary.families.acknowledged, total=summary.families.total
    )
    if summary.deadline_at is not None:
        caption += " " + _("The dashed line is the deadline.")
    await bot.send_photo(
        chat_id, BufferedInputFile(png, f"notice-{summary.notice_id}.png"), caption=caption
    )


async def refuse_command(message: Message) -> None:
    await message.answer(_("Sorry, this command is for school staff. /help shows what you can do."))


async def refuse_button(query: CallbackQuery) -> None:
    await query.answer(refusal(), show_alert=True)


def build_router() -> Router:
    """The /notices router; a new one for every Dispatcher."""
    router = Router(name="notice_status")
    router.message.filter(F.chat.type == "private")
    staff = HasRole(*STAFF)
    router.message.register(list_notices, Command("notices"), staff)
    router.message.register(refuse_command, Command("notices"))
    router.callback_query.register(notice_button, NoticeStatusAction.filter(), staff)
    router.callback_query.register(refuse_button, NoticeStatusAction.filter())
    return router
