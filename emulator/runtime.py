"""The parts of a running emulator that Bot API methods work with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .faults import FaultInjector
from .limits import RateLimiter
from .state import EmulatorState
from .stats import Stats

if TYPE_CHECKING:
    from .webhook import WebhookManager


@dataclass
class Runtime:
    """State, limits, faults, bookkeeping and webhook delivery of one emulator."""

    state: EmulatorState
    limiter: RateLimiter
    stats: Stats
    faults: FaultInjector
    webhooks: WebhookManager
    internal_errors: list[str] = field(default_factory=list)
    """Tracebacks of emulator bugs hit while answering calls (answered as 500)."""
    closing: bool = False
