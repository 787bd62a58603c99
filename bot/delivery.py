"""The delivery worker: claims due outbox rows and sends them within Telegram's limits.

* A global pace (``delivery_rate_per_s``) and at most one message per chat per
  ``delivery_chat_interval_s``.
* 429: every send pauses for ``retry_after``; the message goes back in the queue.
* 5xx and network errors that certainly did not deliver: retried with bounded backoff.
* A timeout or a dropped connection after the request went out: the outcome is unknown; the
  message is retried once, marked so the copy says it may be a duplicate.
* 403 (blocked) and "chat not found": the guardian is marked unreachable, never retried.
* ``migrate_to_chat_id``: the chat is followed.

Results are written one message at a time, so a crash loses at most the messages in flight,
whose leases run out and which are then retried once as uncertain. A claimed message is only
handed to Telegram while its lease still covers the request (``send_window``); one whose turn
comes later is released unsent, so no claim, this worker's next one included, takes over a
message that may still be on its way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.utils.i18n import I18n
from aiohttp import ClientConnectorError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.case_messages import render_case
from bot.notice_messages import render_outgoing
from campus.models import OutboxPurpose
from campus.services.cases import CaseOutgoing
from campus.services.outbox import (
    DEFAULT_LEASE,
    claim_due,
    load_outgoing,
    mark_cancelled,
    mark_failed,
    mark_retry,
    mark_sent,
    mark_unreachable,
    move_chat,
    release_claims,
)

log = logging.getLogger(__name__)

UNREACHABLE_HINTS = ("chat not found", "user is deactivated", "bot was blocked", "peer_id_invalid")
#: The most messages claimed at once: a claim is sent within its lease, and other workers
#: find work too.
MAX_BATCH = 200


class Pacer:
    """A global send rate, a minimum interval per chat, and a shared flood-control pause.

    A short stall while sending (a busy CPU, a slow database) is made up for afterwards, at
    most ``catch_up_s`` seconds' worth of messages at once, so a broadcast keeps its rate
    instead of losing every stall for good; after a rest or a flood-control pause the pace
    starts afresh, without a burst.
    """

    def __init__(self, rate_per_s: float, chat_interval_s: float, catch_up_s: float = 0.5) -> None:
        self.interval = 1.0 / rate_per_s
        self.chat_interval = chat_interval_s
        self.catch_up = catch_up_s
        self._next_slot = 0.0
        self._fresh = True
        self._paused_until = 0.0
        self._chat_next: dict[int, float] = {}
        self._lock = asyncio.Lock()

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)
        self._fresh = True

    def rest(self) -> None:
        """Nothing is waiting: the next message starts a new pace."""
        self._fresh = True

    async def wait_pause(self) -> None:
        # A loop, not an Event: another 429 may lengthen the pause while we sleep.
        while (delay := self._paused_until - time.monotonic()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(delay)

    def reserve(self, now: float) -> float:
        """Take the next send time of the global pace; earlier than ``now`` while catching up."""
        if self._fresh:
            self._next_slot, self._fresh = now, False
        slot = max(now - self.catch_up, self._next_slot)
        self._next_slot = slot + self.interval
        return slot

    async def global_slot(self) -> None:
        async with self._lock:
            await self.wait_pause()
            now = time.monotonic()
            slot = self.reserve(now)
        if slot > now:
            await asyncio.sleep(slot - now)

    def chat_free_at(self, chat_id: int) -> float:
        """When the chat may next receive a message (monotonic clock)."""
        return self._chat_next.get(chat_id, 0.0)

    async def chat_slot(self, chat_id: int) -> None:
        now = time.monotonic()
        slot = max(now, self._chat_next.get(chat_id, 0.0))
        self._chat_next[chat_id] = slot + self.chat_interval
        if len(self._chat_next) > 50_000:
            self._chat_next = {c: t for c, t in self._chat_next.items() if t > now}
        if slot > now:
            await asyncio.sleep(slot - now)


class DeliveryWorker:
    """Sends the outbox until stopped; ``nudge()`` wakes it when something was queued."""

    def __init__(
        self,
        bot: Bot,
        sessionmaker: async_sessionmaker[AsyncSession],
        i18n: I18n,
        *,
        rate_per_s: float,
        chat_interval_s: float,
        request_timeout_s: float = 15.0,
        lease: timedelta = DEFAULT_LEASE,
        idle_poll_s: float = 1.0,
        max_in_flight: int = 16,
    ) -> None:
        self.bot = bot
        self.sessionmaker = sessionmaker
        self.i18n = i18n
        self.pacer = Pacer(rate_per_s, chat_interval_s)
        self.lease = lease
        self.request_timeout_s = request_timeout_s
        self.idle_poll_s = idle_poll_s
        # A send must start early enough to end (timeout) and be recorded within the lease.
        lease_s = lease.total_seconds()
        self.send_window = max(lease_s - request_timeout_s - 1.0, lease_s / 4)
        self.batch = max(8, min(MAX_BATCH, int(rate_per_s * min(2.0, self.send_window / 2))))
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    def nudge(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Claim and send until :meth:`stop`; then let the sends in flight finish."""
        self._stopping.clear()
        try:
            while not self._stopping.is_set():
                await self.pacer.wait_pause()
                send_by = time.monotonic() + self.send_window
                async with self.sessionmaker() as session, session.begin():
                    ids = await claim_due(session, limit=self.batch, lease=self.lease)
                if not ids:
                    self.pacer.rest()
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.idle_poll_s):
                            await self._wake.wait()
                    continue
                for index, outbox_id in enumerate(ids):
                    await self._in_flight.acquire()
                    await self.pacer.global_slot()
                    if time.monotonic() > send_by:  # e.g. a long flood-control pause
                        self._in_flight.release()
                        await self._release(ids[index:])
                        break
                    task = asyncio.create_task(self._send_one(outbox_id, send_by))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
        finally:
            # Claimed rows not yet sent wait for their lease to run out, then go out again.
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=self.request_timeout_s + 1)
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def stop(self) -> None:
        """Ask :meth:`run` to finish after the sends in flight."""
        self._stopping.set()
        self._wake.set()

    async def _send_one(self, outbox_id: int, send_by: float) -> None:
        try:
            await self._deliver(outbox_id, send_by)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The lease runs out and the row is retried as uncertain; nothing is lost.
            log.exception("delivery of outbox message %s failed unexpectedly", outbox_id)
        finally:
            self._in_flight.release()

    async def _deliver(self, outbox_id: int, send_by: float) -> None:
        async with self.sessionmaker() as session:
            out = await load_outgoing(session, outbox_id)
        if out is None:
            return
        if isinstance(out, CaseOutgoing):
            text, markup = render_case(out, self.i18n)
        elif out.purpose == OutboxPurpose.REMINDER and out.already_acknowledged:
            await self._record(mark_cancelled, outbox_id, "acknowledged meanwhile")
            return
        else:
            text, markup = render_outgoing(out, self.i18n)
        # Too late to send within the lease (a busy chat, a flood-control pause): give it
        # back unsent rather than let a later claim take it over while it is on its way.
        if self.pacer.chat_free_at(out.chat_id) > send_by:
            await self._release([outbox_id])
            return
        await self.pacer.chat_slot(out.chat_id)
        await self.pacer.wait_pause()
        if time.monotonic() > send_by:
            await self._release([outbox_id])
            return
        try:
            sent = await self.bot.send_message(
                out.chat_id,
                text,
                reply_markup=markup,
                request_timeout=math.ceil(self.request_timeout_s),
            )
        except TelegramRetryAfter as flood:
            log.warning("flood control: pausing all sending for %s s", flood.retry_after)
            self.pacer.pause(flood.retry_after)
            await self._retry(outbox_id, flood.retry_after, "429", counts=False)
        except TelegramMigrateToChat as moved:
            await self._record(move_chat, outbox_id, moved.migrate_to_chat_id)
        except TelegramForbiddenError as blocked:
            await self._record(mark_unreachable, outbox_id, blocked.message)
        except (TelegramBadRequest, TelegramNotFound) as bad:
            if any(hint in bad.message.lower() for hint in UNREACHABLE_HINTS):
                await self._record(mark_unreachable, outbox_id, bad.message)
            else:  # the same request would fail again
                log.error("outbox message %s refused: %s", outbox_id, bad.message)
                await self._record(mark_failed, outbox_id, bad.message)
        except TelegramServerError as error:
            await self._retry(outbox_id, None, error.message)
        except TelegramNetworkError as error:
            never_sent = isinstance(error.__cause__, ClientConnectorError)
            await self._retry(outbox_id, None, error.message, uncertain=not never_sent)
        else:
            await self._record(mark_sent, outbox_id, sent.message_id)

    async def _retry(
        self,
        outbox_id: int,
        after: float | None,
        error: str,
        *,
        uncertain: bool = False,
        counts: bool = True,
    ) -> None:
        async with self.sessionmaker() as session, session.begin():
            await mark_retry(
                session,
                outbox_id,
                after=None if after is None else timedelta(seconds=after),
                error=error,
                uncertain=uncertain,
                counts=counts,
            )

    async def _release(self, outbox_ids: list[int]) -> None:
        async with self.sessionmaker() as session, session.begin():
            await release_claims(session, outbox_ids)

    async def _record(
        self, action: Callable[..., Awaitable[None]], outbox_id: int, *args: object
    ) -> None:
        async with self.sessionmaker() as session, session.begin():
            await action(session, outbox_id, *args)
