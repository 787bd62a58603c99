"""Editorial checks on the content directory (``kb validate``; CI runs it).

Errors (each has a stable ``code``, used by tests and CI logs):

* ``unreadable``, ``schema``: the file is not YAML or does not follow content/README.md;
* ``filename_mismatch``, ``missing_topic``, ``extra_topic``, ``category_mismatch``:
  the files do not match ``topics.tsv`` one to one;
* ``wrong_language``: an English text with Chinese in it or a Chinese text without;
* ``answer_length``: English answers 80-220 words, Chinese 150-450 characters;
* ``too_few_questions``: fewer than 6 example questions in a language;
* ``duplicate_question``: the same example question (normalised) in two entries;
* ``missing_sources``, ``missing_review``: no source with a title, or review dates
  out of order;
* ``missing_disclaimer``, ``missing_contact``: a law or psychology answer that does not
  end with who to contact and the not-legal/medical-advice note;
* ``urgent_flag``: ``urgent`` set on a topic other than psych.self_harm_crisis, or not set
  on it.

Warnings: ``review_overdue`` (review_due in the past), ``duplicate_in_entry``, ``markup``
(HTML or Markdown in an answer, which the bot would show verbatim).

Packaged content must be in both languages (``missing_language``: an entry that declares
one missing). Entries learned from experts (``learned_dir``, see ``knowledge_base.learned``)
are one expert's answer as an administrator approved it: their file, id and review must
be right (``schema``, ``filename_mismatch``, ``learned_id``, ``missing_sources``,
``missing_review``, ``urgent_flag``), while the editorial rules above are warnings until
someone curates the entry, and checked only in the languages it is written in. Each one
whose other language is missing gets a ``needs_translation`` warning, and
``Report.needs_translation`` lists them.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import ValidationError

from knowledge_base.entries import (
    DEFAULT_CONTENT_DIR,
    DEFAULT_TOPICS_PATH,
    URGENT_TOPIC_ID,
    Entry,
    Lang,
    content_files,
    load_topics,
    read_yaml,
)
from knowledge_base.language import detect_language
from knowledge_base.learned import learned_id_problem

Severity = Literal["error", "warning"]

EN_WORDS = (80, 220)
ZH_CHARS = (150, 450)
MIN_QUESTIONS = 6
#: categories whose answers must end with a contact line and a not-advice note
ADVICE_CATEGORIES = ("law", "psych")

_DISCLAIMER = {
    "en": re.compile(
        r"not\s+(?:legal|medical)(?:\s+(?:or|and|/)\s+(?:legal|medical))?\s+advice", re.I
    ),
    "zh": re.compile(
        r"不(?:构成|属于|是|能代替|替代).{0,8}(?:法律|医疗|医学|心理).{0,8}(?:意见|建议)"
    ),
}
_CONTACT = {
    "en": re.compile(
        r"^\s*(?:who\s+to\s+contact|contacts?|where\s+to\s+get\s+help|reporting)\s*:", re.I
    ),
    "zh": re.compile(r"^\s*(?:可以联系|联系方式|联系|求助|举报)\s*[:：]"),
}
_MARKUP = re.compile(r"<[a-zA-Z/][^>]*>|\*\*|__|^#{1,6}\s|\[[^\]]+\]\([^)]+\)", re.M)
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’-][A-Za-z0-9]+)*")


@dataclass(frozen=True)
class Issue:
    """One problem found in the content."""

    severity: Severity
    code: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.where}: [{self.code}] {self.message}"


@dataclass
class Report:
    """Everything ``validate_content`` found."""

    issues: list[Issue] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        """Issues that fail validation."""
        return [issue for issue in self.issues if issue.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        """Issues to look at that do not fail validation."""
        return [issue for issue in self.issues if issue.severity == "warning"]

    @property
    def needs_translation(self) -> list[tuple[str, tuple[Lang, ...]]]:
        """Learned entries not translated yet: (id, missing languages)."""
        return [(e.id, tuple(e.missing_languages)) for e in self.entries if e.missing_languages]

    @property
    def ok(self) -> bool:
        """True when there are no errors."""
        return not self.errors

    def codes(self) -> set[str]:
        """The codes of all issues (handy in tests)."""
        return {issue.code for issue in self.issues}

    def add(self, severity: Severity, code: str, where: str, message: str) -> None:
        """Record an issue."""
        self.issues.append(Issue(severity, code, where, message))


def english_words(text: str) -> int:
    """Word count of an English answer."""
    return len(_WORD.findall(text))


def chinese_length(text: str) -> int:
    """Length of a Chinese answer in characters, whitespace not counted."""
    return sum(1 for char in text if not char.isspace())


def normalize_question(text: str) -> str:
    """Form used to spot duplicate example questions (case, width, punctuation folded)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(char for char in text if char.isalnum())


def _looks_like(text: str, lang: Lang) -> bool:
    # English answers may quote Chinese names ("双减"); what matters is the main language
    return detect_language(text, default=lang) == lang


def _last_lines(text: str, count: int) -> list[str]:
    return [line for line in text.strip().splitlines() if line.strip()][-count:]


def _check_entry(
    entry: Entry, where: str, report: Report, today: dt.date, *, learned: bool = False
) -> None:
    # learned entries: editorial rules advise (warnings), structural ones still fail
    editorial: Severity = "warning" if learned else "error"
    if entry.missing_languages and not learned:
        report.add(
            "error",
            "missing_language",
            where,
            "packaged content must be in English and Chinese "
            f"(missing_languages: {', '.join(entry.missing_languages)})",
        )
    for lang in entry.languages:
        answer = entry.answer.in_lang(lang)
        texts = [entry.title.in_lang(lang), answer, *entry.questions.in_lang(lang)]
        strays = [text for text in texts if not _looks_like(text, lang)]
        if strays:
            report.add(
                editorial,
                "wrong_language",
                where,
                f"{lang} text in the wrong language: {strays[0][:60]!r}",
            )
        if lang == "en":
            words, (low, high) = english_words(answer), EN_WORDS
            unit = "words"
        else:
            words, (low, high) = chinese_length(answer), ZH_CHARS
            unit = "characters"
        if not low <= words <= high:
            report.add(
                editorial,
                "answer_length",
                where,
                f"{lang} answer has {words} {unit}, expected {low}-{high}",
            )
        count = len(entry.questions.in_lang(lang))
        if count < MIN_QUESTIONS and not learned:
            report.add(
                "error",
                "too_few_questions",
                where,
                f"{count} {lang} example questions, expected at least {MIN_QUESTIONS}",
            )
        if _MARKUP.search(answer):
            report.add("warning", "markup", where, f"{lang} answer contains HTML or Markdown")
        if entry.category in ADVICE_CATEGORIES:
            tail = _last_lines(answer, 3)
            if not any(_DISCLAIMER[lang].search(line) for line in tail[-2:]):
                report.add(
                    editorial,
                    "missing_disclaimer",
                    where,
                    f"{lang} answer must end with a not-legal/medical-advice note",
                )
            if not any(_CONTACT[lang].search(line) for line in tail):
                report.add(
                    editorial,
                    "missing_contact",
                    where,
                    f"{lang} answer must end with who to contact",
                )
    if not any(source.title.strip() for source in entry.sources):
        report.add("error", "missing_sources", where, "no source with a title")
    review = entry.review
    if review.review_due <= review.last_reviewed:
        report.add("error", "missing_review", where, "review_due must be after last_reviewed")
    if review.review_due < today:
        report.add(
            "warning", "review_overdue", where, f"review was due on {review.review_due.isoformat()}"
        )
    if entry.urgent != (entry.id == URGENT_TOPIC_ID):
        expected = "must be" if entry.id == URGENT_TOPIC_ID else "may not be"
        report.add("error", "urgent_flag", where, f"this topic {expected} marked urgent")
    if learned and entry.missing_languages:
        report.add(
            "warning",
            "needs_translation",
            where,
            f"learned entry in {', '.join(entry.languages)} only: "
            f"translate it into {', '.join(entry.missing_languages)}",
        )


def _check_duplicates(entries: Iterable[tuple[str, Entry]], report: Report) -> None:
    owner: dict[str, str] = {}
    for where, entry in entries:
        seen_here: set[str] = set()
        for lang in entry.languages:
            for question in entry.questions.in_lang(lang):
                key = normalize_question(question)
                if key in seen_here:
                    report.add(
                        "warning",
                        "duplicate_in_entry",
                        where,
                        f"example question repeated: {question!r}",
                    )
                    continue
                seen_here.add(key)
                if key in owner and owner[key] != entry.id:
                    report.add(
                        "warning" if entry.learned else "error",
                        "duplicate_question",
                        where,
                        f"example question also in {owner[key]}: {question!r}",
                    )
                else:
                    owner[key] = entry.id


def _schema_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        location = ".".join(str(part) for part in error["loc"]) or "(file)"
        parts.append(f"{location}: {error['msg']}")
    more = len(exc.errors()) - 5
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _check_learned(learned_dir: Path, report: Report, today: dt.date) -> list[tuple[str, Entry]]:
    parsed: list[tuple[str, Entry]] = []
    for path in content_files(learned_dir):
        where = f"{learned_dir.name}/{path.name}"
        try:
            data = read_yaml(path)
        except yaml.YAMLError as exc:
            report.add("error", "unreadable", where, f"not valid YAML: {exc}")
            continue
        try:
            entry = Entry.model_validate(data)
        except ValidationError as exc:
            report.add("error", "schema", where, _schema_message(exc))
            continue
        problem = learned_id_problem(entry, path)
        if problem:
            code = "filename_mismatch" if entry.id != path.stem else "learned_id"
            report.add("error", code, where, problem)
            continue
        _check_entry(entry, where, report, today, learned=True)
        parsed.append((where, entry))
    return parsed


def validate_content(
    content_dir: Path = DEFAULT_CONTENT_DIR,
    topics_path: Path = DEFAULT_TOPICS_PATH,
    *,
    today: dt.date | None = None,
    learned_dir: Path | None = None,
) -> Report:
    """Check every file of ``content_dir`` against the schema, ``topics_path`` and the rules,
    then the entries learned from experts in ``learned_dir`` if given (module docstring)."""
    today = today or dt.date.today()
    report = Report()
    topics = {topic.id: topic for topic in load_topics(topics_path)}
    found: dict[str, str] = {}
    parsed: list[tuple[str, Entry]] = []
    for path in content_files(content_dir):
        where = path.name
        try:
            data = read_yaml(path)
        except yaml.YAMLError as exc:
            report.add("error", "unreadable", where, f"not valid YAML: {exc}")
            continue
        file_id = path.stem
        declared = data.get("id") if isinstance(data, dict) else None
        found[str(declared or file_id)] = where
        if declared is not None and declared != file_id:
            report.add(
                "error",
                "filename_mismatch",
                where,
                f"id {declared!r} does not match the file name {file_id!r}",
            )
        try:
            entry = Entry.model_validate(data)
        except ValidationError as exc:
            report.add("error", "schema", where, _schema_message(exc))
            continue
        topic = topics.get(entry.id)
        if topic is None:
            report.add("error", "extra_topic", where, f"{entry.id!r} is not in topics.tsv")
        elif topic.category != entry.category:
            report.add(
                "error",
                "category_mismatch",
                where,
                f"category {entry.category!r}, topics.tsv says {topic.category!r}",
            )
        _check_entry(entry, where, report, today)
        parsed.append((where, entry))
    for topic_id in topics:
        if topic_id not in found:
            report.add("error", "missing_topic", f"{topic_id}.yaml", "topic has no content file")
    if learned_dir is not None and learned_dir.is_dir():
        parsed += _check_learned(learned_dir, report, today)
    _check_duplicates(parsed, report)
    report.entries = [entry for _, entry in parsed]
    return report
