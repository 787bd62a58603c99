"""The machinery behind bench/notices.py: an emulator process and its control API, a
database (SQLite file or a fresh PostgreSQL database), a school made directly in it, the
bot in this process or as a ``safecampus run`` process, and the per-chat audit that counts
losses and duplicates from the emulator's chat logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import Response, SendMessage, TelegramMethod
from aiogram.methods.base import TelegramType
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campus.models import (
    AuditEvent,
    Guardianship,
    NoticeKind,
    OutboxMessage,
    Person,
    Role,
    RoleGrant,
    School,
    SchoolClass,
    Student,
)
from campus.services.audit import verify_chain
from campus.services.notices import NoticeDraft, publish_notice
from campus.services.outbox import queue_is_idle
from campus.settings import Settings, load_settings
from emulator.testing import make_token

ROOT = Path(__file__).resolve().parents[1]
KB_CACHE = ROOT / "data" / "kb-cache"
SAFECAMPUS = Path(sys.executable).parent / "safecampus"
TOKEN = make_token(555000111)
POSTGRES_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
#: Telegram's documented limits, as the emulator models them (emulator/limits.py).
TELEGRAM_LIKE = {
    "enabled": True,
    "per_chat_per_s": 1.0,
    "per_chat_burst": 3,
    "group_per_min": 20,
    "global_per_s": 30.0,
}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process, from /proc (threads included)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


class ControlError(RuntimeError):
    """The emulator's control API answered with an error."""


class Control:
    """A client of the emulator's ``/_control`` HTTP API (emulator/control.py)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        # No connection cap: a pressed button holds its request open until the bot answers.
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def close(self) -> None:
        await self.http.close()

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self.http.request(method, f"{self.base_url}/_control{path}", json=body) as r:
            answer = await r.json()
        if not answer.get("ok"):
            raise ControlError(f"{method} {path}: {answer.get('error')}")
        return answer["result"]

    async def create_users(self, count: int, concurrency: int = 32) -> list[int]:
        gate = asyncio.Semaphore(concurrency)

        async def one(number: int) -> int:
            async with gate:
                body = {"first_name": f"Parent {number}", "language_code": "en"}
                return int((await self.call("POST", "/users", body))["id"])

        return list(await asyncio.gather(*(one(n) for n in range(count))))

    async def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("GET", "/stats")
        return result

    async def reset_stats(self) -> None:
        await self.call("DELETE", "/stats")

    async def set_limits(self, **limits: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("PUT", "/limits", limits)
        return result

    async def chat_log(self, chat_id: int) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.call("GET", f"/chats/{chat_id}/messages")
        return result

    async def chat_logs(self, chat_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
        gate = asyncio.Semaphore(32)

        async def one(chat_id: int) -> tuple[int, list[dict[str, Any]]]:
            async with gate:
                return chat_id, await self.chat_log(chat_id)

        return dict(await asyncio.gather(*(one(c) for c in chat_ids)))

    async def press_button(
        self, user_id: int, message_id: int, data: str, answer_within: float
    ) -> dict[str, Any] | None:
        body = {
            "user_id": user_id,
            "message_id": message_id,
            "data": data,
            "timeout": answer_within,
        }
        answer: dict[str, Any] | None = (await self.call("POST", "/press_button", body))["answer"]
        return answer

    async def wait_sent(self, count: int, *, within: float, every: float = 0.05) -> float:
        """Poll until the emulator has recorded ``count`` bot messages; the monotonic time
        it was first seen (accurate to ``every`` plus one control call)."""
        deadline = time.monotonic() + within
        while True:
            seen = (await self.stats())["messages_sent"]
            now = time.monotonic()
            if seen >= count:
                return now
            if now > deadline:
                raise TimeoutError(f"the emulator recorded {seen} of {count} messages")
            await asyncio.sleep(every)


class EmulatorProcess:
    """``safecampus emulator`` in its own process (so its CPU is not the bot's)."""

    def __init__(self, workdir: Path, *, limits: bool, global_rate: float = 30.0) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.limits = limits
        self.global_rate = global_rate
        self.log_path = workdir / "emulator.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.control = Control(self.base_url)

    @property
    def command(self) -> list[str]:
        flags = ["--global-rate", str(self.global_rate)] if self.limits else ["--no-limits"]
        return [str(SAFECAMPUS), "emulator", "--port", str(self.port), *flags]

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.log_path.open("wb") as log:
            return subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT)

    async def __aenter__(self) -> EmulatorProcess:
        self.process = self._spawn()
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(aiohttp.ClientError, ControlError):
                await self.control.call("GET", "")
                break
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the emulator did not start: {self.log_path.read_text()}")
            await asyncio.sleep(0.1)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.control.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def cpu_seconds(self) -> float:
        assert self.process is not None
        return process_cpu_seconds(self.process.pid)


@asynccontextmanager
async def bench_database(
    url: str | None, *, postgres: bool, workdir: Path, admin_dsn: str = POSTGRES_ADMIN_DSN
) -> AsyncIterator[str]:
    """The given URL; or a fresh PostgreSQL database, dropped afterwards; or a new SQLite
    file under ``workdir``."""
    if url:
        yield url
        return
    if not postgres:
        yield f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        return
    import asyncpg  # type: ignore[import-untyped]

    admin = await asyncpg.connect(admin_dsn)
    name = f"safecampus_bench_{uuid.uuid4().hex[:10]}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base = admin_dsn.rpartition("/")[0].replace("postgresql://", "postgresql+asyncpg://")
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def database_label(url: str) -> str:
    return "PostgreSQL" if url.startswith("postgresql") else "SQLite"


@dataclass
class BenchSchool:
    school_id: int
    admin_id: int
    class_ids: list[int]
    guardian_chats: list[int]


async def make_school(
    sessionmaker: async_sessionmaker[AsyncSession],
    guardian_chats: list[int],
    admin_chat: int,
    *,
    per_class: int = 30,
) -> BenchSchool:
    """A school whose admin will publish; one child per guardian, ``per_class`` children
    per class; each guardian's Telegram id is an emulator user's."""
    async with sessionmaker() as session, session.begin():
        school = School(name="Benchmark Primary", timezone="Asia/Shanghai")
        admin = Person(telegram_user_id=admin_chat, full_name="Admin Zhang", language="en")
        session.add_all([school, admin])
        await session.flush()
        session.add(RoleGrant(person_id=admin.id, school_id=school.id, role=Role.ADMIN))
        class_count = -(-len(guardian_chats) // per_class)
        classes = [
            SchoolClass(school_id=school.id, name=f"{1 + k % 6}-{k:03d}", grade=1 + k % 6)
            for k in range(class_count)
        ]
        session.add_all(classes)
        await session.flush()
        students = [
            Student(
                school_id=school.id,
                class_id=classes[n // per_class].id,
                full_name=f"Child {n:05d}",
                student_number=f"S{n:05d}",
            )
            for n in range(len(guardian_chats))
        ]
        guardians = [
            Person(telegram_user_id=chat, full_name=f"Parent {n:05d}", language="en")
            for n, chat in enumerate(guardian_chats)
        ]
        session.add_all([*students, *guardians])
        await session.flush()
        session.add_all(
            RoleGrant(person_id=g.id, school_id=school.id, role=Role.GUARDIAN) for g in guardians
        )
        session.add_all(
            Guardianship(guardian_id=g.id, student_id=s.id)
            for g, s in zip(guardians, students, strict=True)
        )
        return BenchSchool(school.id, admin.id, [c.id for c in classes], list(guardian_chats))


async def publish_alert(sessionmaker: async_sessionmaker[AsyncSession], school: BenchSchool) -> int:
    """Publish a safety alert (acknowledgement asked) to every class, as the admin."""
    draft = NoticeDraft(
        kind=NoticeKind.SAFETY_ALERT,
        class_ids=tuple(school.class_ids),
        title={"en": "Swimming safety"},
        body={"en": "Please remind {child} of {class_name} never to swim without an adult."},
        requires_ack=True,
        deadline=None,
    )
    async with sessionmaker() as session, session.begin():
        admin = await session.get(Person, school.admin_id)
        assert admin is not None
        await session.refresh(admin, ["roles"])
        notice = await publish_notice(session, admin, school.school_id, draft)
        return notice.id


async def outbox_states(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(OutboxMessage.state, func.count(OutboxMessage.id)).group_by(OutboxMessage.state)
        )
        return {state.value: count for state, count in rows}


async def uncertain_rows(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count(OutboxMessage.id)).where(OutboxMessage.uncertain.is_(True))
        )
        return int(count or 0)


async def wait_idle(
    sessionmaker: async_sessionmaker[AsyncSession], *, within: float, every: float = 0.1
) -> float:
    """Wait until nothing in the outbox is pending or being sent; the monotonic time."""
    deadline = time.monotonic() + within
    while True:
        async with sessionmaker() as session:
            idle = await queue_is_idle(session)
        if idle:
            return time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"outbox not idle: {await outbox_states(sessionmaker)}")
        await asyncio.sleep(every)


async def audit_chain(sessionmaker: async_sessionmaker[AsyncSession]) -> str:
    """The ledger's verdict: "intact", or where it breaks and how many entries were chained
    to an entry that another entry already follows (concurrent writers)."""
    async with sessionmaker() as session:
        report = await verify_chain(session)
        if report.intact:
            return f"intact ({report.entries} entries)"
        total = await session.scalar(select(func.count(AuditEvent.id)))
        distinct = await session.scalar(select(func.count(func.distinct(AuditEvent.prev_hash))))
    forks = int(total or 0) - int(distinct or 0)
    return (
        f"BROKEN at entry {report.first_bad_id} ({report.problem}); {forks} of {total} "
        "entries share their previous entry with another"
    )


def settings_overrides(
    database_url: str,
    api_url: str,
    workdir: Path,
    *,
    rate: float,
    chat_interval: float = 1.0,
    lease: float = 30.0,
    timeout: float = 15.0,
) -> dict[str, Any]:
    """What the bot runs with, as keyword overrides (see :func:`as_environment`)."""
    return {
        "bot_token": TOKEN,
        "telegram_api_url": api_url,
        "database_url": database_url,
        "data_dir": workdir,
        "kb_cache": KB_CACHE,
        "delivery_rate_per_s": rate,
        "delivery_chat_interval_s": chat_interval,
        "delivery_lease_s": lease,
        "delivery_timeout_s": timeout,
        "tick_seconds": 3600,
        "quiet_hours": "off",
        "log_level": "WARNING",
    }


def bench_settings(overrides: dict[str, Any]) -> Settings:
    return load_settings(redis_url=None, **overrides)


def as_environment(overrides: dict[str, Any]) -> dict[str, str]:
    """The same settings as ``SAFECAMPUS_*`` variables for a ``safecampus run`` process;
    the caller's own ``SAFECAMPUS_*`` variables are dropped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFECAMPUS_")}
    env.update({f"SAFECAMPUS_{key.upper()}": str(value) for key, value in overrides.items()})
    env["SAFECAMPUS_LOG_LEVEL"] = "INFO"
    return env


@dataclass
class SendRecord:
    started: float
    finished: float
    ok: bool
    retry_after: int | None = None


@dataclass
class SendLog(BaseRequestMiddleware):
    """Watches the delivery worker's sendMessage calls (a request middleware on its Bot)."""

    records: list[SendRecord] = field(default_factory=list)

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        is_send = isinstance(method, SendMessage)
        if not is_send:
            return await make_request(bot, method)
        started = time.monotonic()
        try:
            response = await make_request(bot, method)
        except TelegramRetryAfter as flood:
            self.records.append(SendRecord(started, time.monotonic(), False, flood.retry_after))
            raise
        except Exception:
            self.records.append(SendRecord(started, time.monotonic(), False))
            raise
        self.records.append(SendRecord(started, time.monotonic(), True))
        return response

    def delivered(self) -> list[SendRecord]:
        return [r for r in self.records if r.ok]

    def floods(self) -> list[SendRecord]:
        return [r for r in self.records if r.retry_after]

    def sends_during_pauses(self) -> int:
        """sendMessage calls started while a 429's ``retry_after`` was still running."""
        return sum(
            1
            for flood in self.floods()
            for r in self.records
            if flood.finished < r.started < flood.finished + (flood.retry_after or 0)
        )

    def slips(self, rate: float, batch: int) -> dict[str, Any]:
        """Where a paced run fell behind its schedule for good: the lag of each send behind
        ``first + i / rate``, its lower envelope (a pacer never gets ahead again), and the
        largest steps of that envelope, with the send's position in its claimed batch."""
        interval = 1.0 / rate
        starts = sorted(r.started for r in self.records)
        lags = [start - (starts[0] + i * interval) for i, start in enumerate(starts)]
        envelope = list(itertools.accumulate(reversed(lags), min))[::-1]
        steps = [
            (later - earlier, index + 1)
            for index, (earlier, later) in enumerate(itertools.pairwise(envelope))
            if later > earlier
        ]
        at_batch_start = sum(step for step, index in steps if index % batch == 0)
        return {
            "behind_s": round(envelope[-1] - envelope[0], 2),
            "behind_at_batch_starts_s": round(at_batch_start, 2),
            "largest_slips": [
                [round(step, 3), index % batch] for step, index in sorted(steps)[-5:][::-1]
            ],
        }


class BotProcess:
    """``safecampus run`` against the emulator, configured through ``SAFECAMPUS_*``."""

    READY = "SafeCampus is running as"

    def __init__(self, overrides: dict[str, Any], api_url: str, log_path: Path) -> None:
        self.env = as_environment(overrides)
        self.api_url = api_url
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def command(self) -> list[str]:
        return [str(SAFECAMPUS), "run", "--api-url", self.api_url]

    def start(self) -> None:
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                cwd=self.log_path.parent,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def wait_ready(self, within: float = 180.0) -> float:
        """Wait for the "running as" log line; the monotonic time it was seen."""
        assert self.process is not None
        deadline = time.monotonic() + within
        while True:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                if self.READY.encode() in log.read():
                    return time.monotonic()
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the bot did not start; see {self.log_path}")
            await asyncio.sleep(0.05)

    def cpu_seconds(self) -> float:
        assert self.process is not None
        return process_cpu_seconds(self.process.pid)

    def kill_hard(self) -> None:
        """SIGKILL: no clean-up, as a power cut or the OOM killer would."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(40)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_lines(self, needle: str) -> list[str]:
        if not self.log_path.exists():
            return []
        return [line for line in self.log_path.read_text().splitlines() if needle in line]


@dataclass
class ChatAudit:
    """What each guardian's chat holds about one notice.

    ``once``: one copy; ``once_marked``: one copy that carries the "if you already received
    notice #N" line (its first attempt's outcome was unknown, it had not arrived);
    ``marked_copies``: a copy plus a marked resend; ``duplicates``: copies beyond that
    (unmarked repeats); ``lost``: nothing arrived.
    """

    chats: int
    once: int = 0
    once_marked: int = 0
    marked_copies: int = 0
    duplicates: int = 0
    lost: int = 0
    lost_chats: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "chats": self.chats,
            "once": self.once,
            "once_marked": self.once_marked,
            "marked_copies": self.marked_copies,
            "duplicates": self.duplicates,
            "lost": self.lost,
        }

    def line(self) -> str:
        return (
            f"{self.chats} chats: {self.once} exactly one message, {self.once_marked} one "
            f"message marked as a possible copy, {self.marked_copies} marked possible copies "
            f"(a message + a marked resend), {self.duplicates} unmarked duplicates, "
            f"{self.lost} lost"
        )


def marker(notice_id: int) -> str:
    return f"(If you already received notice #{notice_id}, this is the same one.)"


async def audit_chats(control: Control, chat_ids: list[int], notice_id: int) -> ChatAudit:
    """Count, per guardian chat, the messages about ``notice_id`` the emulator holds."""
    logs = await control.chat_logs(chat_ids)
    footer, copy_line = f"Notice #{notice_id} ·", marker(notice_id)
    audit = ChatAudit(len(chat_ids))
    for chat_id, log in logs.items():
        kinds = Counter(
            "marked" if copy_line in m.get("text", "") else "plain"
            for m in log
            if footer in m.get("text", "")
        )
        plain, marked = kinds["plain"], kinds["marked"]
        if plain + marked == 0:
            audit.lost += 1
            audit.lost_chats.append(chat_id)
            continue
        if plain == 1 and marked == 0:
            audit.once += 1
        elif plain == 0 and marked == 1:
            audit.once_marked += 1
        elif plain == 1 and marked == 1:
            audit.marked_copies += 1
        audit.duplicates += max(0, plain - 1) + max(0, marked - 1)
    return audit


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]
