"""Knowledge-base entries: the schema of one topic file and loaders for the content.

The schema is the one documented in ``knowledge_base/content/README.md``. Models are
strict about structure (unknown keys are errors) so that a typo in a content file is
caught by ``kb validate`` instead of being silently ignored.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")
Category = Literal["safety", "law", "psych", "family", "help"]
ReviewerRole = Literal[
    "lawyer",
    "psychologist",
    "family-education counsellor",
    "safety officer",
    "school admin",
]

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_CONTENT_DIR = PACKAGE_DIR / "content"
DEFAULT_TOPICS_PATH = PACKAGE_DIR / "topics.tsv"
#: The only topic allowed (and required) to carry ``urgent: true``.
URGENT_TOPIC_ID = "psych.self_harm_crisis"
#: Ids of entries learned from experts' answers start with this (``learned.law.3``); no
#: topic of ``topics.tsv`` does, so the two never clash.
LEARNED_PREFIX = "learned."
#: The texts of an entry that exist once per language.
BILINGUAL_FIELDS = ("title", "answer", "questions", "keywords")

NonEmptyStr = Annotated[str, Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Bilingual(_Strict):
    """One text in English and in Simplified Chinese."""

    en: NonEmptyStr
    zh: NonEmptyStr

    def in_lang(self, lang: Lang) -> str:
        """Return the text in ``lang``."""
        return self.en if lang == "en" else self.zh


class BilingualList(_Strict):
    """A list of short texts per language."""

    model_config = ConfigDict(coerce_numbers_to_str=True)

    en: list[NonEmptyStr]
    zh: list[NonEmptyStr]

    def in_lang(self, lang: Lang) -> list[str]:
        """Return the list for ``lang``."""
        return self.en if lang == "en" else self.zh


class Source(_Strict):
    """Where the answer comes from: a law and article, official guidance, WHO, ..."""

    title: NonEmptyStr
    url: NonEmptyStr | None = None

    @field_validator("url")
    @classmethod
    def _url_is_web_address(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return value


class Review(_Strict):
    """Who reviewed the entry, when, and when it is due again."""

    reviewer_role: ReviewerRole
    last_reviewed: dt.date
    review_due: dt.date


class Provenance(_Strict):
    """Where a learned entry comes from: an expert's answer in a parent's case."""

    case: int | None = None
    #: the expert's pseudonym ("Expert E3"), never a name
    expert: NonEmptyStr
    #: the day the expert's answer was saved as a draft
    drafted: dt.date


class Entry(_Strict):
    """One topic of the knowledge base, answered in both languages.

    An entry learned from an expert may exist in one language only: it lists the other in
    ``missing_languages`` and leaves that language out of its file. Once loaded, the
    missing language's texts are the present language's, so every reader gets a text
    (retrieval then finds the entry cross-lingually, and a reader of the missing language
    is answered in the entry's language); ``text_language`` says which language a
    reader really gets. Packaged content must have both (``kb validate``).
    """

    id: NonEmptyStr
    category: Category
    title: Bilingual
    jurisdiction: Literal["cn", "general"]
    urgent: bool
    answer: Bilingual
    questions: BilingualList
    keywords: BilingualList
    sources: Annotated[list[Source], Field(min_length=1)]
    review: Review
    # left out of dumps when empty, so packaged entries hash as they always did
    missing_languages: Annotated[list[Lang], Field(max_length=1)] = Field(
        default_factory=list, exclude_if=lambda value: not value
    )
    provenance: Provenance | None = Field(default=None, exclude_if=lambda value: value is None)

    @model_validator(mode="before")
    @classmethod
    def _fill_missing_languages(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not data.get("missing_languages"):
            return data
        missing = data["missing_languages"]
        if not isinstance(missing, list) or len(missing) != 1 or missing[0] not in LANGS:
            return data  # the field's own validation reports it
        absent: Lang = missing[0]
        present: Lang = "zh" if absent == "en" else "en"
        filled = dict(data)
        for name in BILINGUAL_FIELDS:
            texts = data.get(name)
            if not isinstance(texts, dict):
                continue
            if absent in texts and texts[absent] != texts.get(present):
                # (a copy of the present language is what a loaded entry dumps: accepted)
                raise ValueError(
                    f"{name}.{absent} is given but {absent} is listed in missing_languages: "
                    "remove it from missing_languages once the entry is translated"
                )
            if present in texts:
                filled[name] = {**texts, absent: texts[present]}
        return filled

    @property
    def languages(self) -> tuple[Lang, ...]:
        """The languages the entry is really written in."""
        return tuple(lang for lang in LANGS if lang not in self.missing_languages)

    def text_language(self, lang: Lang) -> Lang:
        """The language a reader of ``lang`` gets: ``lang``, or the entry's own language
        when ``lang`` is missing (a learned entry not translated yet)."""
        return lang if lang not in self.missing_languages else self.languages[0]

    @property
    def learned(self) -> bool:
        """True for an entry learned from an expert's answer (id ``learned.<category>.<n>``)."""
        return self.id.startswith(LEARNED_PREFIX)

    def source_line(self) -> str:
        """Short "where this comes from" line for the bot (source titles joined)."""
        return "; ".join(source.title for source in self.sources)


@dataclass(frozen=True, slots=True)
class Topic:
    """One row of ``topics.tsv``: the contract the content must follow."""

    id: str
    category: str
    title: str
    must_cover: str


class ContentError(Exception):
    """The content directory cannot be loaded; ``problems`` lists why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def load_topics(path: Path = DEFAULT_TOPICS_PATH) -> list[Topic]:
    """Read the topic list (tab-separated: id, category, title, must cover)."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [
        Topic(
            id=row["id"].strip(),
            category=row["category"].strip(),
            title=row["title"].strip(),
            must_cover=(row.get("must cover") or "").strip(),
        )
        for row in rows
        if row.get("id")
    ]


def content_files(content_dir: Path) -> Iterator[Path]:
    """Yield the topic files of a content directory in a stable order."""
    yield from sorted(content_dir.glob("*.yaml"))


def read_yaml(path: Path) -> object:
    """Parse one content file (safe loader)."""
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def parse_entry(path: Path) -> Entry:
    """Load and validate one topic file; raises ``ValidationError`` or ``yaml.YAMLError``."""
    return Entry.model_validate(read_yaml(path))


def load_entries(content_dir: Path = DEFAULT_CONTENT_DIR) -> list[Entry]:
    """Load every topic file of ``content_dir``; raise ``ContentError`` if any is invalid.

    Only the schema is enforced here; editorial rules (lengths, duplicates, topic list)
    belong to ``knowledge_base.validate``.
    """
    entries: list[Entry] = []
    problems: list[str] = []
    seen: set[str] = set()
    for path in content_files(content_dir):
        try:
            entry = parse_entry(path)
        except (ValidationError, yaml.YAMLError) as exc:
            problems.append(f"{path.name}: {exc}")
            continue
        if entry.id != path.stem:
            problems.append(f"{path.name}: id {entry.id!r} does not match the file name")
            continue
        if entry.id in seen:
            problems.append(f"{path.name}: duplicate id {entry.id!r}")
            continue
        seen.add(entry.id)
        entries.append(entry)
    if problems:
        raise ContentError(problems)
    return entries
