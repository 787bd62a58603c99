"""Routers, one per feature; ``get_routers`` builds the tree with catch-alls last."""

from __future__ import annotations

from aiogram import Router

from bot.handlers import (
    acknowledgements,
    admin,
    cases,
    errors,
    expert_duty,
    fallback,
    faq_drafts,
    help,
    invites,
    kb_admin,
    language,
    notice_status,
    privacy,
    questions,
    roster,
    staff,
    start,
)
from dialogs import compose


def get_routers() -> list[Router]:
    """Fresh routers in the order they must see updates: catch-alls last."""
    return [
        errors.build_router(),
        start.build_router(),
        acknowledgements.build_router(),
        compose.build_router(),
        help.build_router(),
        language.build_router(),
        privacy.build_router(),
        faq_drafts.build_router(),
        kb_admin.build_router(),  # before admin, whose refusal catches staff commands
        staff.build_router(),
        expert_duty.build_router(),
        notice_status.build_router(),
        admin.build_router(),
        roster.build_router(),
        invites.build_router(),
        cases.build_router(),  # before questions: a reply in a case thread is not a question
        questions.build_router(),
        fallback.build_router(),
    ]
