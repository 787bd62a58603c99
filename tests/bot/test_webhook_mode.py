"""District run modes: the real bot receiving updates by webhook from the emulator, the
secret that keeps strangers out, and sending left to `safecampus worker` processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import ClientSession
from sqlalchemy import func, select

from bot.app import (
    Application,
    leave_webhook_mode,
    open_application,
    open_worker,
    run_webhook,
    run_worker,
)
from campus.models import Acknowledgement, OutboxMessage, OutboxState, Person
from campus.settings import ConfigError, Settings, load_settings
from emulator import EmulatorLimits, TelegramEmulator
from emulator.testing import make_token, running_emulator
from knowledge_base.engine import FaqEngine
from tests.bot.conftest import KB_CACHE, LiveBot
from tests.bot.families import make_school, publish, safety_alert, wait_until_sent

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SAFECAMPUS = [sys.executable, "-c", "from bot.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    async with running_emulator(limits=EmulatorLimits.off()) as emulator:
        yield emulator
        # The bot leaves its webhook set on stop. An emulator stopping with a webhook set
        # can hang: on Python 3.11 asyncio.wait_for may swallow the cancellation of its
        # delivery task when a wake-up comes at the same moment.
        api = TelegramAPIServer.from_base(emulator.base_url)
        async with Bot(make_token(), session=AiohttpSession(api=api)) as bot:
            await bot.delete_webhook()


@pytest.fixture
def hook_url() -> str:
    return f"http://127.0.0.1:{free_port()}/telegram"


def make_settings(
    emu: TelegramEmulator, database_url: str, data_dir: Path, url: str, **more: Any
) -> Settings:
    return load_settings(
        data_dir=data_dir,
        database_url=database_url,
        telegram_api_url=emu.base_url,
        bot_token=make_token(),
        redis_url=None,
        webhook_url=url,
        quiet_hours="off",
        **more,
    )


async def wait_for_webhook(
    emu: TelegramEmulator, url: str, running: asyncio.Task[Any] | None = None, within: float = 60
) -> None:
    """Until the bot has set its webhook; a bot that failed to start raises its error."""
    deadline = asyncio.get_running_loop().time() + within
    while emu.bot(make_token()).webhook_url != url:
        if running is not None and running.done():
            running.result()
            raise AssertionError("the bot stopped before setting its webhook")
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"no webhook at {url}")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def serving(
    app: Application, url: str, *, duties: bool = True
) -> AsyncIterator[asyncio.Task[None]]:
    """``run_webhook`` in a task until the block ends (cancelling it, as a signal would)."""
    port = urlsplit(url).port
    assert port is not None
    task = asyncio.create_task(
        run_webhook(
            app,
            url=url,
            listen_host="127.0.0.1",
            listen_port=port,
            path="/telegram",
            duties=duties,
            handle_signals=False,
        )
    )
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@asynccontextmanager
async def webhook_bot(
    emu: TelegramEmulator, settings: Settings, faq: FaqEngine, *, duties: bool = True
) -> AsyncIterator[LiveBot]:
    assert settings.webhook_url is not None
    async with (
        open_application(settings, token=make_token(), faq=faq) as app,
        serving(app, settings.webhook_url, duties=duties) as task,
    ):
        await wait_for_webhook(emu, settings.webhook_url, task)
        yield LiveBot(emu, app, settings)


def delivery_workers() -> int:
    return sum(task.get_name() == "delivery-worker" for task in asyncio.all_tasks())


# Settings.


@pytest.mark.parametrize(
    ("setting", "value", "problem"),
    [
        ("webhook_url", "http://bot.example.org/telegram", "over https only"),
        ("webhook_url", "ftp://bot.example.org/telegram", "expected an https URL"),
        ("webhook_url", "https://bot.example.org:99999/telegram", "is not a URL"),
        ("webhook_listen", "8080", "expected HOST:PORT"),
        ("webhook_listen", "0.0.0.0:0", "expected HOST:PORT"),
        ("webhook_listen", "0.0.0.0:http", "expected HOST:PORT"),
        ("webhook_secret", "has spaces", "A-Z, a-z, 0-9, _ and -"),
        ("webhook_secret", "x" * 257, "A-Z, a-z, 0-9, _ and -"),
    ],
)
def test_bad_webhook_settings_are_refused(setting: str, value: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=f"SAFECAMPUS_{setting.upper()}: .*{problem}"):
        load_settings(**{setting: value})


def test_webhook_settings_accepted() -> None:
    settings = load_settings(
        webhook_url="https://bot.example.org/telegram",
        webhook_listen="[::]:8443",
        webhook_secret="district-7_secret",
    )
    assert settings.webhook_url == "https://bot.example.org/telegram"
    assert settings.webhook_address == ("::", 8443)
    assert load_settings(webhook_url="http://localhost:8080/hook").webhook_url is not None
    defaults = load_settings()
    assert defaults.webhook_url is None and defaults.webhook_address == ("0.0.0.0", 8080)


# The receiving process.


async def test_parent_is_answered_through_the_webhook(
    emu: TelegramEmulator,
    database_url: str,
    tmp_path: Path,
    hook_url: str,
    faq_engine: FaqEngine,
) -> None:
    settings = make_settings(
        emu, database_url, tmp_path, hook_url, webhook_secret="district_secret-1"
    )
    async with webhook_bot(emu, settings, faq_engine) as live:
        state = emu.state.bots[live.app.bot.id]
        assert state.webhook is not None and state.webhook.secret_token == "district_secret-1"
        with pytest.raises(ConfigError, match="a webhook is set"):
            await leave_webhook_mode(live.app, delete_webhook=False)

        parent = emu.create_user("Li", language_code="en")
        assert "Welcome to SafeCampus!" in (await live.send(parent, "/start"))["text"]
        answer = await live.send(parent, "how many hours should a 9 year old sleep")
        assert answer["text"].startswith("Sleep") and "Source: " in answer["text"]

    # Stopping deletes nothing: what parents send meanwhile waits for the next start.
    assert emu.bot(make_token()).webhook_url == hook_url
    late = emu.create_user("Chen", language_code="en")
    await emu.send_command(late, "start")
    assert emu.bot(make_token()).pending_updates == 1
    async with webhook_bot(emu, settings, faq_engine):
        [welcome] = await emu.wait_for_messages(late, count=1, timeout=10)
        assert "Welcome to SafeCampus!" in welcome["text"]

    # Back to polling, as `safecampus run --delete-webhook` does.
    async with open_application(settings, token=make_token(), faq=faq_engine) as app:
        await leave_webhook_mode(app, delete_webhook=True)
    assert emu.bot(make_token()).webhook_url is None


async def test_a_request_without_the_secret_is_refused_and_not_handled(
    emu: TelegramEmulator,
    database_url: str,
    tmp_path: Path,
    hook_url: str,
    faq_engine: FaqEngine,
) -> None:
    settings = make_settings(emu, database_url, tmp_path, hook_url)  # a random secret
    async with webhook_bot(emu, settings, faq_engine) as live:
        state = emu.state.bots[live.app.bot.id]
        assert state.webhook is not None and state.webhook.secret_token
        assert len(state.webhook.secret_token) >= 32

        mallory = emu.create_user("Mallory", language_code="en")
        forged = {
            "update_id": 10_000,
            "message": {
                "message_id": 1,
                "date": int(time.time()),
                "chat": {"id": mallory.id, "type": "private", "first_name": "Mallory"},
                "from": {"id": mallory.id, "is_bot": False, "first_name": "Mallory"},
                "text": "/start",
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            },
        }
        async with ClientSession() as client:
            for headers in ({SECRET_HEADER: "guessed_secret"}, {}):
                async with client.post(hook_url, json=forged, headers=headers) as response:
                    assert response.status == 401

        # The bot still serves the real webhook; by then a handled forgery would have answered.
        parent = emu.create_user("Li", language_code="en")
        assert "Welcome to SafeCampus!" in (await live.send(parent, "/start"))["text"]
        assert emu.chat_log(mallory) == []
        async with live.sessionmaker() as session:
            strangers = await session.scalar(
                select(func.count(Person.id)).where(Person.telegram_user_id == mallory.id)
            )
        assert strangers == 0


# Receiving and sending in different processes.


async def test_worker_sends_while_the_receiving_process_only_receives(
    emu: TelegramEmulator,
    database_url: str,
    tmp_path: Path,
    hook_url: str,
    faq_engine: FaqEngine,
) -> None:
    settings = make_settings(emu, database_url, tmp_path, hook_url)
    async with webhook_bot(emu, settings, faq_engine, duties=False) as live:
        assert not live.app.scheduler.running and delivery_workers() == 0
        setup = await make_school(live, {"Chen Jie": 1})
        notice_id = await publish(live, setup, safety_alert(setup.class_id))
        parent = setup.family("Chen Jie").guardians[0]

        async with open_worker(settings, token=make_token()) as worker:
            sending = asyncio.create_task(run_worker(worker, handle_signals=False))
            try:
                [notice] = await emu.wait_for_messages(parent, count=1, timeout=10)
                await wait_until_sent(live)
                assert worker.scheduler.running and delivery_workers() == 1
            finally:
                sending.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sending
        assert "Swimming safety" in notice["text"]

        # The parent's answer reaches the receiving process.
        button = live.emu.button_data(notice, live.emu.button_texts(notice)[0])
        answer = await emu.press_button(parent, notice, button, timeout=10)
        assert answer is not None and answer["text"] == "Thank you!"
        async with live.sessionmaker() as session:
            acks = await session.scalar(
                select(func.count(Acknowledgement.id)).where(Acknowledgement.notice_id == notice_id)
            )
        assert acks == 1


def _cli_env(emu: TelegramEmulator, tmp_path: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFECAMPUS_")}
    env.update(
        SAFECAMPUS_DATA_DIR=str(tmp_path),
        SAFECAMPUS_BOT_TOKEN=make_token(),
        SAFECAMPUS_TELEGRAM_API_URL=emu.base_url,
        SAFECAMPUS_QUIET_HOURS="off",
        **more,
    )
    return env


async def _stop(process: asyncio.subprocess.Process) -> int:
    """SIGTERM, as `docker stop` sends; the exit code (killed after 30 s: -9)."""
    process.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(process.wait(), 30)
    except TimeoutError:
        process.kill()
        return await process.wait()


async def test_worker_command_sends_for_a_receiving_only_bot(
    emu: TelegramEmulator, tmp_path: Path, hook_url: str, faq_engine: FaqEngine
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'safecampus.db'}"
    settings = make_settings(emu, database_url, tmp_path, hook_url)
    async with webhook_bot(emu, settings, faq_engine, duties=False) as live:
        setup = await make_school(live, {"Wang Fang": 1})
        await publish(live, setup, safety_alert(setup.class_id))
        parent = setup.family("Wang Fang").guardians[0]

        log = tmp_path / "worker.log"
        with log.open("w") as output:
            worker = await asyncio.create_subprocess_exec(
                *SAFECAMPUS, "worker", env=_cli_env(emu, tmp_path), stdout=output, stderr=output
            )
        try:
            [notice] = await emu.wait_for_messages(parent, count=1, timeout=60)
            await wait_until_sent(live)
        finally:
            code = await _stop(worker)
        output_text = await asyncio.to_thread(log.read_text)
        assert code == 0, output_text
        assert "remind Wang Fang of 3A" in notice["text"]
        assert "SafeCampus worker is sending as @" in output_text
        async with live.sessionmaker() as session:
            states = list(await session.scalars(select(OutboxMessage.state)))
        assert states == [OutboxState.SENT]


async def test_run_command_in_webhook_mode(
    emu: TelegramEmulator, tmp_path: Path, hook_url: str
) -> None:
    log = tmp_path / "run.log"
    env = _cli_env(
        emu,
        tmp_path,
        SAFECAMPUS_KB_CACHE=str(KB_CACHE),
        SAFECAMPUS_WEBHOOK_LISTEN=f"127.0.0.1:{urlsplit(hook_url).port}",
    )
    with log.open("w") as output:
        bot = await asyncio.create_subprocess_exec(
            *SAFECAMPUS,
            "run",
            "--no-duties",
            "--webhook-url",
            hook_url,
            env=env,
            stdout=output,
            stderr=output,
            cwd=tmp_path,
        )
    try:
        await wait_for_webhook(emu, hook_url, within=120)
        parent = emu.create_user("Li", language_code="en")
        await emu.send_command(parent, "start")
        [welcome] = await emu.wait_for_messages(parent, count=1, timeout=10)
    finally:
        code = await _stop(bot)
    assert code == 0, await asyncio.to_thread(log.read_text)
    assert "Welcome to SafeCampus!" in welcome["text"]
    assert "a random secret" in log.read_text()
    assert emu.bot(make_token()).webhook_url == hook_url


def test_delete_webhook_is_for_polling(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFECAMPUS_")}
    env.update(SAFECAMPUS_DATA_DIR=str(tmp_path), SAFECAMPUS_BOT_TOKEN=make_token())
    args = ["run", "--webhook-url", "https://bot.example.org/telegram", "--delete-webhook"]
    result = subprocess.run(
        SAFECAMPUS + args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
    )
    assert result.returncode == 2
    assert "--delete-webhook is for polling" in result.stderr
