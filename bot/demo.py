"""``safecampus demo``: a scripted school day against the local emulator.

The real bot runs over HTTP against the emulator, with a throw-away SQLite database; the
script plays each step as a simulated Telegram user and checks the bot's reply.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from bot.app import polling_in_background
from bot.setup import create_school_with_claim_link
from campus.settings import load_settings
from emulator import SimUser, TelegramEmulator
from emulator.testing import make_token
from knowledge_base.engine import FaqEngine

Echo = Callable[[str], None]
REPLY_TIMEOUT = 10.0
# As Excel in China saves it: GB18030, with Chinese headers.
DEMO_ROSTER = (
    "班级,学生姓名,学号,监护人1,关系1\n"
    "3A,Chen Jie,S1001,Chen Hong,母亲\n"
    "3A,Liu Yang,S1002,Liu Qiang,父亲\n"
    "4B,Zhao Min,S1003,,\n"
).encode("gb18030")


def _indent(text: str) -> str:
    return text.replace("\n", "\n        ")


def start_code(link: str) -> str:
    """The invite code inside a ``https://t.me/<bot>?start=<code>`` link."""
    return parse_qs(urlparse(link).query)["start"][0]


def first_link(text: str) -> str:
    """The first t.me link in a message."""
    return next(word for word in text.split() if word.startswith("https://t.me/"))


@dataclass
class Script:
    """Plays user actions and checks the bot's answers, writing a transcript."""

    emu: TelegramEmulator
    echo: Echo | None
    failures: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        if self.echo is not None:
            self.echo(line)

    def scene(self, title: str) -> None:
        self.say(f"\n── {title} ──")

    def _check(self, who: SimUser, text: str, expected: str) -> None:
        self.say(f"bot  →  {_indent(text)}")
        if expected not in text:
            self.failures.append(f"{who.first_name}: expected {expected!r}, got {text[:80]!r}")
            self.say(f"        ✗ expected {expected!r}")

    async def send(self, who: SimUser, text: str, expected: str) -> dict[str, Any]:
        self.say(f"{who.first_name}  →  {text}")
        if text.startswith("/"):
            command, _sep, args = text[1:].partition(" ")
            await self.emu.send_command(who, command, args or None)
        else:
            await self.emu.send_text(who, text)
        try:
            [reply] = await self.emu.wait_for_messages(who, count=1, timeout=REPLY_TIMEOUT)
        except TimeoutError:
            self.failures.append(f"{who.first_name}: no reply to {text!r}")
            self.say("        ✗ no reply")
            return {"text": ""}
        self._check(who, reply.get("text", ""), expected)
        buttons = self.emu.button_texts(reply)
        if buttons:
            self.say("        [" + "] [".join(buttons) + "]")
        return reply

    async def upload(
        self, who: SimUser, filename: str, content: bytes, expected: str
    ) -> dict[str, Any]:
        self.say(f"{who.first_name}  📎  {filename}")
        await self.emu.send_document(who, filename, content, mime_type="text/csv")
        try:
            [reply] = await self.emu.wait_for_messages(who, count=1, timeout=REPLY_TIMEOUT)
        except TimeoutError:
            self.failures.append(f"{who.first_name}: no reply to {filename}")
            self.say("        ✗ no reply")
            return {"text": ""}
        self._check(who, reply.get("text", ""), expected)
        return reply

    async def press(
        self, who: SimUser, message: dict[str, Any], button: str, expected: str
    ) -> None:
        self.say(f"{who.first_name}  ⏺  [{button}]")
        try:
            data = self.emu.button_data(message, button)
        except (KeyError, LookupError, ValueError):
            self.failures.append(f"{who.first_name}: no button {button!r}")
            self.say(f"        ✗ no button {button!r}")
            return
        await self.emu.press_button(who, message, data, timeout=REPLY_TIMEOUT)
        edited = self.emu.last_message(who) or {}
        self._check(who, edited.get("text", ""), expected)


async def play(script: Script, claim_link: str) -> None:
    """The scenario: a school is set up, a parent joins, asks for help and a question,
    switches to Chinese and asks again."""
    emu = script.emu
    admin = emu.create_user("Zhang", last_name="Wei", username="zhang_admin", language_code="en")
    parent = emu.create_user("Li", last_name="Na", language_code="en")

    script.scene("The school administrator claims the school")
    await script.send(admin, f"/start {start_code(claim_link)}", "You are now the administrator of")
    await script.send(admin, "/newclass 3A", "Class 3A created")
    await script.upload(admin, "roster.csv", DEMO_ROSTER, "Students added: 3")
    reply = await script.send(admin, "/addstudent 3A Wang Fang", "Wang Fang added to 3A")
    invite_link = first_link(reply.get("text", "") or "https://t.me/x?start=missing")

    script.scene("A parent joins with the invite link from the slip")
    reply = await script.send(parent, f"/start {start_code(invite_link)}", "Wang Fang, class 3A")
    await script.press(parent, reply, "Yes, this is my child", "notices about Wang Fang")
    await script.send(parent, f"/start {start_code(invite_link)}", "already been used")

    script.scene("The parent asks for help and asks a question")
    await script.send(parent, "/help", "As a parent you can")
    await script.send(parent, "How many hours of sleep does a 9 year old need?", "Source:")

    script.scene("The parent switches to Chinese")
    reply = await script.send(parent, "/lang", "Choose your language")
    await script.press(parent, reply, "简体中文", "语言已切换为简体中文")
    await script.send(parent, "/help", "作为家长")
    await script.send(parent, "孩子多大可以骑电动自行车上路？", "来源：")
    await script.send(parent, "/privacy", "平安校园存储的信息")


async def run_demo(echo: Echo | None = print, *, faq: FaqEngine | None = None) -> list[str]:
    """Run the demo; returns what went wrong (nothing when every expected reply arrived).

    The database is thrown away afterwards; the knowledge base's embedding cache is the
    configured one, so only the first demo on a machine waits for the models.
    """
    kb_cache = load_settings().kb_cache_dir
    with tempfile.TemporaryDirectory(prefix="safecampus-demo-") as data_dir:
        async with TelegramEmulator() as emu:
            settings = load_settings(
                data_dir=Path(data_dir),
                database_url="",
                telegram_api_url=emu.base_url,
                bot_token=make_token(),
                redis_url=None,
                kb_cache=kb_cache,
            )
            token = settings.require_token().get_secret_value()
            claim_link = await create_school_with_claim_link(
                settings, "Sunshine Primary School", None
            )
            script = Script(emu, echo)
            script.say(
                f"SafeCampus demo: the bot runs against the local emulator at {emu.base_url}"
            )
            if faq is None:
                script.say("Loading the knowledge base (the first run embeds it: a minute or two)…")
            async with polling_in_background(settings, token=token, faq=faq):
                await play(script, claim_link)
    return script.failures
