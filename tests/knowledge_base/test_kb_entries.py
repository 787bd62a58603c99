"""Loading entries and the topic list."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from knowledge_base.entries import ContentError, load_entries, load_topics
from knowledge_base.knowledge import KnowledgeBase


def test_load_topics_reads_ids_and_categories(fixture_topics: Path) -> None:
    topics = load_topics(fixture_topics)
    assert [t.id for t in topics] == [
        "safety.drowning_prevention",
        "law.bullying",
        "psych.self_harm_crisis",
    ]
    assert topics[1].category == "law"


def test_load_entries_parses_every_file(fixture_content: Path) -> None:
    entries = load_entries(fixture_content)
    assert sorted(e.id for e in entries) == [
        "law.bullying",
        "psych.self_harm_crisis",
        "safety.drowning_prevention",
    ]
    drowning = next(e for e in entries if e.id == "safety.drowning_prevention")
    assert drowning.title.in_lang("zh") == "预防溺水"
    assert len(drowning.questions.en) == 6
    assert drowning.review.review_due.year == 2099


def test_knowledge_base_lookup_and_urgent_entry(fixture_content: Path) -> None:
    kb = KnowledgeBase.load(fixture_content)
    assert len(kb) == 3
    assert "law.bullying" in kb
    assert kb.get("nope") is None
    assert kb.urgent_entry is not None and kb.urgent_entry.urgent


def test_content_hash_changes_with_content(content_copy: Path) -> None:
    before = KnowledgeBase.load(content_copy).content_hash()
    path = content_copy / "law.bullying.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data["keywords"]["en"].append("cyberbullying")
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    assert KnowledgeBase.load(content_copy).content_hash() != before


def test_invalid_file_raises_content_error_naming_it(content_copy: Path) -> None:
    path = content_copy / "law.bullying.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data["colour"] = "blue"  # unknown keys are errors: typos must not pass silently
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    with pytest.raises(ContentError) as caught:
        load_entries(content_copy)
    assert "law.bullying.yaml" in str(caught.value)


def test_source_without_url_is_allowed(fixture_content: Path) -> None:
    entry = next(e for e in load_entries(fixture_content) if e.id == "law.bullying")
    assert entry.sources[0].url is None
    assert "art. 39" in entry.source_line()
