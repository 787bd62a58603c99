"""The /_control HTTP API and the standalone command."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import click
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramForbiddenError

from emulator import TelegramEmulator
from emulator.cli import emulator_command


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _call(
    http: aiohttp.ClientSession, method: str, url: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    async with http.request(method, url, json=body) as response:
        return response.status, await response.json()


async def test_user_text_and_log_over_http(
    emu: TelegramEmulator, bot: Bot, http: aiohttp.ClientSession
) -> None:
    control = f"{emu.base_url}/_control"
    status, created = await _call(
        http, "POST", f"{control}/users", {"first_name": "Alice", "language_code": "en"}
    )
    assert status == 200 and created["ok"]
    alice_id = created["result"]["id"]

    status, sent = await _call(
        http, "POST", f"{control}/send_text", {"user_id": alice_id, "text": "hi bot"}
    )
    assert status == 200 and sent["result"]["text"] == "hi bot"
    [update] = await bot.get_updates()
    assert update.message is not None and update.message.from_user is not None
    assert update.message.from_user.id == alice_id

    await bot.send_message(alice_id, "hi Alice")
    status, log = await _call(http, "GET", f"{control}/chats/{alice_id}/messages")
    assert [m["text"] for m in log["result"]] == ["hi Alice"]
    status, log = await _call(http, "GET", f"{control}/chats/{alice_id}/messages?include_user=1")
    assert [m["text"] for m in log["result"]] == ["hi bot", "hi Alice"]
    status, waited = await _call(
        http, "POST", f"{control}/chats/{alice_id}/wait", {"count": 1, "timeout": 1}
    )
    assert [m["text"] for m in waited["result"]] == ["hi Alice"]
    status, timed_out = await _call(
        http, "POST", f"{control}/chats/{alice_id}/wait", {"count": 1, "timeout": 0.1}
    )
    assert status == 408 and not timed_out["ok"]


async def test_documents_faults_limits_stats_over_http(
    emu: TelegramEmulator, bot: Bot, http: aiohttp.ClientSession
) -> None:
    control = f"{emu.base_url}/_control"
    alice = emu.create_user("Alice")
    await bot.get_me()
    content = base64.b64encode(b"a,b\n").decode()
    status, sent = await _call(
        http,
        "POST",
        f"{control}/send_document",
        {"user_id": alice.id, "filename": "r.csv", "content_base64": content},
    )
    assert status == 200 and sent["result"]["document"]["mime_type"] == "text/csv"
    async with http.get(f"{control}/files/{sent['result']['document']['file_id']}") as response:
        assert await response.read() == b"a,b\n"

    status, _ = await _call(
        http, "POST", f"{control}/faults", {"method": "sendMessage", "kind": "5xx"}
    )
    assert status == 200 and len(emu.faults.active) == 1
    status, _ = await _call(http, "DELETE", f"{control}/faults")
    assert emu.faults.active == []
    status, bad = await _call(http, "POST", f"{control}/faults", {"kind": "meteor"})
    assert status == 400 and "unknown fault kind" in bad["error"]

    status, _ = await _call(http, "PUT", f"{control}/limits", {"enabled": True, "global_per_s": 2})
    assert status == 200 and emu.limits.global_per_s == 2 and emu.limits.enabled

    status, _ = await _call(http, "POST", f"{control}/users/{alice.id}/block")
    assert status == 200
    with pytest.raises(TelegramForbiddenError):
        await bot.send_message(alice.id, "Notice")
    status, stats = await _call(http, "GET", f"{control}/stats")
    assert stats["result"]["calls"]["getMe"] == 1
    status, missing = await _call(http, "POST", f"{control}/send_text", {"user_id": 1, "text": "x"})
    assert status == 404 and not missing["ok"]


def test_cli_command_options() -> None:
    assert isinstance(emulator_command, click.Command)
    options = {param.name: param for param in emulator_command.params}
    assert set(options) >= {"host", "port", "global_rate", "no_limits"}
    assert options["port"].default == 8081
