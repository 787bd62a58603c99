"""Routers, one per feature; ``get_routers`` builds the tree with catch-alls last."""

from __future__ import annotations

from aiogram import Router

from bot.handlers import (
    admin,
    errors,
    fallback,
    help,
    kb_admin,
    language,
    privacy,
    questions,
    roster,
    start,
)


def get_routers() -> list[Router]:
    """Fresh routers in the order they must see updates: catch-alls last."""
    return [
        errors.build_router(),
        start.build_router(),
        help.build_router(),
        language.build_router(),
        privacy.build_router(),
        kb_admin.build_router(),  # before admin, whose refusal catches staff commands
        admin.build_router(),
        roster.build_router(),
        questions.build_router(),
        fallback.build_router(),
    ]
