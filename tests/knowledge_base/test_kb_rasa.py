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
from knowledge_base.engine import Decision
from knowledge_base.entries import Lang
from knowledge_base.knowledge import KnowledgeBase
from knowledge_base.rasa_export import (
    KEY_MAP_FILE,
    OUT_OF_SCOPE_INTENT,
    build_key_map,
    clean_example,
    export_rasa,
    load_key_map,
    rasa_key,
)
from knowledge_base.rasa_nlu import RasaGuess, RasaNlu, combine

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


async def test_parse_maps_the_response_key_to_the_entry(
    rasa_server: Any, knowledge: KnowledgeBase
) -> None:
    seen: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(await request.json())
        return web.json_response(parse_result())

    async with _client(await rasa_server(handler), knowledge) as nlu:
        guess = await nlu.parse("can my kids swim in the lake")
    assert seen == [{"text": "can my kids swim in the lake"}]
    assert guess is not None
    assert guess.entry_id == "safety.drowning_prevention"
    assert guess.confidence == pytest.approx(0.91)
    assert guess.margin == pytest.approx(0.85)
    assert guess.ranking == ("safety.drowning_prevention", "law.bullying")


@pytest.mark.parametrize(
    "payload",
    [
        parse_result(confidence=0.3),  # below min_confidence
        small_margin_result(),
        parse_result(key="faq/no_such_entry"),
        parse_result() | {"intent": {"name": "out_of_scope", "confidence": 0.97}},
        {"intent": {"name": "faq", "confidence": 1.0}},  # no response selector
        ["not", "a", "mapping"],
    ],
    ids=["low-confidence", "small-margin", "unknown-key", "out-of-scope", "no-selector", "list"],
)
async def test_parse_rejects_unusable_answers(
    rasa_server: Any, knowledge: KnowledgeBase, payload: Any
) -> None:
    async def handler(_: web.Request) -> web.Response:
        return web.json_response(payload)

    async with _client(await rasa_server(handler), knowledge) as nlu:
        assert await nlu.parse("anything") is None


async def test_parse_returns_none_on_server_error(
    rasa_server: Any, knowledge: KnowledgeBase
) -> None:
    async def handler(_: web.Request) -> web.Response:
        return web.json_response({"error": "boom"}, status=500)

    async with _client(await rasa_server(handler), knowledge) as nlu:
        assert await nlu.parse("can my kids swim in the lake") is None


async def test_parse_returns_none_on_garbage_json(
    rasa_server: Any, knowledge: KnowledgeBase
) -> None:
    async def handler(_: web.Request) -> web.Response:
        return web.Response(text="{not json", content_type="application/json")

    async with _client(await rasa_server(handler), knowledge) as nlu:
        assert await nlu.parse("can my kids swim in the lake") is None


async def test_parse_returns_none_on_timeout(rasa_server: Any, knowledge: KnowledgeBase) -> None:
    async def handler(_: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response(parse_result())

    async with _client(await rasa_server(handler), knowledge, timeout=0.2) as nlu:
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await nlu.parse("can my kids swim in the lake") is None
        assert loop.time() - started < 1.5


async def test_parse_returns_none_when_nothing_listens(knowledge: KnowledgeBase) -> None:
    async with _client("http://127.0.0.1:9", knowledge, timeout=0.5) as nlu:
        assert await nlu.parse("can my kids swim in the lake") is None


def test_from_env_selects_the_backend(knowledge: KnowledgeBase) -> None:
    assert RasaNlu.from_env(knowledge.ids, {}) is None
    env = {"SAFECAMPUS_NLU": "rasa", "SAFECAMPUS_RASA_URL": "http://rasa:5005/"}
    nlu = RasaNlu.from_env(knowledge.ids, env)
    assert nlu is not None
    assert nlu.url == "http://rasa:5005"
    with pytest.raises(ValueError, match="SAFECAMPUS_RASA_URL"):
        RasaNlu.from_env(knowledge.ids, {"SAFECAMPUS_NLU": "rasa"})


GUESS = RasaGuess("law.bullying", 0.8, 0.6, ("law.bullying", "safety.drowning_prevention"))


def test_combine_answers_rasa_guess() -> None:
    decision = Decision("suggest", "safety.drowning_prevention", 0.3, ["x", "y", "z"], "en")
    combined = combine(GUESS, decision)
    assert combined.decision == "answer"
    assert combined.entry_id == "law.bullying"
    assert combined.top3 == ["law.bullying", "safety.drowning_prevention", "x"]
    assert combined.language == "en"


def test_combine_keeps_crisis_and_falls_back() -> None:
    crisis = Decision(
        "crisis", "psych.self_harm_crisis", 1.0, ["psych.self_harm_crisis"], "zh", "self_harm"
    )
    assert combine(GUESS, crisis) is crisis
    plain = Decision("expert", None, 0.0, [], "en")
    assert combine(None, plain) is plain
