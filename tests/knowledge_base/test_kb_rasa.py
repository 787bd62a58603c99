"""Rasa interop: the exported training data and the /model/parse client (no Rasa needed)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from click.testing import CliRunner

from knowledge_base import cli
from knowledge_base.engine import Decision, FaqEngine
from knowledge_base.entries import Lang
from knowledge_base.index import EmbeddingCache
from knowledge_base.knowledge import KnowledgeBase
from knowledge_base.nlu_backend import BuiltinNlu, RasaBackedNlu
from knowledge_base.rasa_export import (
    KEY_MAP_FILE,
    OUT_OF_SCOPE_INTENT,
    build_key_map,
    clean_example,
    export_rasa,
    load_key_map,
    rasa_key,
)
from knowledge_base.rasa_nlu import (
    RasaNlu,
    RasaReading,
    RasaThresholds,
    RasaUnavailable,
    combine,
)
from knowledge_base.retriever import RetrievalConfig, Retriever
from tests.knowledge_base.conftest import FIXTURE_THRESHOLDS, CountingEncoder

Handler = Callable[[web.Request], Any]
REJECTS: dict[Lang, list[str]] = {
    "en": ["when is the half-term break", "what is on the lunch menu"],
    "zh": ["学费多少钱"],
}


def _examples(block: str) -> list[str]:
    lines = block.splitlines()
    assert all(line.startswith("- ") for line in lines), block
    return [line[2:] for line in lines]


@pytest.fixture
def exported(knowledge: KnowledgeBase, tmp_path: Path) -> Path:
    export_rasa(knowledge, tmp_path / "rasa", reject_examples=REJECTS)
    return tmp_path / "rasa"


def test_export_nlu_has_a_retrieval_intent_per_entry(
    knowledge: KnowledgeBase, exported: Path
) -> None:
    nlu = yaml.safe_load((exported / "data" / "nlu.yml").read_text("utf-8"))
    assert nlu["version"] == "3.1"
    intents = {item["intent"]: _examples(item["examples"]) for item in nlu["nlu"]}
    for entry in knowledge:
        examples = intents[f"faq/{rasa_key(entry.id)}"]
        assert len(examples) >= 6
        assert set(entry.questions.en) <= set(examples)
        assert set(entry.questions.zh) <= set(examples)
    assert set(intents[OUT_OF_SCOPE_INTENT]) == {*REJECTS["en"], *REJECTS["zh"]}
    assert len(intents) == len(knowledge) + 1


def test_export_domain_has_a_response_per_key(knowledge: KnowledgeBase, exported: Path) -> None:
    domain = yaml.safe_load((exported / "domain.yml").read_text("utf-8"))
    assert domain["intents"] == ["faq", OUT_OF_SCOPE_INTENT]
    assert set(domain["responses"]) == {f"utter_faq/{rasa_key(e.id)}" for e in knowledge}
    entry = knowledge.entries[0]
    variants = domain["responses"][f"utter_faq/{rasa_key(entry.id)}"]
    assert {v["text"] for v in variants} == {entry.answer.en.strip(), entry.answer.zh.strip()}
    assert domain["slots"]["language"]["values"] == ["en", "zh"]


def test_export_config_is_a_multilingual_response_selector_pipeline(exported: Path) -> None:
    config = yaml.safe_load((exported / "config.yml").read_text("utf-8"))
    assert config["language"] == "xx"
    names = [component["name"] for component in config["pipeline"]]
    assert names[0].endswith("Tokenizer")
    assert "DIETClassifier" in names
    selector = config["pipeline"][names.index("ResponseSelector")]
    assert selector["retrieval_intent"] == "faq"
    assert any(c.get("analyzer") == "char_wb" for c in config["pipeline"])


def test_export_key_map_round_trips(knowledge: KnowledgeBase, exported: Path) -> None:
    key_map = load_key_map(exported / KEY_MAP_FILE)
    assert sorted(key_map.values()) == sorted(knowledge.ids)
    assert all(key == rasa_key(entry_id) for key, entry_id in key_map.items())
    assert key_map["safety_drowning_prevention"] == "safety.drowning_prevention"


def test_key_collisions_are_refused() -> None:
    with pytest.raises(ValueError, match="share Rasa key"):
        build_key_map(["a.b_c", "a_b.c"])


def test_examples_are_single_safe_lines() -> None:
    assert clean_example("  what if\nmy child [age 7](x)  ") == "what if my child (age 7)(x)"
    assert clean_example("- leading dash") == "leading dash"


def test_cli_export_rasa(fixture_content: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli.kb_group, ["export-rasa", str(tmp_path / "out"), "--content", str(fixture_content)]
    )
    assert result.exit_code == 0, result.output
    assert "3 FAQ intents" in result.stdout
    assert "rasa train nlu" in result.stdout
    assert (tmp_path / "out" / "data" / "nlu.yml").is_file()


def parse_result(
    key: str = "faq/safety_drowning_prevention", confidence: float = 0.91
) -> dict[str, Any]:
    """A /model/parse answer shaped like Rasa 3.6's (response selector with ranking)."""
    return {
        "text": "can my kids swim in the lake",
        "intent": {"name": "faq", "confidence": 0.9999},
        "entities": [],
        "intent_ranking": [
            {"name": "faq", "confidence": 0.9999},
            {"name": "out_of_scope", "confidence": 0.0001},
        ],
        "response_selector": {
            "all_retrieval_intents": ["faq"],
            "faq": {
                "response": {
                    "id": -123,
                    "responses": [{"text": "Never let children swim alone."}],
                    "response_templates": [{"text": "Never let children swim alone."}],
                    "confidence": confidence,
                    "intent_response_key": key,
                    "utter_action": f"utter_{key}",
                    "template_name": f"utter_{key}",
                },
                "ranking": [
                    {"id": -123, "confidence": confidence, "intent_response_key": key},
                    {"id": 45, "confidence": 0.06, "intent_response_key": "faq/law_bullying"},
                ],
            },
        },
    }


def small_margin_result() -> dict[str, Any]:
    """Confident enough, but the runner-up is too close to trust the first."""
    result = parse_result(confidence=0.55)
    result["response_selector"]["faq"]["ranking"][1]["confidence"] = 0.5
    return result


@pytest.fixture
async def rasa_server() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """Start a fake Rasa server on 127.0.0.1 with a given /model/parse handler."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_post("/model/parse", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


def _client(url: str, knowledge: KnowledgeBase, **kwargs: Any) -> RasaNlu:
    return RasaNlu.for_entries(url, knowledge.ids, **kwargs)


def _replying(payload: Any, status: int = 200) -> Handler:
    async def handler(_: web.Request) -> web.Response:
        return web.json_response(payload, status=status)

    return handler


async def test_parse_maps_the_response_key_to_the_entry(
    rasa_server: Any, knowledge: KnowledgeBase
) -> None:
    seen: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(await request.json())
        return web.json_response(parse_result())

    async with _client(await rasa_server(handler), knowledge) as nlu:
        reading = await nlu.parse("can my kids swim in the lake")
    assert seen == [{"text": "can my kids swim in the lake"}]
    assert reading.entry_id == "safety.drowning_prevention"
    assert reading.intent == "faq"
    assert reading.confidence == pytest.approx(0.91)
    assert reading.margin == pytest.approx(0.85)
    assert reading.entry_ids == ["safety.drowning_prevention", "law.bullying"]


def test_interpret_drops_unknown_runners_up(knowledge: KnowledgeBase) -> None:
    payload = parse_result()
    payload["response_selector"]["faq"]["ranking"].insert(
        1, {"id": 7, "confidence": 0.02, "intent_response_key": "faq/retired_entry"}
    )
    reading = _client("http://rasa", knowledge).interpret(payload)
    assert reading.entry_ids == ["safety.drowning_prevention", "law.bullying"]


def test_reading_alone_has_its_whole_confidence_as_margin() -> None:
    reading = RasaReading("faq", 1.0, (("law.bullying", 0.7),))
    assert reading.margin == pytest.approx(0.7)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (parse_result(key="faq/no_such_entry"), "unknown response key"),
        (parse_result(key="chitchat/law_bullying"), "unknown response key"),
        ({"intent": {"name": "faq", "confidence": 1.0}}, "no 'faq' response selection"),
        (["not", "a", "mapping"], "not a JSON object"),
    ],
    ids=["unknown-key", "other-retrieval-intent", "no-selector", "list"],
)
async def test_parse_refuses_unusable_replies(
    rasa_server: Any, knowledge: KnowledgeBase, payload: Any, reason: str
) -> None:
    async with _client(await rasa_server(_replying(payload)), knowledge) as nlu:
        with pytest.raises(RasaUnavailable, match=reason):
            await nlu.parse("anything")


async def test_parse_refuses_a_server_error(rasa_server: Any, knowledge: KnowledgeBase) -> None:
    async with _client(await rasa_server(_replying({"error": "boom"}, 500)), knowledge) as nlu:
        with pytest.raises(RasaUnavailable, match="HTTP 500"):
            await nlu.parse("can my kids swim in the lake")


async def test_parse_refuses_garbage_json(rasa_server: Any, knowledge: KnowledgeBase) -> None:
    async def handler(_: web.Request) -> web.Response:
        return web.Response(text="{not json", content_type="application/json")

    async with _client(await rasa_server(handler), knowledge) as nlu:
        with pytest.raises(RasaUnavailable, match="not JSON"):
            await nlu.parse("can my kids swim in the lake")


async def test_parse_gives_up_after_the_timeout(rasa_server: Any, knowledge: KnowledgeBase) -> None:
    async def handler(_: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response(parse_result())

    async with _client(await rasa_server(handler), knowledge, timeout=0.2) as nlu:
        with pytest.raises(RasaUnavailable, match=r"no answer within 0\.2 s"):
            await nlu.parse("can my kids swim in the lake")


async def test_parse_refuses_when_nothing_listens(knowledge: KnowledgeBase) -> None:
    async with _client("http://127.0.0.1:9", knowledge, timeout=0.5) as nlu:
        with pytest.raises(RasaUnavailable):
            await nlu.parse("can my kids swim in the lake")


def test_use_entries_replaces_the_key_map(knowledge: KnowledgeBase) -> None:
    nlu = _client("http://rasa", knowledge)
    nlu.use_entries(["law.bullying"])
    assert nlu.key_map == {"law_bullying": "law.bullying"}
    with pytest.raises(RasaUnavailable, match="unknown response key"):
        nlu.interpret(parse_result())


@pytest.mark.parametrize(
    ("reading", "accepted"),
    [
        (RasaReading("faq", 1.0, (("a", 0.91), ("b", 0.05))), True),
        (RasaReading("faq", 1.0, (("a", 0.30), ("b", 0.05))), False),  # not confident
        (RasaReading("faq", 1.0, (("a", 0.55), ("b", 0.50))), False),  # runner-up too close
        (RasaReading("out_of_scope", 0.97, (("a", 0.91),)), False),  # DIET declined
        (RasaReading(None, None, (("a", 0.91),)), True),  # no intent classifier
    ],
    ids=["confident", "low-confidence", "small-margin", "out-of-scope", "no-intent"],
)
def test_thresholds(reading: RasaReading, accepted: bool) -> None:
    assert RasaThresholds(min_confidence=0.5, min_margin=0.1).accepts(reading) is accepted


READING = RasaReading("faq", 1.0, (("law.bullying", 0.8), ("safety.drowning_prevention", 0.2)))


def test_combine_answers_rasa_reading() -> None:
    decision = Decision("suggest", "safety.drowning_prevention", 0.3, ["x", "y", "z"], "en")
    combined = combine(READING, decision)
    assert combined.decision == "answer"
    assert combined.entry_id == "law.bullying"
    assert combined.confidence == pytest.approx(0.8)
    assert combined.top3 == ["law.bullying", "safety.drowning_prevention", "x"]
    assert combined.language == "en"


def test_combine_keeps_crisis_and_falls_back() -> None:
    crisis = Decision(
        "crisis", "psych.self_harm_crisis", 1.0, ["psych.self_harm_crisis"], "zh", "self_harm"
    )
    assert combine(READING, crisis) is crisis
    plain = Decision("expert", None, 0.0, [], "en")
    assert combine(None, plain) is plain


def test_combine_treats_the_urgent_entry_as_a_crisis() -> None:
    urgent = RasaReading("faq", 1.0, (("psych.self_harm_crisis", 0.9),))
    combined = combine(urgent, Decision("expert", None, 0.0, [], "en"))
    assert (combined.decision, combined.entry_id) == ("crisis", "psych.self_harm_crisis")
    assert combined.crisis_kind is None  # the handler shows the entry, not the alarm text


# --- the backend the bot uses -----------------------------------------------------------


class FakeRasa:
    """A /model/parse handler whose reply can change between questions; counts requests."""

    def __init__(self) -> None:
        self.status = 200
        self.payload: Any = parse_result(key="faq/law_bullying")
        self.texts: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.texts.append((await request.json())["text"])
        return web.json_response(self.payload, status=self.status)


@pytest.fixture
def small_engine(
    content_copy: Path, counting_encoder: CountingEncoder, fake_config: RetrievalConfig
) -> FaqEngine:
    """A quick engine (fake encoder) on a writable copy of the fixture entries."""
    retriever = Retriever(
        KnowledgeBase.load(content_copy),
        [counting_encoder],
        EmbeddingCache(None),
        fake_config,
        REJECTS,
    )
    return FaqEngine(retriever, FIXTURE_THRESHOLDS)


async def _backend(
    rasa_server: Any, engine: FaqEngine, fake: FakeRasa, retry_after_s: float = 0.0
) -> RasaBackedNlu:
    url = await rasa_server(fake.handle)
    rasa = RasaNlu.for_entries(url, engine.knowledge_base.ids, timeout=1.0)
    thresholds = RasaThresholds(min_confidence=0.5, min_margin=0.1)
    return RasaBackedNlu(engine, rasa, thresholds, retry_after_s=retry_after_s)


async def test_builtin_backend_is_the_engine(small_engine: FaqEngine) -> None:
    question = "what should I do if my child is bullied"
    assert await BuiltinNlu(small_engine).ask(question) == small_engine.ask(question)


async def test_backend_answers_from_rasa(rasa_server: Any, small_engine: FaqEngine) -> None:
    fake = FakeRasa()
    nlu = await _backend(rasa_server, small_engine, fake)
    question = "what should I do if my child is bullied"
    assert small_engine.ask(question).entry_id != "law.bullying"  # the fake encoder is crude
    try:
        decision = await nlu.ask(question, "en")
    finally:
        await nlu.close()
    assert fake.texts == [question]
    assert (decision.decision, decision.entry_id) == ("answer", "law.bullying")
    assert decision.language == "en"


async def test_backend_falls_back_when_rasa_declines(
    rasa_server: Any, small_engine: FaqEngine
) -> None:
    fake = FakeRasa()
    fake.payload = parse_result(key="faq/law_bullying", confidence=0.2)
    nlu = await _backend(rasa_server, small_engine, fake)
    question = "what should I do if my child is bullied"
    try:
        decision = await nlu.ask(question)
    finally:
        await nlu.close()
    assert fake.texts == [question]
    assert decision == small_engine.ask(question)


async def test_backend_never_sends_a_crisis_to_rasa(
    rasa_server: Any, small_engine: FaqEngine
) -> None:
    fake = FakeRasa()
    nlu = await _backend(rasa_server, small_engine, fake)
    try:
        decision = await nlu.ask("我女儿说不想活了")
    finally:
        await nlu.close()
    assert fake.texts == []
    assert (decision.decision, decision.crisis_kind) == ("crisis", "self_harm")


async def test_backend_warns_once_per_outage(
    rasa_server: Any, small_engine: FaqEngine, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeRasa()
    nlu = await _backend(rasa_server, small_engine, fake)
    question = "what should I do if my child is bullied"
    builtin = small_engine.ask(question)
    caplog.set_level("INFO", logger="knowledge_base.nlu_backend")
    try:
        fake.status = 503
        assert [await nlu.ask(question) for _ in range(3)] == [builtin] * 3
        assert not nlu.available
        fake.status = 200
        assert (await nlu.ask(question)).entry_id == "law.bullying"
        assert nlu.available
        fake.payload = "garbage"
        assert await nlu.ask(question) == builtin
    finally:
        await nlu.close()
    assert len(fake.texts) == 5
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [level for level, _ in messages] == ["WARNING", "INFO", "WARNING"]
    assert "HTTP 503" in messages[0][1] and "built-in retriever" in messages[0][1]
    assert "not a JSON object" in messages[2][1]


async def test_backend_pauses_rasa_during_an_outage(
    rasa_server: Any, small_engine: FaqEngine
) -> None:
    fake = FakeRasa()
    nlu = await _backend(rasa_server, small_engine, fake, retry_after_s=3600)
    question = "what should I do if my child is bullied"
    try:
        fake.status = 500
        await nlu.ask(question)
        fake.status = 200  # back, but not tried again before the pause is over
        assert await nlu.ask(question) == small_engine.ask(question)
        assert len(fake.texts) == 1
        nlu.retry_after_s = 0.0
        assert (await nlu.ask(question)).entry_id == "law.bullying"
    finally:
        await nlu.close()
    assert len(fake.texts) == 2


async def test_backend_follows_a_reload(
    rasa_server: Any, small_engine: FaqEngine, content_copy: Path
) -> None:
    fake = FakeRasa()  # answers law.bullying
    nlu = await _backend(rasa_server, small_engine, fake)
    question = "what should I do if my child is bullied"
    try:
        assert (await nlu.ask(question)).entry_id == "law.bullying"
        (content_copy / "law.bullying.yaml").unlink()
        small_engine.reload(content_copy)
        decision = await nlu.ask(question)
    finally:
        await nlu.close()
    assert decision == small_engine.ask(question)  # a key of a removed entry: fallback
    assert decision.entry_id != "law.bullying"
