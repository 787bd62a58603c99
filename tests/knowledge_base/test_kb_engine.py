"""The engine with the real models on the fixture entries: languages, crisis, reload."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import yaml

from knowledge_base.encoders import Encoder
from knowledge_base.engine import FaqEngine
from knowledge_base.entries import ContentError, Entry
from knowledge_base.index import EmbeddingCache
from knowledge_base.knowledge import KnowledgeBase
from knowledge_base.retriever import Retriever


def test_encoders_return_unit_vectors(models: list[Encoder]) -> None:
    for model in models:
        vectors = model.encode(["is swimming in the river safe", "孩子在河里游泳安全吗"])
        assert vectors.shape == (2, model.dim)
        assert abs(float((vectors**2).sum(axis=1).max()) - 1.0) < 1e-4
        assert model.encode([]).shape == (0, model.dim)


def test_english_question_is_answered(engine: FaqEngine) -> None:
    decision = engine.ask("is it ok for my 9 year old to swim in the river with friends", "en")
    assert decision.entry_id == "safety.drowning_prevention"
    assert decision.decision == "answer"
    assert decision.language == "en"
    assert decision.top3[0] == "safety.drowning_prevention"


def test_chinese_question_is_answered_in_chinese(engine: FaqEngine) -> None:
    decision = engine.ask("学校不处理校园欺凌，我可以去哪里投诉")
    assert decision.entry_id == "law.bullying"
    assert decision.language == "zh"  # detected
    entry = engine.entry(decision.entry_id)
    assert entry is not None and "学校" in entry.answer.in_lang(decision.language)


def english_only(entry: Entry) -> Entry:
    """The entry with every Chinese text replaced by its English one."""
    update = {
        name: getattr(entry, name).model_copy(update={"zh": getattr(entry, name).en})
        for name in ("title", "answer", "questions", "keywords")
    }
    return entry.model_copy(update=update)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("孩子可以去水库游泳吗", "safety.drowning_prevention"),
        ("学校对欺凌不管不问，家长怎么办", "law.bullying"),
    ],
)
def test_chinese_question_finds_an_entry_through_its_english_texts(
    knowledge: KnowledgeBase,
    models: list[Encoder],
    model_cache: EmbeddingCache,
    question: str,
    expected: str,
) -> None:
    index = KnowledgeBase(tuple(english_only(e) for e in knowledge))
    retriever = Retriever(index, models, model_cache)
    assert retriever.rank(question).ids[0] == expected


def test_crisis_message_bypasses_retrieval(engine: FaqEngine) -> None:
    decision = engine.ask("my daughter just told me she wants to kill herself tonight")
    assert decision.decision == "crisis"
    assert decision.crisis_kind == "self_harm"
    assert decision.entry_id == "psych.self_harm_crisis"
    reply = engine.crisis_text(decision)
    assert reply is not None and "120" in reply and "12356" in reply


def test_abuse_crisis_keeps_the_best_entry(engine: FaqEngine) -> None:
    decision = engine.ask("女儿说补课老师摸她，还不让她告诉别人")
    assert decision.decision == "crisis"
    assert decision.crisis_kind == "abuse"
    reply = engine.crisis_text(decision)
    assert reply is not None and "110" in reply


def test_off_topic_question_is_not_answered(engine: FaqEngine) -> None:
    for question in ("how do I bake bread", "明天几点放学"):
        assert engine.ask(question).decision != "answer", question


def test_empty_question_goes_to_an_expert(engine: FaqEngine) -> None:
    decision = engine.ask("   ", "zh")
    assert decision.decision == "expert"
    assert decision.entry_id is None and decision.top3 == []


def test_ask_many_matches_ask(engine: FaqEngine) -> None:
    questions = ["how do I keep toddlers safe near a pool", "孩子被欺凌要保留哪些证据"]
    batch = engine.ask_many(questions, ["en", None])
    assert [d.entry_id for d in batch] == [engine.ask(q).entry_id for q in questions]


def test_to_dict_has_the_batch_fields(engine: FaqEngine) -> None:
    data = engine.ask("water safety for kids").to_dict()
    assert {"decision", "entry_id", "confidence", "top3"} <= set(data)


def test_reload_swaps_in_new_content(
    content_copy: Path,
    models: list[Encoder],
    model_cache: EmbeddingCache,
    engine: FaqEngine,
) -> None:
    local = FaqEngine(
        Retriever(KnowledgeBase.load(content_copy), models, model_cache),
        engine.thresholds,
        encoders=models,
        cache=model_cache,
    )
    (content_copy / "law.bullying.yaml").unlink()
    answers: list[str | None] = []
    reader = threading.Thread(
        target=lambda: answers.extend(
            local.ask("when should I call the police about bullying").entry_id for _ in range(5)
        )
    )
    reader.start()
    reloaded = local.reload()
    reader.join()
    assert "law.bullying" not in reloaded
    assert "law.bullying" not in local.knowledge_base
    assert len(answers) == 5  # questions during the reload were answered, old or new index


def test_reload_with_broken_content_keeps_the_old_index(
    content_copy: Path,
    models: list[Encoder],
    model_cache: EmbeddingCache,
    engine: FaqEngine,
) -> None:
    local = FaqEngine(
        Retriever(KnowledgeBase.load(content_copy), models, model_cache),
        engine.thresholds,
        encoders=models,
        cache=model_cache,
    )
    path = content_copy / "law.bullying.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    del data["answer"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    with pytest.raises(ContentError):
        local.reload()
    assert "law.bullying" in local.knowledge_base


def test_create_builds_from_a_directory_with_packaged_defaults(
    fixture_content: Path, models: list[Encoder], model_cache: EmbeddingCache
) -> None:
    created = FaqEngine.create(fixture_content, encoders=models, cache_dir=model_cache.directory)
    assert len(created.knowledge_base) == 3
    assert created.retriever.has_reject_class  # calibration/not_in_scope.yaml
    decision = created.ask("当地哪里可以投诉校园欺凌")
    assert decision.top3[0] == "law.bullying"


def test_reload_keeps_the_reject_class(engine: FaqEngine) -> None:
    before = engine.retriever
    engine.reload()  # same fixture content: a new index, same setup
    assert engine.retriever is not before
    assert engine.retriever.has_reject_class
    assert engine.retriever.reject_examples == before.reject_examples
