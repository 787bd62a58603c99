"""Routers, one per feature; ``get_routers`` builds the tree with catch-alls last."""

from __future__ import annotations

from aiogram import Router

from bot.handlers import admin, errors, fallback, help, language, privacy, start


def get_routers() -> list[Router]:
    """Every router in the order they must see updates: catch-alls last."""
    return [
        errors.router,
        start.router,
        help.router,
        language.router,
        privacy.router,
        admin.router,
        fallback.router,
    ]
