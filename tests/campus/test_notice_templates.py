"""The bilingual notice templates: loading, content checks and rendering."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from campus.models import NoticeKind
from campus.notice_templates import (
    NoticeTemplate,
    TemplateError,
    TemplateFileError,
    load_templates,
    load_templates_from,
    placeholders,
    render,
    sort_key,
    template_problems,
)

REQUIRED_IDS = {
    "holiday_safety",
    "drowning_prevention",
    "typhoon_rainstorm_closure",
    "heat_wave",
    "traffic_safety",
    "infectious_disease",
    "fire_drill",
    "school_trip_consent",
    "exam_week",
    "food_safety",
    "earthquake_drill",
    "internet_safety",
}

TEMPLATES = load_templates()
_VALUES = {"child": "Ann", "class_name": "Class 1", "start_date": "1 May"}


def _values(template: NoticeTemplate, lang: str) -> dict[str, str]:
    values = {"child": "Lin Xiaoyu", "class_name": "Class 3 (2)"}
    values.update({field.name: field.example[lang] for field in template.fields})
    return values


def test_required_templates_are_present() -> None:
    assert len(TEMPLATES) >= 12
    assert REQUIRED_IDS - set(TEMPLATES) == set()


def test_templates_are_ordered_by_kind_then_id() -> None:
    templates = list(TEMPLATES.values())
    assert templates == sorted(templates, key=sort_key)
    assert [t.id for t in templates] == list(TEMPLATES)


def test_load_templates_is_cached_but_returns_a_fresh_dict() -> None:
    first = load_templates()
    first.pop("fire_drill")
    second = load_templates()
    assert "fire_drill" in second
    assert second["exam_week"] is TEMPLATES["exam_week"]


@pytest.mark.parametrize("template_id", sorted(TEMPLATES))
def test_template_has_no_problems(template_id: str) -> None:
    assert template_problems(TEMPLATES[template_id]) == []


@pytest.mark.parametrize("template_id", sorted(TEMPLATES))
def test_template_renders_in_both_languages(template_id: str) -> None:
    template = TEMPLATES[template_id]
    assert isinstance(template.kind, NoticeKind)
    for lang in ("en", "zh"):
        values = _values(template, lang)
        text = render(template.body[lang], values)
        assert "Lin Xiaoyu" in text
        for field in template.fields:
            assert field.example[lang] in text
        assert "{" not in text and "}" not in text
        render(template.title[lang], values)


@pytest.mark.parametrize("template_id", sorted(TEMPLATES))
def test_body_leaves_the_acknowledgement_statement_to_the_bot(template_id: str) -> None:
    body = TEMPLATES[template_id].body["en"].lower()
    assert "i have read this" not in body


def test_alert_kinds_and_acknowledgements() -> None:
    closure = TEMPLATES["typhoon_rainstorm_closure"]
    assert closure.kind is NoticeKind.URGENT_ALERT
    assert closure.requires_ack
    trip = TEMPLATES["school_trip_consent"]
    assert trip.requires_ack
    assert {"trip_date", "place", "fee"} <= set(trip.field_names)
    for template in TEMPLATES.values():
        if template.kind is not NoticeKind.CLASS_NOTICE:
            assert template.requires_ack, template.id


def test_school_trip_renders_fields_in_chinese() -> None:
    trip = TEMPLATES["school_trip_consent"]
    values = {
        "child": "林小雨",
        "class_name": "三年级二班",
        "trip_date": "10月16日",
        "place": "市科技馆",
        "meet_time": "8:00",
        "return_time": "15:30",
        "fee": "60",
    }
    text = render(trip.body["zh"], values)
    assert text.startswith("林小雨家长您好")
    assert "三年级二班将组织外出活动" in text
    assert "每人60元" in text
    assert "地点：市科技馆" in text


def test_render_fills_placeholders() -> None:
    text = render("Dear parent of {child} ({class_name}): {start_date}.", _VALUES)
    assert text == "Dear parent of Ann (Class 1): 1 May."


def test_render_ignores_values_the_text_does_not_use() -> None:
    assert render("Hello {child}", _VALUES) == "Hello Ann"


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Dear parent of {chlid}", ("chlid",)),
        ("{child} goes on {trip_date} to {place}", ("trip_date", "place")),
        ("{place}{place}", ("place",)),
    ],
)
def test_render_names_placeholders_without_a_value(text: str, names: tuple[str, ...]) -> None:
    with pytest.raises(TemplateError) as caught:
        render(text, _VALUES)
    assert caught.value.names == names
    for name in names:
        assert name in str(caught.value)


def test_template_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="nope"):
        render("{nope}", {})


def test_doubled_braces_are_literal() -> None:
    assert render("Code {{abc}} for {child}: }}{{", _VALUES) == "Code {abc} for Ann: }{"
    assert placeholders("{{child}} {class_name}") == ["class_name"]


@pytest.mark.parametrize("text", ["Hello {child", "Hello child}", "Hello { child }", "{}"])
def test_stray_braces_are_errors(text: str) -> None:
    with pytest.raises(TemplateError, match="stray brace"):
        render(text, _VALUES)


@pytest.mark.parametrize(
    "value",
    ["{class_name}", "{{x}}", "<b>Ann</b> & {}", "{0}", "%(child)s"],
)
def test_values_are_inserted_literally(value: str) -> None:
    text = render("Name: {child}. Class: {class_name}.", {"child": value, "class_name": "C1"})
    assert text == f"Name: {value}. Class: C1."


# --- problems that the checker must catch -----------------------------------------------


def _good() -> NoticeTemplate:
    return TEMPLATES["fire_drill"]


def test_problems_missing_language() -> None:
    template = dataclasses.replace(_good(), body={"en": _good().body["en"]})
    problems = template_problems(template)
    assert any("body: missing zh" in problem for problem in problems)


def test_problems_undeclared_placeholder_and_language_mismatch() -> None:
    good = _good()
    body = {"en": good.body["en"] + " {room}", "zh": good.body["zh"]}
    problems = template_problems(dataclasses.replace(good, body=body))
    assert any("undeclared placeholder(s) room" in problem for problem in problems)
    assert any("only en: room" in problem for problem in problems)


def test_problems_unused_field() -> None:
    good = _good()
    body = {lang: text.replace("{drill_time}", "10:00") for lang, text in good.body.items()}
    problems = template_problems(dataclasses.replace(good, body=body))
    assert any("never used: drill_time" in problem for problem in problems)


def test_problems_long_title_and_body() -> None:
    good = _good()
    title = {"en": "x" * 61, "zh": good.title["zh"]}
    body = {"en": good.body["en"] + " word" * 200, "zh": good.body["zh"] + "字" * 300}
    problems = template_problems(dataclasses.replace(good, title=title, body=body))
    assert any(problem.startswith("title.en: 61 characters") for problem in problems)
    assert any(problem.startswith("body.en:") and "words" in problem for problem in problems)
    assert any(problem.startswith("body.zh:") and "characters" in problem for problem in problems)


def test_problems_markdown_and_alert_without_ack() -> None:
    good = _good()
    body = {"en": good.body["en"] + "\n- **bold**", "zh": good.body["zh"]}
    template = dataclasses.replace(
        good, body=body, kind=NoticeKind.SAFETY_ALERT, requires_ack=False
    )
    problems = template_problems(template)
    assert any("markdown" in problem for problem in problems)
    assert any("must require an acknowledgement" in problem for problem in problems)


# --- loading files ----------------------------------------------------------------------


def _write_copy(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(text, encoding="utf-8")


_PACKAGED = Path(__file__).resolve().parents[2] / "campus" / "notice_templates"


def test_load_from_directory_reads_a_copy(tmp_path: Path) -> None:
    text = (_PACKAGED / "fire_drill.yaml").read_text(encoding="utf-8")
    _write_copy(tmp_path, "fire_drill.yaml", text)
    _write_copy(tmp_path, "README.md", "not a template")
    assert list(load_templates_from(tmp_path)) == ["fire_drill"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("{drill_time}左右", "{drill_tim}左右", "undeclared placeholder(s) drill_tim"),
        ("kind: class_notice", "kind: memo", "is not one of"),
        ("requires_ack: false", "requires_ack: maybe", "requires_ack"),
        ("id: fire_drill", "id: fire", "must match the file name"),
        ("sources:", "source:", "unknown key(s): source"),
        ("  zh: 消防疏散演练通知\n", "", "title: missing zh"),
    ],
)
def test_broken_file_raises_with_its_name(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = (_PACKAGED / "fire_drill.yaml").read_text(encoding="utf-8")
    assert old in text
    _write_copy(tmp_path, "fire_drill.yaml", text.replace(old, new, 1))
    with pytest.raises(TemplateFileError, match=r"^fire_drill\.yaml: ") as caught:
        load_templates_from(tmp_path)
    assert caught.value.file_name == "fire_drill.yaml"
    assert message in str(caught.value)


def test_invalid_yaml_raises_with_its_name(tmp_path: Path) -> None:
    _write_copy(tmp_path, "broken.yaml", "id: [unclosed\n")
    with pytest.raises(TemplateFileError, match=r"^broken\.yaml: "):
        load_templates_from(tmp_path)
