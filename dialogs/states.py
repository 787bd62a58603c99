"""The steps of the multi-step conversations, as aiogram FSM states."""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup


class ComposeNotice(StatesGroup):
    """/notify: a teacher or admin composes a notice to parents."""

    audience = State()
    kind = State()
    template = State()
    field = State()  # typing one of a template's fields
    own_title = State()
    own_body = State()
    ack = State()
    plan = State()
    drill = State()
    send_time = State()  # a preset button, or a typed time
    preview = State()


class EditNotice(StatesGroup):
    """/edit_notice N: a new version of a sent notice."""

    title = State()
    body = State()
    change_note = State()
    preview = State()
