"""The content validator: the fixture passes, and each broken variant names its error."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from knowledge_base.validate import normalize_question, validate_content

Mutation = Callable[[dict[str, Any]], None]


def _rewrite(directory: Path, name: str, mutate: Mutation) -> None:
    path = directory / name
    data = yaml.safe_load(path.read_text("utf-8"))
    mutate(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")


def test_fixture_content_is_valid(fixture_content: Path, fixture_topics: Path) -> None:
    report = validate_content(fixture_content, fixture_topics, today=dt.date(2027, 1, 1))
    assert report.ok, [str(i) for i in report.issues]
    assert report.issues == []
    assert len(report.entries) == 3


def _drop(key: str) -> Mutation:
    return lambda d: d.pop(key)


def _set(path: tuple[str, ...], value: object) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


CASES: list[tuple[str, str, Mutation]] = [
    ("schema", "law.bullying.yaml", _drop("review")),
    ("schema", "law.bullying.yaml", _set(("sources",), [])),
    ("schema", "law.bullying.yaml", _set(("category",), "sports")),
    ("schema", "law.bullying.yaml", _set(("answer", "zh"), "")),
    ("filename_mismatch", "law.bullying.yaml", _set(("id",), "law.guardianship")),
    ("wrong_language", "law.bullying.yaml", _set(("title", "zh"), "Bullying")),
    (
        "answer_length",
        "safety.drowning_prevention.yaml",
        _set(("answer", "en"), "Watch children near water at all times."),
    ),
    ("answer_length", "safety.drowning_prevention.yaml", _set(("answer", "zh"), "看好孩子。")),
    (
        "too_few_questions",
        "law.bullying.yaml",
        _set(("questions", "zh"), ["学校对欺凌有什么法定责任"]),
    ),
    ("missing_review", "law.bullying.yaml", _set(("review", "review_due"), "2020-01-01")),
    ("urgent_flag", "law.bullying.yaml", _set(("urgent",), True)),
    ("urgent_flag", "psych.self_harm_crisis.yaml", _set(("urgent",), False)),
]


@pytest.mark.parametrize(("code", "filename", "mutate"), CASES)
def test_broken_entry_is_reported(
    content_copy: Path, fixture_topics: Path, code: str, filename: str, mutate: Mutation
) -> None:
    _rewrite(content_copy, filename, mutate)
    report = validate_content(content_copy, fixture_topics, today=dt.date(2027, 1, 1))
    assert not report.ok
    assert code in {issue.code for issue in report.errors}
    assert any(issue.where == filename for issue in report.errors if issue.code == code)


def _strip_last_line(lang: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        lines = data["answer"][lang].strip().splitlines()
        data["answer"][lang] = "\n".join(lines[:-1]) + "\n"

    return mutate


def _strip_contact(lang: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        lines = data["answer"][lang].strip().splitlines()
        data["answer"][lang] = "\n".join(lines[:-2] + lines[-1:]) + "\n"

    return mutate


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_law_answer_without_disclaimer(content_copy: Path, fixture_topics: Path, lang: str) -> None:
    _rewrite(content_copy, "law.bullying.yaml", _strip_last_line(lang))
    report = validate_content(content_copy, fixture_topics, today=dt.date(2027, 1, 1))
    assert "missing_disclaimer" in report.codes()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_psych_answer_without_contact_line(
    content_copy: Path, fixture_topics: Path, lang: str
) -> None:
    _rewrite(content_copy, "psych.self_harm_crisis.yaml", _strip_contact(lang))
    report = validate_content(content_copy, fixture_topics, today=dt.date(2027, 1, 1))
    assert "missing_contact" in report.codes()


def test_duplicate_question_across_entries_is_an_error(
    content_copy: Path, fixture_topics: Path
) -> None:
    # same question up to case, spacing and punctuation
    _rewrite(
        content_copy,
        "law.bullying.yaml",
        lambda d: d["questions"]["en"].append("Can my kids swim in the lake on their own?"),
    )
    report = validate_content(content_copy, fixture_topics, today=dt.date(2027, 1, 1))
    assert "duplicate_question" in {issue.code for issue in report.errors}


def test_missing_and_extra_topics(content_copy: Path, fixture_topics: Path) -> None:
    (content_copy / "law.bullying.yaml").rename(content_copy / "law.guardianship.yaml")
    _rewrite(content_copy, "law.guardianship.yaml", _set(("id",), "law.guardianship"))
    report = validate_content(content_copy, fixture_topics, today=dt.date(2027, 1, 1))
    codes = {issue.code for issue in report.errors}
    assert {"missing_topic", "extra_topic"} <= codes


def test_category_must_match_topic_list(
    content_copy: Path, fixture_topics: Path, tmp_path: Path
) -> None:
    topics = tmp_path / "topics.tsv"
    topics.write_text(
        fixture_topics.read_text("utf-8").replace("law.bullying\tlaw", "law.bullying\tpsych"),
        "utf-8",
    )
    report = validate_content(content_copy, topics, today=dt.date(2027, 1, 1))
    assert "category_mismatch" in report.codes()


def test_unreadable_yaml(content_copy: Path, fixture_topics: Path) -> None:
    (content_copy / "law.bullying.yaml").write_text("id: [unclosed\n", "utf-8")
    report = validate_content(content_copy, fixture_topics, today=dt.date(2027, 1, 1))
    assert "unreadable" in report.codes()


def test_overdue_review_is_a_warning_only(fixture_content: Path, fixture_topics: Path) -> None:
    report = validate_content(fixture_content, fixture_topics, today=dt.date(2100, 1, 1))
    assert report.ok
    assert {issue.code for issue in report.warnings} == {"review_overdue"}
    assert len(report.warnings) == 3


def test_normalize_question_folds_case_width_and_punctuation() -> None:
    assert normalize_question("Is it OK?") == normalize_question("is it ok")
    assert normalize_question("孩子怎么办？") == normalize_question("孩子怎么办")
