"""Routers, one per feature; ``get_routers`` builds the tree with catch-alls last."""

from __future__ import annotations

from aiogram import Router

from bot.handlers import admin, errors, fallback, help, language, privacy, start


def get_routers() -> list[Router]:
    """Fresh routers in the order they must see updates: catch-alls last."""
    return [
        errors.build_router(),
        start.build_router(),
        help.build_router(),
        language.build_router(),
        privacy.build_router(),
        admin.build_router(),
        fallback.build_router(),
    ]
