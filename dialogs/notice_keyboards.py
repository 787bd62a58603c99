"""What a step of the notice dialogs shows (a ``Screen``: text and ``Button`` rows) and the
callback data (``DialogPress``) its buttons carry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _


class DialogPress(CallbackData, prefix="dlg"):
    """A button of a compose or edit dialog: the dialog's token (``d``), the number of the
    screen it was shown on (``n``), its action (``a``) and a value (``v``: a class id, a
    template id, a preset)."""

    d: str
    n: int
    a: str
    v: str = ""


class Action(StrEnum):
    """What a dialog button does; the value is what travels in ``DialogPress.a``."""

    BACK = "back"
    CANCEL = "cancel"
    WHOLE_SCHOOL = "all"
    GRADE = "grade"
    CLASS = "cls"
    AUDIENCE_DONE = "done"
    KIND = "kind"
    TEMPLATE = "tpl"
    OWN_TEXT = "own"
    ACK = "ack"
    PLAN = "plan"
    DRILL = "drill"
    SEND_TIME = "when"
    SEND = "send"
    KEEP_TITLE = "keep"


@dataclass(frozen=True)
class Button:
    text: str
    action: Action
    value: str = ""


@dataclass
class Screen:
    """One step as shown: a text, rows of buttons, and optionally a message sent before it
    (the parent's view of the notice in a preview)."""

    text: str
    rows: list[list[Button]] = field(default_factory=list)
    before: str | None = None


def back_button() -> Button:
    return Button(_("⬅️ Back"), Action.BACK)


def cancel_button() -> Button:
    return Button(_("✖️ Cancel"), Action.CANCEL)


def back_and_cancel() -> list[Button]:
    """The last row of most screens."""
    return [back_button(), cancel_button()]


def in_rows(buttons: Sequence[Button], per_row: int) -> list[list[Button]]:
    return [list(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row)]


def ticked(label: str, is_ticked: bool) -> str:
    """A toggle button's label, ticked when the toggle is on."""
    return f"✅ {label}" if is_ticked else label


def keyboard(screen: Screen, token: str, screen_number: int) -> InlineKeyboardMarkup | None:
    """The screen's buttons, each tied to the dialog (``token``) and to this screen."""
    if not screen.rows:
        return None

    def button(b: Button) -> InlineKeyboardButton:
        press = DialogPress(d=token, n=screen_number, a=b.action, v=b.value)
        return InlineKeyboardButton(text=b.text, callback_data=press.pack())

    return InlineKeyboardMarkup(inline_keyboard=[[button(b) for b in row] for row in screen.rows])
