"""``safecampus demo``: a scripted school day against the local emulator.

The real bot runs over HTTP against the emulator, with a throw-away SQLite database; the
script plays each step as a simulated Telegram user and checks the bot's reply.
"""

from __future__ import annotations

import asyncio
import csv
import io
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from sqlalchemy import select

from bot.app import Application, polling_in_background
from bot.setup import create_school_with_claim_link
from campus.models import Delivery, Notice
from campus.services.outbox import queue_is_idle
from campus.settings import load_settings
from emulator import SimUser, TelegramEmulator
from emulator.testing import make_token
from knowledge_base.engine import FaqEngine
from scheduler.tick import run_tick

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


def describe(message: dict[str, Any]) -> str:
    """A bot message as the transcript shows it: text, or a file or picture and caption."""
    text = str(message.get("text") or message.get("caption") or "")
    if message.get("document"):
        return f"📎 {message['document'].get('file_name', '')} {text}".strip()
    if message.get("photo"):
        return f"🖼 {text}"
    return text


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

    def _check(self, who: SimUser, text: str, expected: str, *, unprompted: bool = False) -> None:
        arrow = f"bot  ⇒  {who.first_name}: " if unprompted else "bot  →  "
        self.say(f"{arrow}{_indent(text)}")
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
        self._check(who, describe(reply), expected)
        buttons = self.emu.button_texts(reply)
        if buttons:
            self.say("        [" + "] [".join(buttons) + "]")
        return reply

    async def edited(self, who: SimUser, expected: str) -> None:
        """Wait until the bot has edited its last message to ``who`` to say ``expected``
        (slow work, such as re-indexing the knowledge base, finishes after the press)."""
        for _attempt in range(int(REPLY_TIMEOUT * 10) * 3):
            last = self.emu.last_message(who) or {}
            if expected in describe(last):
                break
            await asyncio.sleep(0.1)
        self._check(who, describe(self.emu.last_message(who) or {}), expected)

    async def reply(
        self, who: SimUser, message: dict[str, Any], text: str, expected: str
    ) -> dict[str, Any]:
        """``who`` answers by replying to ``message``."""
        self.say(f"{who.first_name}  ↩  {text}")
        await self.emu.send_text(who, text, reply_to=message)
        try:
            [answer] = await self.emu.wait_for_messages(who, count=1, timeout=REPLY_TIMEOUT)
        except TimeoutError:
            self.failures.append(f"{who.first_name}: no reply to their reply")
            self.say("        ✗ no reply")
            return {"text": ""}
        self._check(who, describe(answer), expected)
        return answer

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

    async def press_for_new(
        self, who: SimUser, message: dict[str, Any], button: str, expected: str, count: int = 1
    ) -> dict[str, Any]:
        """Press a button that makes the bot send ``count`` new messages; check the last."""
        await self.press(who, message, button, "")
        return await self.receive(who, expected, count=count)

    async def receive(self, who: SimUser, expected: str, count: int = 1) -> dict[str, Any]:
        """Wait for messages the bot sends ``who`` on its own (notices, reminders)."""
        try:
            messages = await self.emu.wait_for_messages(who, count=count, timeout=REPLY_TIMEOUT)
        except TimeoutError:
            self.failures.append(f"{who.first_name}: nothing arrived (expected {expected!r})")
            self.say("        ✗ nothing arrived")
            return {"text": ""}
        last = messages[-1]
        self._check(who, describe(last), expected, unprompted=True)
        buttons = self.emu.button_texts(last)
        if buttons:
            self.say("        [" + "] [".join(buttons) + "]")
        return last

    async def press(
        self, who: SimUser, message: dict[str, Any], button: str, expected: str
    ) -> dict[str, Any]:
        self.say(f"{who.first_name}  ⏺  [{button}]")
        try:
            data = self.emu.button_data(message, button)
        except (KeyError, LookupError, ValueError):
            self.failures.append(f"{who.first_name}: no button {button!r}")
            self.say(f"        ✗ no button {button!r}")
            return {"text": ""}
        await self.emu.press_button(who, message, data, timeout=REPLY_TIMEOUT)
        edited = self.emu.last_message(who) or {}
        if expected:
            self._check(who, edited.get("text", ""), expected)
        return edited


async def play(script: Script, claim_link: str, app: Application) -> None:
    """The scenario: a school is set up, parents join, one asks questions in English and
    Chinese; a teacher sends a safety alert, one parent acknowledges, the other is reminded,
    and the teacher sees who has confirmed."""
    emu = script.emu
    admin = emu.create_user("Zhang", last_name="Wei", username="zhang_admin", language_code="en")
    parent = emu.create_user("Li", last_name="Na", language_code="en")
    teacher = emu.create_user("Zhou", language_code="en")
    other_parent = emu.create_user("Chen", last_name="Hong", language_code="en")

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

    await join_staff_and_second_parent(script, admin, teacher, other_parent)
    await send_safety_alert(script, app, teacher, parent, other_parent)
    expert = emu.create_user("Sun", language_code="en")
    newcomer = emu.create_user("Zhao", last_name="Lei", language_code="en")
    await ask_an_expert(script, app, admin, expert, other_parent, newcomer)


async def join_staff_and_second_parent(
    script: Script, admin: SimUser, teacher: SimUser, other_parent: SimUser
) -> None:
    script.scene("A teacher joins and is given class 3A")
    reply = await script.send(admin, "/invite_teacher", "invite link for a teacher")
    link = first_link(reply.get("text", "") or "https://t.me/x?start=missing")
    await script.send(teacher, f"/start {start_code(link)}", "You are now a teacher")
    offer = await script.send(admin, "/assign", "")
    panel = await script.press(admin, offer, "Zhou", "Classes of Zhou")
    panel = await script.press(admin, panel, "3A", "")
    await script.press(admin, panel, "Done", "Zhou teaches: 3A")

    script.scene("Invite slips for 3A are printed; Chen Jie's mother scans hers")
    await script.send(admin, "/invites 3A", "")
    sheet = await script.receive(admin, "")
    code = _code_for(script.emu, sheet, "Chen Jie")
    reply = await script.send(other_parent, f"/start {code}", "Chen Jie, class 3A")
    await script.press(other_parent, reply, "Yes, this is my child", "notices about Chen Jie")


def _code_for(emu: TelegramEmulator, csv_message: dict[str, Any], child: str) -> str:
    document = csv_message.get("document") or {}
    if not document:
        return "missing"
    rows = csv.DictReader(io.StringIO(emu.file_bytes(document["file_id"]).decode("utf-8-sig")))
    return next((start_code(r["link"]) for r in rows if r["student"] == child), "missing")


async def send_safety_alert(
    script: Script, app: Application, teacher: SimUser, parent: SimUser, other_parent: SimUser
) -> None:
    script.scene("The teacher sends a drowning-prevention alert to 3A")
    screen = await script.send(teacher, "/notify", "Who should receive it?")
    screen = await script.press(teacher, screen, "3A", "Selected: 3A")
    screen = await script.press(teacher, screen, "Done ➡️", "What kind of notice")
    screen = await script.press(teacher, screen, "⚠️ Safety alert", "")
    screen = await script.press(teacher, screen, "Summer safety: preventing drowning", "")
    screen = await script.press(
        teacher, screen, "✅ Yes, ask them to acknowledge (recommended)", ""
    )
    screen = await script.press(
        teacher, screen, "Deadline 24 h, reminders after 4 h and 12 h (recommended)", ""
    )
    screen = await script.press(teacher, screen, "No, this is real", "")
    summary = await script.press_for_new(teacher, screen, "Now", "Preview", count=2)
    await script.press(teacher, summary, "📤 Send", "is on its way to 2 families")

    script.scene("Both parents receive it, each about their own child, in their language")
    alert = await script.receive(parent, "Wang Fang")
    await script.receive(other_parent, "Chen Jie")
    await _wait_until_recorded(app)
    buttons = script.emu.button_texts(alert)
    if buttons:
        await script.press(parent, alert, buttons[0], "")
        await script.edited(parent, "✅")
    else:
        script.failures.append("the alert has no acknowledge button")

    script.scene("Four hours later (the demo moves the clock): Chen Hong is reminded")
    await _four_hours_later(app)
    await script.receive(other_parent, "⏰ Reminder")

    script.scene("The teacher checks who has confirmed")
    listing = await script.send(teacher, "/notices", "acknowledged 1/2")
    buttons = script.emu.button_texts(listing)
    view = await script.press_for_new(teacher, listing, buttons[0] if buttons else "?", "Chen Jie")
    await script.press_for_new(teacher, view, "📈 Chart", "families who acknowledged (1 of 2)")


EXPERT_ANSWER = (
    "Schools may collect pupils' phones during the school day under the Ministry of "
    "Education's 2021 rules on phones in schools, but those rules do not provide for "
    "keeping a phone for a whole term. Ask the class teacher to give it back to you in "
    "person; if that does not help, write to the principal."
)


async def ask_an_expert(
    script: Script,
    app: Application,
    admin: SimUser,
    expert: SimUser,
    parent: SimUser,
    newcomer: SimUser,
) -> None:
    script.scene("A lawyer joins the school's expert panel")
    reply = await script.send(admin, "/invite_expert law en,zh", "invite link for an expert")
    link = first_link(reply.get("text", "") or "https://t.me/x?start=missing")
    await script.send(expert, f"/start {start_code(link)}", "You are now an expert for law")

    script.scene("Chen Hong asks what the knowledge base cannot answer; an expert replies")
    question = "Can the school keep my son's phone for the whole term after confiscating it?"
    reply = await script.send(parent, question, "reliable answer")
    await script.press_for_new(parent, reply, "Ask an expert", "law")
    offer = await script.receive(expert, "(law) asks")
    await script.press(expert, offer, "✋ Claim", "You claimed it")
    await script.receive(parent, "has taken your question")
    await script.reply(expert, offer, EXPERT_ANSWER, "Sent to Parent")
    await script.receive(parent, "An expert in law replies")
    await _wait_until_recorded(app)

    script.scene("The expert saves the answer for the knowledge base; the admin approves it")
    confirmation = script.emu.last_message(expert) or {}
    await script.press_for_new(expert, confirmation, "💾 Save as FAQ", "Draft saved")
    draft = await script.receive(admin, "New FAQ draft to review")
    await script.press(admin, draft, "Approve", "")
    await script.edited(admin, "Added as learned.law.1")

    script.scene("A new parent asks the same in other words and gets the expert's answer")
    await script.send(
        newcomer, "Is a school allowed to hold on to a phone it took from a pupil?", "whole term"
    )


async def _wait_until_recorded(app: Application) -> None:
    """Until the delivery worker has recorded what it sent (a human is never this fast)."""
    for _attempt in range(100):
        async with app.sessionmaker() as session:
            if await queue_is_idle(session):
                return
        await asyncio.sleep(0.05)


async def _four_hours_later(app: Application) -> None:
    """The demo's clock: move every notice four hours into the past, then let the
    scheduler's tick run as it would have."""
    shift = timedelta(hours=4, minutes=1)
    async with app.sessionmaker() as session, session.begin():
        for notice in await session.scalars(select(Notice)):
            notice.created_at -= shift
            notice.send_at -= shift
            if notice.deadline_at is not None:
                notice.deadline_at -= shift
        for delivery in await session.scalars(select(Delivery)):
            if delivery.next_reminder_at is not None:
                delivery.next_reminder_at -= shift
    await run_tick(app.sessionmaker, app.settings.quiet_window, app.delivery.nudge)


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
                # A script taps faster than any person: no flood guard, no quiet hours.
                flood_rate_per_s=1000.0,
                flood_burst=1000,
                quiet_hours="off",
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
            # The demo teaches its knowledge base a new entry: never the caller's copy.
            own_faq = faq.clone() if faq is not None else None
            async with polling_in_background(settings, token=token, faq=own_faq) as app:
                await play(script, claim_link, app)
    return script.failures
