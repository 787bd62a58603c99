"""Bilingual notice templates that teachers pick when composing a notice to parents.

Each template is one YAML file in ``campus/notice_templates/`` (shipped inside the wheel
and read with :mod:`importlib.resources`). A template has a title and a body in English
and Simplified Chinese. Bodies contain ``{placeholders}``: ``{child}`` and
``{class_name}`` are filled for each (guardian, child) at send time, every other name is a
field the teacher fills in once. A literal brace is written ``{{`` or ``}}``.

Templates are checked when they are loaded: a file with problems (a missing language,
an undeclared placeholder, a body too long for a phone screen, ...) raises
:class:`TemplateFileError` naming the file.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from typing import Any

import yaml

from campus.models import NoticeKind

LANGS: tuple[str, ...] = ("en", "zh")
#: Placeholders filled automatically for each recipient at send time.
RECIPIENT_PLACEHOLDERS: frozenset[str] = frozenset({"child", "class_name"})

TITLE_MAX_CHARS = 60
# Limits for one phone screen (a little looser than the authoring target of about
# 60-200 English words and 120-400 Chinese characters).
BODY_EN_WORDS = (40, 220)
BODY_ZH_CHARS = (80, 450)

_TEMPLATES_PACKAGE = "campus"
_TEMPLATES_DIR = "notice_templates"

_ID = re.compile(r"[a-z][a-z0-9_]*")
_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|[{}]")
_MARKDOWN = re.compile(r"\*\*|__|`|^\s*(?:[-*+]\s|#)", re.MULTILINE)

_TOP_KEYS = frozenset({"id", "kind", "requires_ack", "title", "body", "fields", "sources"})
_FIELD_KEYS = frozenset({"name", "label", "example"})


class TemplateError(ValueError):
    """A text could not be rendered: placeholders without a value, or a stray brace.

    ``names`` lists the placeholder names that had no value (empty for a stray brace).
    """

    def __init__(self, message: str, names: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.names: tuple[str, ...] = tuple(names)


class TemplateFileError(ValueError):
    """A template file is malformed or has problems; the message names the file."""

    def __init__(self, file_name: str, problems: Iterable[str]) -> None:
        self.file_name = file_name
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__(f"{file_name}: " + "; ".join(self.problems))


@dataclass(frozen=True)
class TemplateField:
    """A blank the teacher fills in when composing, e.g. ``start_date``."""

    name: str
    label: dict[str, str]
    example: dict[str, str]


@dataclass(frozen=True)
class NoticeTemplate:
    """One notice template in English and Simplified Chinese."""

    id: str
    kind: NoticeKind
    requires_ack: bool
    title: dict[str, str]
    body: dict[str, str]
    fields: tuple[TemplateField, ...]
    sources: tuple[str, ...]

    @property
    def field_names(self) -> tuple[str, ...]:
        """The names of the fields the teacher fills in, in declaration order."""
        return tuple(field.name for field in self.fields)


def sort_key(template: NoticeTemplate) -> tuple[int, str]:
    """Order templates by kind (in :class:`NoticeKind` order), then by id."""
    return (list(NoticeKind).index(template.kind), template.id)


# --- placeholders and rendering ---------------------------------------------------------


def _scan(text: str) -> tuple[list[str], list[int]]:
    """Return the placeholder names in order of first use and the offsets of stray braces."""
    names: list[str] = []
    stray: list[int] = []
    for match in _TOKEN.finditer(text):
        name = match.group(1)
        if name is not None:
            if name not in names:
                names.append(name)
        elif match.group(0) in ("{", "}"):
            stray.append(match.start())
    return names, stray


def placeholders(text: str) -> list[str]:
    """Return the ``{placeholder}`` names used in ``text``, in order of first use.

    Doubled braces (``{{`` and ``}}``) are literal braces, not placeholders.
    """
    return _scan(text)[0]


def render(text: str, values: Mapping[str, str]) -> str:
    """Fill the ``{placeholders}`` in ``text`` from ``values``.

    Values are plain text and are inserted as they are: braces or markup inside a value
    are never interpreted. ``{{`` and ``}}`` become single braces. Values that the text
    does not use are ignored, so the per-recipient values can be passed to every template.

    Raises:
        TemplateError: a placeholder has no value (``names`` lists all of them), or the
            text has a single brace that is not part of a placeholder.
    """
    names, stray = _scan(text)
    if stray:
        raise TemplateError(
            f"stray brace at offset {stray[0]}: write {{{{ or }}}} for a literal brace"
        )
    missing = [name for name in names if name not in values]
    if missing:
        raise TemplateError("no value for placeholder(s): " + ", ".join(missing), missing)

    def _fill(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        return values[match.group(1)]

    return _TOKEN.sub(_fill, text)


# --- validation -------------------------------------------------------------------------


def _language_problems(what: str, texts: Mapping[str, str]) -> list[str]:
    problems = [f"{what}: missing {lang}" for lang in LANGS if not texts.get(lang, "").strip()]
    problems += [f"{what}: unknown language {lang!r}" for lang in texts if lang not in LANGS]
    return problems


def _placeholder_problems(what: str, texts: Mapping[str, str], allowed: set[str]) -> list[str]:
    problems: list[str] = []
    used: dict[str, set[str]] = {}
    for lang in LANGS:
        names, stray = _scan(texts.get(lang, ""))
        used[lang] = set(names)
        if stray:
            problems.append(f"{what}.{lang}: stray brace (write {{{{ or }}}} for a literal one)")
        unknown = sorted(set(names) - allowed)
        if unknown:
            problems.append(f"{what}.{lang}: undeclared placeholder(s) {', '.join(unknown)}")
    if used["en"] != used["zh"]:
        only_en = sorted(used["en"] - used["zh"])
        only_zh = sorted(used["zh"] - used["en"])
        problems.append(
            f"{what}: en and zh use different placeholders "
            f"(only en: {', '.join(only_en) or '-'}; only zh: {', '.join(only_zh) or '-'})"
        )
    return problems


def _length_problems(template: NoticeTemplate) -> list[str]:
    problems: list[str] = []
    for lang in LANGS:
        title = template.title.get(lang, "")
        if len(title) > TITLE_MAX_CHARS:
            problems.append(f"title.{lang}: {len(title)} characters, at most {TITLE_MAX_CHARS}")
        body = template.body.get(lang, "")
        if _MARKDOWN.search(body):
            problems.append(f"body.{lang}: looks like markdown; use plain text and '•' bullets")
    words = len(template.body.get("en", "").split())
    low, high = BODY_EN_WORDS
    if not low <= words <= high:
        problems.append(f"body.en: {words} words, expected {low}-{high}")
    chars = len("".join(template.body.get("zh", "").split()))
    low, high = BODY_ZH_CHARS
    if not low <= chars <= high:
        problems.append(f"body.zh: {chars} characters, expected {low}-{high}")
    return problems


def template_problems(template: NoticeTemplate) -> list[str]:
    """Return what is wrong with ``template`` (an empty list when it is fine).

    Checks: id shape; title, body, field labels and examples in both languages; every
    placeholder is ``{child}``, ``{class_name}`` or a declared field, with the same set in
    English and Chinese, and every field is used in the body; no stray braces; titles of at
    most 60 characters; a body that fits a phone screen, in plain text; alerts ask for an
    acknowledgement; at least one source.
    """
    problems: list[str] = []
    if not _ID.fullmatch(template.id):
        problems.append(f"id {template.id!r}: use lowercase letters, digits and _")
    problems += _language_problems("title", template.title)
    problems += _language_problems("body", template.body)

    declared: list[str] = []
    for field in template.fields:
        if not _ID.fullmatch(field.name):
            problems.append(f"field {field.name!r}: use lowercase letters, digits and _")
        if field.name in RECIPIENT_PLACEHOLDERS:
            problems.append(f"field {field.name!r}: filled automatically, do not declare it")
        if field.name in declared:
            problems.append(f"field {field.name!r}: declared twice")
        declared.append(field.name)
        problems += _language_problems(f"field {field.name} label", field.label)
        problems += _language_problems(f"field {field.name} example", field.example)

    allowed = set(RECIPIENT_PLACEHOLDERS) | set(declared)
    problems += _placeholder_problems("title", template.title, allowed)
    problems += _placeholder_problems("body", template.body, allowed)
    unused = [name for name in declared if name not in placeholders(template.body.get("en", ""))]
    if unused:
        problems.append(f"body: field(s) never used: {', '.join(unused)}")

    problems += _length_problems(template)
    if template.kind is not NoticeKind.CLASS_NOTICE and not template.requires_ack:
        problems.append(f"kind {template.kind.value}: alerts must require an acknowledgement")
    if not template.sources or not all(source.strip() for source in template.sources):
        problems.append("sources: name at least one source, none empty")
    return problems


# --- loading ----------------------------------------------------------------------------


def _texts(data: Any, what: str) -> dict[str, str]:
    if not isinstance(data, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in data.items()
    ):
        raise ValueError(f"{what} must map language codes (en, zh) to text")
    return {key: value.strip() for key, value in data.items()}


def _field(data: Any) -> TemplateField:
    if not isinstance(data, dict):
        raise ValueError("each field must be a mapping with name, label and example")
    extra = sorted(set(data) - _FIELD_KEYS)
    if extra:
        raise ValueError(f"unknown field key(s): {', '.join(extra)}")
    name = data.get("name")
    if not isinstance(name, str):
        raise ValueError("field name must be text")
    return TemplateField(
        name=name,
        label=_texts(data.get("label"), f"field {name} label"),
        example=_texts(data.get("example"), f"field {name} example"),
    )


def parse_template(data: Any) -> NoticeTemplate:
    """Build a :class:`NoticeTemplate` from the parsed YAML of one template file.

    Raises:
        ValueError: the structure is wrong (missing or unknown keys, wrong types).
    """
    if not isinstance(data, dict):
        raise ValueError("a template file must hold a mapping")
    extra = sorted(set(data) - _TOP_KEYS)
    if extra:
        raise ValueError(f"unknown key(s): {', '.join(extra)}")
    missing = sorted(_TOP_KEYS - {"fields"} - set(data))
    if missing:
        raise ValueError(f"missing key(s): {', '.join(missing)}")
    if not isinstance(data["id"], str):
        raise ValueError("id must be text")
    if not isinstance(data["requires_ack"], bool):
        raise ValueError("requires_ack must be true or false")
    try:
        kind = NoticeKind(data["kind"])
    except ValueError:
        choices = ", ".join(kind.value for kind in NoticeKind)
        raise ValueError(f"kind {data['kind']!r} is not one of {choices}") from None
    fields = data.get("fields") or []
    sources = data["sources"]
    if not isinstance(fields, list):
        raise ValueError("fields must be a list")
    if not isinstance(sources, list) or not all(isinstance(item, str) for item in sources):
        raise ValueError("sources must be a list of text")
    return NoticeTemplate(
        id=data["id"],
        kind=kind,
        requires_ack=data["requires_ack"],
        title=_texts(data["title"], "title"),
        body=_texts(data["body"], "body"),
        fields=tuple(_field(item) for item in fields),
        sources=tuple(source.strip() for source in sources),
    )


def _load_file(entry: Traversable) -> NoticeTemplate:
    try:
        template = parse_template(yaml.safe_load(entry.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValueError) as error:
        raise TemplateFileError(entry.name, [str(error)]) from error
    problems = template_problems(template)
    expected_id = entry.name.removesuffix(".yaml")
    if template.id != expected_id:
        problems.insert(0, f"id {template.id!r} must match the file name ({expected_id!r})")
    if problems:
        raise TemplateFileError(entry.name, problems)
    return template


def load_templates_from(directory: Traversable) -> dict[str, NoticeTemplate]:
    """Load and check every ``*.yaml`` template in ``directory`` (not cached).

    Returns the templates by id, ordered by :func:`sort_key`.

    Raises:
        TemplateFileError: a file is malformed or has problems; the error names the file.
    """
    entries = sorted(
        (entry for entry in directory.iterdir() if entry.name.endswith(".yaml")),
        key=lambda entry: entry.name,
    )
    templates = [_load_file(entry) for entry in entries]
    return {template.id: template for template in sorted(templates, key=sort_key)}


@functools.cache
def _packaged_templates() -> tuple[NoticeTemplate, ...]:
    directory = importlib.resources.files(_TEMPLATES_PACKAGE).joinpath(_TEMPLATES_DIR)
    return tuple(load_templates_from(directory).values())


def load_templates() -> dict[str, NoticeTemplate]:
    """Return the templates shipped with SafeCampus by id, ordered by kind then id.

    Files are read and checked once per process; each call returns a new dict.

    Raises:
        TemplateFileError: a shipped file is malformed or has problems.
    """
    return {template.id: template for template in _packaged_templates()}
