"""Injected faults: what can go wrong between a bot and Telegram, on demand.

Kinds:

- ``"5xx"``: answer ``status`` (500 or 502) with a Telegram-shaped error; nothing is done.
- ``"slow"``: wait ``delay`` seconds, then handle the call normally (combines with others).
- ``"drop"``: close the connection without an answer; nothing is done.
- ``"lost"``: do the call (the message IS recorded), then close the connection without an
  answer: the bot cannot tell it was sent, which is how duplicate handling is tested.
- ``"429"``: answer ``Too Many Requests`` with ``retry_after``; nothing is done.

A fault targets one method, several, or all (``None``), and fires for the next ``count``
matching calls, or with ``probability`` (seeded, so a run can be replayed), or both
(randomly, at most ``count`` times).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from .models import JSON

FaultKind: TypeAlias = Literal["5xx", "slow", "drop", "lost", "429"]
FAULT_KINDS: tuple[FaultKind, ...] = ("5xx", "slow", "drop", "lost", "429")


@dataclass(eq=False)
class Fault:
    """One injected fault rule. ``remaining`` None means unlimited."""

    methods: frozenset[str] | None
    kind: FaultKind
    remaining: int | None
    probability: float | None = None
    delay: float = 1.0
    status: int = 500
    retry_after: int = 5
    fired: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def matches(self, method: str) -> bool:
        """Whether this rule applies to ``method`` (lower-cased name)."""
        return self.methods is None or method in self.methods

    def to_json(self) -> JSON:
        """A description for the control API."""
        return {
            "methods": sorted(self.methods) if self.methods is not None else None,
            "kind": self.kind,
            "remaining": self.remaining,
            "probability": self.probability,
            "delay": self.delay,
            "status": self.status,
            "retry_after": self.retry_after,
            "fired": self.fired,
        }


@dataclass(frozen=True)
class FaultPlan:
    """What to do to one call: wait ``delay`` seconds, then apply ``fault`` if any."""

    delay: float = 0.0
    fault: Fault | None = None


class FaultInjector:
    """The active fault rules, consulted on every Bot API call."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self.fired: Counter[str] = Counter()
        """How many times each kind of fault fired."""

    @property
    def active(self) -> list[Fault]:
        """The rules that can still fire."""
        return list(self._faults)

    def add(
        self,
        method: str | Iterable[str] | None = None,
        *,
        kind: FaultKind,
        count: int | None = None,
        probability: float | None = None,
        seed: int | None = None,
        delay: float = 1.0,
        status: int = 500,
        retry_after: int = 5,
    ) -> Fault:
        """Inject a fault into ``method`` (a name, names, or None for every method).

        Without ``count`` and ``probability`` the fault fires once.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        if probability is not None and not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if kind == "5xx" and not 500 <= status <= 599:
            raise ValueError("a 5xx fault needs a status between 500 and 599")
        if count is None and probability is None:
            count = 1
        names = [method] if isinstance(method, str) else method
        fault = Fault(
            methods=None if names is None else frozenset(name.lower() for name in names),
            kind=kind,
            remaining=count,
            probability=probability,
            delay=delay,
            status=status,
            retry_after=retry_after,
            rng=random.Random(seed),
        )
        self._faults.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        """Withdraw one rule."""
        if fault in self._faults:
            self._faults.remove(fault)

    def clear(self) -> None:
        """Withdraw every rule."""
        self._faults.clear()

    def plan(self, method: str) -> FaultPlan:
        """Decide which faults hit this call of ``method`` and use them up."""
        delay = 0.0
        terminal: Fault | None = None
        for fault in list(self._faults):
            if not fault.matches(method.lower()):
                continue
            if fault.kind != "slow" and terminal is not None:
                continue
            if fault.probability is not None and fault.rng.random() >= fault.probability:
                continue
            fault.fired += 1
            self.fired[fault.kind] += 1
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
            if fault.kind == "slow":
                delay += fault.delay
            else:
                terminal = fault
        return FaultPlan(delay=delay, fault=terminal)
