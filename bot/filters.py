"""Role checks for routers. Services check again at object level."""

from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import TelegramObject

from campus.models import Role


class HasRole(Filter):
    """Passes when the person holds any of the given roles."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    async def __call__(self, event: TelegramObject, roles: frozenset[Role]) -> bool:
        return bool(self.roles & roles)
