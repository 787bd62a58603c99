"""Helpers for tests: a running emulator in one ``async with`` and valid bot tokens.

A conftest makes a fixture in two lines::

    @pytest.fixture
    async def emu() -> AsyncIterator[TelegramEmulator]:
        async with running_emulator(limits=EmulatorLimits.off()) as emu:
            yield emu
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from .core import TelegramEmulator
from .limits import EmulatorLimits


def make_token(bot_id: int = 123456789) -> str:
    """A well-formed bot token for ``bot_id`` (stable across runs)."""
    secret = hashlib.sha256(str(bot_id).encode()).hexdigest()[:35]
    return f"{bot_id}:{secret}"


@asynccontextmanager
async def running_emulator(
    *,
    limits: EmulatorLimits | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    webhook_retry_delay: float = 0.05,
    fail_on_internal_errors: bool = True,
) -> AsyncIterator[TelegramEmulator]:
    """A started emulator, stopped on exit.

    With ``fail_on_internal_errors`` a block that ended normally fails if the emulator
    hit a bug of its own while answering (it answered 500 ``Internal Server Error``).
    """
    emulator = TelegramEmulator(limits=limits, webhook_retry_delay=webhook_retry_delay)
    await emulator.start(host=host, port=port)
    try:
        yield emulator
    finally:
        await emulator.stop()
    if fail_on_internal_errors and emulator.internal_errors:
        raise AssertionError(
            "the emulator failed while answering:\n" + "\n".join(emulator.internal_errors)
        )
