"""Texts the notice dialogs share: answers to stray presses and typing, problems reported by
the notice service, and how durations, reminder plans and lists of names read."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from aiogram.utils.i18n import gettext as _

from campus.services.notices import MAX_BODY, NoticeError, ReminderPlan

#: Names of children without a guardian listed in the preview before "and N more".
SHOWN_NAMES = 10
#: Keeps a screen that quotes a notice's text under Telegram's 4096 characters.
QUOTED_TEXT = 3600


def cancelled() -> str:
    return _("Cancelled. Nothing was sent.")


def dialog_ended() -> str:
    return _("This dialog has ended.")


def earlier_screen() -> str:
    return _("This button is from an earlier step. Please use the newest message.")


def wrong_step() -> str:
    return _("This button does not belong to this step.")


def admins_only() -> str:
    return _("Only a school administrator can do this.")


def use_the_buttons() -> str:
    return _("Please use the buttons of the last message, or tap ✖️ Cancel to stop.")


def send_text_please() -> str:
    return _("Please send it as a text message.")


def staff_only() -> str:
    return _(
        "Sorry, only teachers and school administrators can send or edit notices. Nothing "
        "was sent. /help shows what you can do."
    )


def too_long(length: int, limit: int) -> str:
    return _(
        "That is too long: {length} characters, at most {limit}. Please shorten it and send "
        "it again."
    ).format(length=length, limit=limit)


def notice_problem(error: NoticeError) -> str:
    """Why the notice service refused, in the person's words."""
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


def duration(span: timedelta, *, days_from: timedelta = timedelta(days=1)) -> str:
    """``span`` in whole days from ``days_from`` on, else in hours or minutes."""
    minutes = int(span.total_seconds() // 60)
    if span >= days_from and minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return _("1 day") if days == 1 else _("{count} days").format(count=days)
    if minutes and minutes % 60 == 0:
        return _("{count} h").format(count=minutes // 60)
    return _("{count} min").format(count=minutes)


def joined_with_and(items: Sequence[str]) -> str:
    """The items as "a, b and c"."""
    if len(items) < 2:
        return "".join(items)
    return _("{first} and {last}").format(first=", ".join(items[:-1]), last=items[-1])


def plan_label(plan: ReminderPlan) -> str:
    """A deadline-and-reminders preset as its button reads."""
    # "Deadline 48 h" reads better than "2 days" for a deadline.
    deadline = duration(plan.deadline, days_from=timedelta(days=3))
    reminders = [duration(r) for r in plan.reminders]
    if not reminders:
        return _("Deadline {deadline}, no reminders").format(deadline=deadline)
    if len(reminders) == 1:
        return _("Deadline {deadline}, reminder after {time}").format(
            deadline=deadline, time=reminders[0]
        )
    return _("Deadline {deadline}, reminders after {times}").format(
        deadline=deadline, times=joined_with_and(reminders)
    )


def recommended(label: str) -> str:
    return _("{choice} (recommended)").format(choice=label)


def first_names(names: Sequence[str]) -> str:
    """The first ``SHOWN_NAMES`` names, then "and N more"."""
    shown = ", ".join(names[:SHOWN_NAMES])
    if len(names) > SHOWN_NAMES:
        shown += " " + _("and {count} more").format(count=len(names) - SHOWN_NAMES)
    return shown


def quoted(text: str) -> str:
    """A notice's text, cut to leave room for the rest of the screen."""
    return text if len(text) <= QUOTED_TEXT else text[: QUOTED_TEXT - 1] + "…"
