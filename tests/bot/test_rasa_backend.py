"""End to end with SAFECAMPUS_NLU=rasa: a fake Rasa server on a free local port answers
``/model/parse``; the built-in retriever takes over when it is down or slow, and crisis
messages never reach it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from campus.models import FaqQuestion
from campus.settings import ConfigError, NluBackend, load_settings
from knowledge_base.rasa_export import rasa_key
from tests.bot.conftest import LiveBot

#: shorter than the slow server's delay, long enough for a busy 2-core machine
TIMEOUT_S = 0.5
SLEEP_QUESTION = "how many hours should a 9 year old sleep"
CRISIS_MESSAGE = "my son said he wants to die and has been giving away his things"


def rasa_reply(entry_id: str, confidence: float = 0.95) -> dict[str, Any]:
    """A /model/parse result choosing ``entry_id``, shaped like Rasa 3.6's."""
    key = f"faq/{rasa_key(entry_id)}"
    return {
        "intent": {"name": "faq", "confidence": 1.0},
        "response_selector": {
            "all_retrieval_intents": ["faq"],
            "faq": {
                "response": {"confidence": confidence, "intent_response_key": key},
                "ranking": [
                    {"confidence": confidence, "intent_response_key": key},
                    {"confidence": 0.01, "intent_response_key": "faq/law_bullying"},
                ],
            },
        },
    }


class FakeRasa:
    """A Rasa server stand-in: answers every question with ``entry_id``, optionally late;
    records the texts it was asked; ``stop`` makes it unreachable."""

    def __init__(self) -> None:
        self.entry_id = "safety.drowning_prevention"
        self.delay_s = 0.0
        self.texts: list[str] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/model/parse", self._parse)
        self._runner = web.AppRunner(app, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _parse(self, request: web.Request) -> web.Response:
        self.texts.append((await request.json())["text"])
        await asyncio.sleep(self.delay_s)
        return web.json_response(rasa_reply(self.entry_id))


@pytest.fixture
async def fake_rasa() -> AsyncIterator[FakeRasa]:
    server = FakeRasa()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def settings_overrides(fake_rasa: FakeRasa) -> dict[str, Any]:
    return {"nlu": "rasa", "rasa_url": fake_rasa.url, "rasa_timeout_s": TIMEOUT_S}


async def _last_question(live: LiveBot, count: int = 1) -> FaqQuestion:
    """The latest recorded question, once ``count`` are recorded (the reply can arrive
    before the update's transaction commits)."""
    for _ in range(100):
        async with live.sessionmaker() as session:
            questions = (await session.scalars(select(FaqQuestion).order_by(FaqQuestion.id))).all()
        if len(questions) >= count:
            return questions[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} recorded questions, found {len(questions)}")


async def test_the_answer_comes_from_rasa(live: LiveBot, fake_rasa: FakeRasa) -> None:
    assert live.settings.nlu is NluBackend.RASA
    fake_rasa.entry_id = "psych.sleep"
    parent = live.emu.create_user("Li", language_code="en")
    # nothing the built-in retriever could answer: only Rasa's choice explains the reply
    reply = await live.send(parent, "zq wibble plorf")
    assert reply["text"].startswith("Sleep")
    assert "Source: " in reply["text"]
    assert fake_rasa.texts == ["zq wibble plorf"]
    question = await _last_question(live)
    assert (question.decision, question.entry_id) == ("answer", "psych.sleep")
    assert question.confidence == pytest.approx(0.95)


async def test_rasa_down_the_built_in_answer_still_arrives(
    live: LiveBot, fake_rasa: FakeRasa
) -> None:
    await fake_rasa.stop()
    parent = live.emu.create_user("Li", language_code="en")
    for _ in range(2):
        reply = await live.send(parent, SLEEP_QUESTION)
        assert reply["text"].startswith("Sleep")
    question = await _last_question(live, count=2)
    assert (question.decision, question.entry_id) == ("answer", "psych.sleep")


async def test_rasa_too_slow_the_built_in_answer_arrives(
    live: LiveBot, fake_rasa: FakeRasa
) -> None:
    fake_rasa.delay_s = 3.0  # it would answer drowning prevention, too late
    parent = live.emu.create_user("Li", language_code="en")
    reply = await live.send(parent, SLEEP_QUESTION)
    assert fake_rasa.texts == [SLEEP_QUESTION]
    assert reply["text"].startswith("Sleep")
    question = await _last_question(live)
    assert (question.decision, question.entry_id) == ("answer", "psych.sleep")


async def test_a_crisis_is_answered_without_asking_rasa(live: LiveBot, fake_rasa: FakeRasa) -> None:
    parent = live.emu.create_user("Li", language_code="en")
    reply = await live.send(parent, CRISIS_MESSAGE)
    assert reply["text"].startswith("If your child is in danger right now, call 120")
    assert fake_rasa.texts == []
    question = await _last_question(live)
    assert question.decision == "crisis"


def test_rasa_without_its_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="SAFECAMPUS_NLU=rasa needs SAFECAMPUS_RASA_URL"):
        load_settings(nlu="rasa", rasa_url=None)
    assert load_settings(nlu="rasa", rasa_url="http://127.0.0.1:5005").nlu is NluBackend.RASA


def test_cli_refuses_rasa_without_its_url(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFECAMPUS_")}
    env.update(SAFECAMPUS_DATA_DIR=str(tmp_path), SAFECAMPUS_NLU="rasa")
    result = subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "run"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "SAFECAMPUS_NLU=rasa needs SAFECAMPUS_RASA_URL" in result.stderr
