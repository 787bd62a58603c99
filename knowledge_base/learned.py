"""Entries learned from experts' answers: one YAML file each in a writable directory.

Packaged content (``knowledge_base/content``) may be read-only in a deployment, so an
answer an administrator approves is written to ``<data_dir>/kb-learned/`` instead, in
the schema of the content files, and loaded next to the packaged entries. Its id is
``learned.<category>.<n>`` with ``n`` counting up per category and never reused; it is
usually in one language, the other listed in ``missing_languages`` until someone
translates it (see ``Entry``).

Files are written to a temporary name and then hard-linked to their final name, which
fails instead of overwriting when two approvals pick the same id at once: the loser takes
the next number. A reader never sees a half-written file.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from knowledge_base.entries import (
    DEFAULT_CONTENT_DIR,
    LANGS,
    LEARNED_PREFIX,
    ContentError,
    Entry,
    Lang,
    content_files,
    load_entries,
    parse_entry,
)
from knowledge_base.knowledge import KnowledgeBase

#: How long a learned entry stays trusted before it is due for review again.
DEFAULT_REVIEW_DAYS = 180
#: Longest title made from the first example question.
TITLE_LENGTH = 80
_LEARNED_ID = re.compile(r"^learned\.([a-z]+)\.([1-9][0-9]*)$")


@dataclass(frozen=True)
class LearnedAnswer:
    """An approved expert answer, as it becomes a knowledge-base entry.

    ``questions`` are example questions as parents ask them (personal data already
    removed), the first one doubling as the title unless ``title`` is given.
    """

    category: str
    language: Lang
    questions: Sequence[str]
    answer: str
    expert: str
    drafted: dt.date
    approved: dt.date
    review_due: dt.date
    case_id: int | None = None
    title: str | None = None


def learned_id(category: str, number: int) -> str:
    """The id of the ``number``-th learned entry of ``category``."""
    return f"{LEARNED_PREFIX}{category}.{number}"


def parse_learned_id(entry_id: str) -> tuple[str, int] | None:
    """``learned.law.3`` as ``("law", 3)``; None for any other id."""
    match = _LEARNED_ID.match(entry_id)
    return (match.group(1), int(match.group(2))) if match else None


def next_learned_id(learned_dir: Path, category: str, taken: Iterable[str] = ()) -> str:
    """The next free id of ``category``: one above every number in use in ``learned_dir``
    or listed in ``taken`` (ids handed out before, whose files may be gone)."""
    used = [path.stem for path in content_files(learned_dir)] if learned_dir.is_dir() else []
    numbers = [
        number
        for found_category, number in filter(None, map(parse_learned_id, [*used, *taken]))
        if found_category == category
    ]
    return learned_id(category, max(numbers, default=0) + 1)


def _title(answer: LearnedAnswer) -> str:
    text = " ".join((answer.title or answer.questions[0]).split())
    return text if len(text) <= TITLE_LENGTH else text[: TITLE_LENGTH - 1].rstrip() + "…"


def learned_document(entry_id: str, answer: LearnedAnswer) -> dict[str, Any]:
    """The YAML mapping of a learned entry: the content schema, in ``answer.language``
    only, the other language listed as missing."""
    lang = answer.language
    questions = list(dict.fromkeys(" ".join(q.split()) for q in answer.questions if q.strip()))
    if not questions:
        raise ValueError("a learned entry needs at least one example question")
    return {
        "id": entry_id,
        "category": answer.category,
        "title": {lang: _title(answer)},
        # the panel answers under the law of the school's country; other advice is general
        "jurisdiction": "cn" if answer.category == "law" else "general",
        "urgent": False,
        "answer": {lang: answer.answer.strip()},
        "questions": {lang: questions},
        "keywords": {lang: []},
        "sources": [
            {"title": f"SafeCampus expert panel ({answer.category}), {answer.drafted.isoformat()}"}
        ],
        "review": {
            "reviewer_role": "school admin",
            "last_reviewed": answer.approved,
            "review_due": answer.review_due,
        },
        "missing_languages": [other for other in LANGS if other != lang],
        "provenance": {
            "case": answer.case_id,
            "expert": answer.expert,
            "drafted": answer.drafted,
        },
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line texts as ``|`` blocks, so that a translator can edit the file by hand."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_text)


def dump_document(document: dict[str, Any]) -> str:
    """A learned entry's mapping as YAML text (UTF-8, keys in schema order)."""
    return yaml.dump(document, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)


def write_learned_entry(
    learned_dir: Path, answer: LearnedAnswer, *, taken: Iterable[str] = ()
) -> Entry:
    """Write ``answer`` as the next entry of its category in ``learned_dir``; return it.

    The entry is validated before anything is written (``ValidationError`` for an answer
    the schema refuses). ``taken`` are ids handed out before (see ``next_learned_id``).
    """
    learned_dir.mkdir(parents=True, exist_ok=True)
    taken = list(taken)
    for _attempt in range(100):
        entry_id = next_learned_id(learned_dir, answer.category, taken)
        document = learned_document(entry_id, answer)
        entry = Entry.model_validate(document)
        if _link_new_file(learned_dir / f"{entry_id}.yaml", dump_document(document)):
            return entry
        taken.append(entry_id)  # another approval took it meanwhile: the next one
    raise OSError(f"no free learned-entry id in {learned_dir}")


def _link_new_file(path: Path, text: str) -> bool:
    """Create ``path`` with ``text`` atomically; False (nothing written) if it exists."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".learned-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o644)
        try:
            os.link(tmp_name, path)  # unlike rename, never replaces an existing file
        except FileExistsError:
            return False
        return True
    finally:
        Path(tmp_name).unlink(missing_ok=True)


def remove_learned_entry(learned_dir: Path, entry_id: str) -> bool:
    """Delete a learned entry's file (an approval that could not be recorded); False if
    there was none. Only ``learned.*`` ids are accepted."""
    if parse_learned_id(entry_id) is None:
        raise ValueError(f"not a learned entry id: {entry_id!r}")
    path = learned_dir / f"{entry_id}.yaml"
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed


def load_learned_entries(learned_dir: Path | None) -> list[Entry]:
    """Every learned entry of ``learned_dir`` ([] when there is no such directory).

    Raises ``ContentError`` when a file does not load, its id does not match its name, or
    its id is not ``learned.<category>.<n>`` of its own category.
    """
    if learned_dir is None or not learned_dir.is_dir():
        return []
    entries: list[Entry] = []
    problems: list[str] = []
    for path in content_files(learned_dir):
        try:
            entry = parse_entry(path)
        except (ValidationError, yaml.YAMLError) as exc:
            problems.append(f"{path.name}: {exc}")
            continue
        problem = learned_id_problem(entry, path)
        if problem:
            problems.append(f"{path.name}: {problem}")
            continue
        entries.append(entry)
    if problems:
        raise ContentError(problems)
    return entries


def learned_id_problem(entry: Entry, path: Path) -> str | None:
    """Why ``entry`` (read from ``path``) cannot be a learned entry, or None."""
    if entry.id != path.stem:
        return f"id {entry.id!r} does not match the file name"
    parsed = parse_learned_id(entry.id)
    if parsed is None:
        return f"id {entry.id!r} is not learned.<category>.<number>"
    if parsed[0] != entry.category:
        return f"id {entry.id!r} does not match the category {entry.category!r}"
    return None


def load_knowledge(
    content_dir: Path = DEFAULT_CONTENT_DIR, learned_dir: Path | None = None
) -> KnowledgeBase:
    """The packaged entries of ``content_dir`` followed by the learned ones of
    ``learned_dir`` (if any); raises ``ContentError`` when either does not load."""
    packaged = load_entries(content_dir)
    learned = load_learned_entries(learned_dir)
    clashes = {entry.id for entry in packaged} & {entry.id for entry in learned}
    if clashes:
        raise ContentError([f"learned id also in the content: {i}" for i in sorted(clashes)])
    return KnowledgeBase(entries=(*packaged, *learned), content_dir=content_dir)
