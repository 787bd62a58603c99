"""When a composed notice goes out and when parents are chased: the deadline-and-reminder
presets per kind, the send-time presets, and times typed on the school's clock."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from campus.models import NoticeKind, utcnow
from campus.services.notices import DEFAULT_PLANS, ReminderPlan

#: How a send time is typed and shown.
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


def tomorrow_morning(timezone: str) -> datetime:
    """Tomorrow at ``TOMORROW_MORNING`` on the school's clock."""
    zone = ZoneInfo(timezone)
    today = utcnow().astimezone(zone).date()
    return datetime.combine(today + timedelta(days=1), TOMORROW_MORNING, tzinfo=zone)


def example_send_time(timezone: str) -> str:
    """A send time as it should be typed."""
    return tomorrow_morning(timezone).strftime(TIME_FORMAT)


def preset_send_times(timezone: str) -> dict[str, datetime | None]:
    """The moment each send-time preset stands for; None is "now"."""
    return {
        SEND_NOW: None,
        SEND_IN_AN_HOUR: utcnow() + timedelta(hours=1),
        SEND_TOMORROW_MORNING: tomorrow_morning(timezone),
    }


def parse_school_time(text: str, timezone: str) -> datetime | None:
    """A typed "YYYY-MM-DD HH:MM" on the school's clock (a full-width colon and extra
    spaces are forgiven); None if it cannot be read."""
    cleaned = " ".join(text.replace("：", ":").split())
    try:
        return datetime.strptime(cleaned, TIME_FORMAT).replace(tzinfo=ZoneInfo(timezone))
    except ValueError:
        return None


def stored_send_time(stored: str | None) -> datetime | None:
    """A send time kept in the dialog's data, in UTC: SQLite keeps the wall-clock time of an
    aware datetime and drops its offset. None is "now"."""
    return datetime.fromisoformat(stored).astimezone(UTC) if stored else None
