"""The roster file: reading and checking a CSV upload, and writing one, without a database.

``parse_roster`` checks every row before anything is written and returns the clean rows with
every problem found. A problem carries the row number a spreadsheet shows (the header is row
1), a machine code that the bot and the CLI turn into words, and the details those words
need. ``write_roster`` produces a file that ``parse_roster`` reads back unchanged.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from campus.models import GuardianRelation

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 10_000
MAX_GUARDIANS = 4
TITLE_ROWS = 3
EXPORT_GUARDIANS = 2

CLASS = "class"
STUDENT_NAME = "student_name"
STUDENT_NUMBER = "student_number"
REQUIRED_COLUMNS = (CLASS, STUDENT_NAME, STUDENT_NUMBER)
LENGTH_LIMITS = {CLASS: 64, STUDENT_NAME: 200, STUDENT_NUMBER: 64}
GUARDIAN_NAME_LIMIT = 200
SHOWN_VALUE_LIMIT = 40


def guardian_name_column(slot: int) -> str:
    """The canonical header of a guardian's name column, e.g. ``guardian1_name``."""
    return f"guardian{slot}_name"


def guardian_relation_column(slot: int) -> str:
    """The canonical header of a guardian's relation column, e.g. ``guardian1_relation``."""
    return f"guardian{slot}_relation"


class ProblemCode(StrEnum):
    """Why a roster file or one of its rows cannot be imported."""

    EMPTY_FILE = "empty_file"
    NO_ROWS = "no_rows"
    NOT_CSV = "not_csv"
    SPREADSHEET_FILE = "spreadsheet_file"
    TOO_LARGE = "too_large"
    TOO_MANY_ROWS = "too_many_rows"
    MISSING_COLUMN = "missing_column"
    DUPLICATE_COLUMN = "duplicate_column"
    TOO_MANY_COLUMNS = "too_many_columns"
    EMPTY_VALUE = "empty_value"
    TOO_LONG = "too_long"
    CONTROL_CHARACTERS = "control_characters"
    NUMBER_MANGLED = "number_mangled"
    DUPLICATE_NUMBER = "duplicate_number"
    UNKNOWN_RELATION = "unknown_relation"
    RELATION_WITHOUT_NAME = "relation_without_name"


@dataclass(frozen=True)
class Problem:
    """One reason the file cannot be imported; ``row`` is None when it is about the whole file.

    ``details`` may hold ``column`` (canonical name), ``header`` (as the file spells it),
    ``value``, ``limit``, ``length``, ``first_row``, ``slot``, ``found``, ``expected``.
    """

    code: ProblemCode
    row: int | None = None
    details: Mapping[str, str | int] = field(default_factory=dict)


@dataclass(frozen=True)
class GuardianEntry:
    """A guardian column pair of one row; an empty ``name`` means the slot is to be cleared."""

    slot: int
    name: str
    relation: GuardianRelation | None


@dataclass(frozen=True)
class RosterRow:
    """One clean student row; ``guardians`` has an entry for every slot the file has."""

    row: int
    class_name: str
    student_name: str
    student_number: str
    guardians: tuple[GuardianEntry, ...] = ()


@dataclass(frozen=True)
class ParsedRoster:
    """The result of reading a file: import ``rows`` only when ``ok``."""

    rows: tuple[RosterRow, ...] = ()
    problems: tuple[Problem, ...] = ()
    encoding: str | None = None
    delimiter: str | None = None
    ignored_columns: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the file is clean and has at least one student."""
        return not self.problems and bool(self.rows)


# --- relations -----------------------------------------------------------------------------

# Spelled as the cell is after _squash: case, spaces, hyphens and full-width forms do not matter.
_RELATION_WORDS: dict[GuardianRelation, str] = {
    GuardianRelation.MOTHER: "mother mom mum mommy mummy mama 母亲 妈妈",
    GuardianRelation.FATHER: "father dad daddy papa 父亲 爸爸",
    GuardianRelation.GRANDMOTHER: "grandmother grandma granny 奶奶 外婆 姥姥 祖母 外祖母",
    GuardianRelation.GRANDFATHER: "grandfather grandpa granddad grandad 爷爷 外公 姥爷 祖父 外祖父",
    GuardianRelation.GUARDIAN: "guardian legalguardian 监护人 法定监护人",
    GuardianRelation.OTHER: "other others 其他 其它",
}
_RELATIONS = {
    word: relation for relation, words in _RELATION_WORDS.items() for word in words.split()
}


def _squash(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\s_\-.*:#/]+", "", text)


def parse_relation(text: str) -> GuardianRelation | None:
    """The relation a cell names ("Mum", "妈妈", "Grand-mother"), or None if unknown."""
    return _RELATIONS.get(_squash(text))


# --- headers -------------------------------------------------------------------------------

_FIXED_HEADERS: dict[str, str] = {
    CLASS: "class classname form homeroom 班级 班 班别 班级名称",
    STUDENT_NAME: "studentname name student fullname pupil pupilname 学生姓名 姓名 学生 名字",
    STUDENT_NUMBER: "studentnumber studentno studentid number no id 学号 学生编号 编号 学籍号",
}
_HEADERS = {
    alias: column for column, aliases in _FIXED_HEADERS.items() for alias in aliases.split()
}
_PERSON = r"(?:guardian|parent|contact|监护人|家长|联系人)"
_RELATION_HEADER = re.compile(
    rf"^(?:{_PERSON}(\d?))?(?:relationship|relation|关系|与学生关系|称谓)(?:tostudent)?(\d?)$"
)
_NAME_HEADER = re.compile(rf"^{_PERSON}(\d?)(?:name|姓名|名字)?(\d?)$")
_BRACKETED = re.compile(r"[(\[【].*?[)\]】]")
_CHINESE_DIGITS = str.maketrans("一二三四", "1234")


def column_for_header(header: str) -> str | None:
    """The canonical column a header names, or None for a column the import ignores."""
    key = _squash(_BRACKETED.sub("", unicodedata.normalize("NFKC", header)))
    key = key.translate(_CHINESE_DIGITS)
    if key in _HEADERS:
        return _HEADERS[key]
    for pattern, column in (
        (_RELATION_HEADER, guardian_relation_column),
        (_NAME_HEADER, guardian_name_column),
    ):
        match = pattern.match(key)
        if match:
            slot = int(match.group(1) or match.group(2) or 1)
            return column(slot) if 1 <= slot <= MAX_GUARDIANS else None
    return None


@dataclass(frozen=True)
class _Header:
    row: int
    width: int
    positions: dict[str, int]
    spelled: dict[str, str]
    slots: tuple[int, ...]
    ignored: tuple[str, ...]
    problems: tuple[Problem, ...]


def _read_header(row: int, cells: list[str]) -> _Header:
    positions: dict[str, int] = {}
    spelled: dict[str, str] = {}
    ignored: list[str] = []
    problems: list[Problem] = []
    for index, cell in enumerate(cells):
        text = " ".join(cell.split())
        if not text:
            continue
        column = column_for_header(text)
        if column is None:
            ignored.append(text)
        elif column in positions:
            details = {"column": column, "header": f"{spelled[column]}, {text}"}
            problems.append(Problem(ProblemCode.DUPLICATE_COLUMN, row, details))
        else:
            positions[column] = index
            spelled[column] = text
    for column in REQUIRED_COLUMNS:
        if column not in positions:
            problems.append(Problem(ProblemCode.MISSING_COLUMN, row, {"column": column}))
    slots = []
    for slot in range(1, MAX_GUARDIANS + 1):
        name, relation = guardian_name_column(slot), guardian_relation_column(slot)
        if name in positions:
            slots.append(slot)
        elif relation in positions:
            problems.append(Problem(ProblemCode.MISSING_COLUMN, row, {"column": name}))
    width = max(i for i, cell in enumerate(cells) if cell.strip()) + 1
    return _Header(row, width, positions, spelled, tuple(slots), tuple(ignored), tuple(problems))


# --- cells ---------------------------------------------------------------------------------

# Bidirectional overrides can make a name display as something else; other format
# characters (the zero-width joiner inside emoji) are ordinary text.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SCIENTIFIC = re.compile(r"^\d(?:\.\d+)?E\+\d+$", re.IGNORECASE)
_FORMULA_START = ("=", "+", "-", "@")


def _looks_like_formula(value: str) -> bool:
    return value.lstrip("'").startswith(_FORMULA_START)


def has_control_characters(text: str) -> bool:
    """True when the text holds line breaks, tabs, other control codes or bidi overrides."""
    return any(unicodedata.category(c) == "Cc" or c in _BIDI_CONTROLS for c in text)


def _clean(raw: str) -> str:
    value = " ".join(raw.split())
    # write_roster quotes values Excel would run as formulas; undo that on the way back in.
    return value[1:] if value.startswith("'") and _looks_like_formula(value) else value


def _shown(value: str) -> str:
    return value if len(value) <= SHOWN_VALUE_LIMIT else value[: SHOWN_VALUE_LIMIT - 1] + "…"


class _RowChecker:
    """Checks one data row after another and remembers student numbers already seen."""

    def __init__(self, header: _Header) -> None:
        self.header = header
        self.first_row_of: dict[str, int] = {}

    def cell(self, cells: list[str], column: str) -> str | None:
        index = self.header.positions.get(column)
        if index is None:
            return None
        return cells[index].strip() if index < len(cells) else ""

    def check(self, row: int, cells: list[str]) -> tuple[RosterRow | None, list[Problem]]:
        problems: list[Problem] = []
        values: dict[str, str] = {}
        filled = max(i for i, cell in enumerate(cells) if cell.strip()) + 1
        if filled > self.header.width:
            counts = {"found": filled, "expected": self.header.width}
            problems.append(Problem(ProblemCode.TOO_MANY_COLUMNS, row, counts))
        for column in self.header.positions:
            raw = self.cell(cells, column) or ""
            where: dict[str, str | int] = {"column": column, "header": self.header.spelled[column]}
            if has_control_characters(raw):
                problems.append(Problem(ProblemCode.CONTROL_CHARACTERS, row, where))
                continue
            value = _clean(raw)
            limit = LENGTH_LIMITS.get(column, GUARDIAN_NAME_LIMIT)
            if not value and column in REQUIRED_COLUMNS:
                problems.append(Problem(ProblemCode.EMPTY_VALUE, row, where))
            elif len(value) > limit:
                details = {**where, "limit": limit, "length": len(value)}
                problems.append(Problem(ProblemCode.TOO_LONG, row, details))
            else:
                values[column] = value
        problems += self._check_number(row, values)
        guardians, guardian_problems = self._guardians(row, values)
        problems += guardian_problems
        if problems or any(column not in values for column in REQUIRED_COLUMNS):
            return None, problems
        return (
            RosterRow(row, values[CLASS], values[STUDENT_NAME], values[STUDENT_NUMBER], guardians),
            problems,
        )

    def _check_number(self, row: int, values: dict[str, str]) -> list[Problem]:
        number = values.get(STUDENT_NUMBER)
        if not number:
            return []
        where: dict[str, str | int] = {
            "column": STUDENT_NUMBER,
            "header": self.header.spelled[STUDENT_NUMBER],
        }
        if _SCIENTIFIC.match(number):
            return [Problem(ProblemCode.NUMBER_MANGLED, row, {**where, "value": _shown(number)})]
        first = self.first_row_of.setdefault(number, row)
        if first != row:
            details = {**where, "value": _shown(number), "first_row": first}
            return [Problem(ProblemCode.DUPLICATE_NUMBER, row, details)]
        return []

    def _guardians(
        self, row: int, values: dict[str, str]
    ) -> tuple[tuple[GuardianEntry, ...], list[Problem]]:
        entries: list[GuardianEntry] = []
        problems: list[Problem] = []
        for slot in self.header.slots:
            name_column = guardian_name_column(slot)
            relation_column = guardian_relation_column(slot)
            if name_column not in values:
                continue  # already reported: control characters or too long
            name = values[name_column]
            said = values.get(relation_column, "")
            relation = parse_relation(said) if said else None
            where: dict[str, str | int] = {
                "column": relation_column,
                "header": self.header.spelled.get(relation_column, relation_column),
            }
            if said and relation is None:
                details = {**where, "value": _shown(said)}
                problems.append(Problem(ProblemCode.UNKNOWN_RELATION, row, details))
            elif said and not name:
                details = {**where, "slot": slot}
                problems.append(Problem(ProblemCode.RELATION_WITHOUT_NAME, row, details))
            entries.append(GuardianEntry(slot, name, relation))
        return tuple(entries), problems


# --- the file ------------------------------------------------------------------------------

_SPREADSHEET_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")


def decode_roster(data: bytes) -> tuple[str, str] | None:
    """The text of the file and the encoding it was in: UTF-8 (with or without BOM), else
    GB18030 (a superset of GBK, what Excel in China saves). None when it is neither."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        if data.startswith(codecs.BOM_UTF8):
            return None  # says UTF-8 but is broken: reading it as GB18030 would garble it
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        return None


def sniff_delimiter(text: str) -> str:
    """Comma or semicolon, whichever the first lines (title and header) use more."""
    lines = [line for line in text.splitlines()[: TITLE_ROWS + 10] if line.strip()]
    head = "\n".join(lines[: TITLE_ROWS + 1])
    return ";" if head.count(";") > head.count(",") else ","


def _records(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    # One record per spreadsheet row, blank ones included, so numbering matches.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    yield from enumerate(reader, start=1)


def _file_problem(code: ProblemCode, **details: str | int) -> ParsedRoster:
    return ParsedRoster(problems=(Problem(code, None, details),))


def parse_roster(
    data: bytes, *, max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS
) -> ParsedRoster:
    """Read and check a roster CSV; see the module docstring and docs/roster.md."""
    if len(data) > max_bytes:
        return _file_problem(ProblemCode.TOO_LARGE, limit=max_bytes, length=len(data))
    if data.startswith(_SPREADSHEET_MAGIC):
        return _file_problem(ProblemCode.SPREADSHEET_FILE)
    if b"\x00" in data:
        return _file_problem(ProblemCode.NOT_CSV)
    decoded = decode_roster(data)
    if decoded is None:
        return _file_problem(ProblemCode.NOT_CSV)
    text, encoding = decoded
    if not text.strip():
        return _file_problem(ProblemCode.EMPTY_FILE)
    delimiter = sniff_delimiter(text)
    try:
        return _parse_records(_records(text, delimiter), encoding, delimiter, max_rows)
    except csv.Error:
        return _file_problem(ProblemCode.NOT_CSV)


def _find_header(filled: list[tuple[int, list[str]]]) -> int:
    # Exports often start with a title row ("2024级学生名单"); the header is the first of
    # the leading rows that names the required columns, else the first row.
    for index, (_number, cells) in enumerate(filled[: TITLE_ROWS + 1]):
        columns = {column_for_header(cell) for cell in cells}
        if columns.issuperset(REQUIRED_COLUMNS):
            return index
    return 0


def _parse_records(
    records: Iterable[tuple[int, list[str]]], encoding: str, delimiter: str, max_rows: int
) -> ParsedRoster:
    filled = [(number, cells) for number, cells in records if any(c.strip() for c in cells)]
    if not filled:
        return _file_problem(ProblemCode.EMPTY_FILE)
    at = _find_header(filled)
    header = _read_header(*filled[at])
    data = filled[at + 1 :]
    if len(data) > max_rows:
        return _file_problem(ProblemCode.TOO_MANY_ROWS, limit=max_rows)
    problems = list(header.problems)
    rows: list[RosterRow] = []
    if not problems and not data:
        problems.append(Problem(ProblemCode.NO_ROWS))
    if not problems:
        checker = _RowChecker(header)
        for number, cells in data:
            row, found = checker.check(number, cells)
            problems += found
            if row is not None:
                rows.append(row)
    return ParsedRoster(
        rows=() if problems else tuple(rows),
        problems=tuple(problems),
        encoding=encoding,
        delimiter=delimiter,
        ignored_columns=header.ignored,
    )


# --- writing -------------------------------------------------------------------------------


def _protected(value: str) -> str:
    # A leading = + - @ makes Excel run the cell as a formula (CSV injection). Values that
    # already start with quotes get one more, so that _clean gives back the original.
    return "'" + value if _looks_like_formula(value) else value


def roster_columns(slots: int = EXPORT_GUARDIANS) -> list[str]:
    """The canonical header, with guardian columns for ``slots`` slots."""
    columns = list(REQUIRED_COLUMNS)
    for slot in range(1, slots + 1):
        columns += [guardian_name_column(slot), guardian_relation_column(slot)]
    return columns


def write_roster(rows: Iterable[RosterRow], *, slots: int = EXPORT_GUARDIANS) -> bytes:
    """A UTF-8 CSV with a BOM (so Excel reads it correctly) that re-imports unchanged."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(roster_columns(slots))
    for row in rows:
        cells = [row.class_name, row.student_name, row.student_number]
        by_slot = {entry.slot: entry for entry in row.guardians}
        for slot in range(1, slots + 1):
            entry = by_slot.get(slot)
            relation = entry.relation.value if entry and entry.relation else ""
            cells += [entry.name if entry else "", relation]
        writer.writerow([_protected(cell) for cell in cells])
    return out.getvalue().encode("utf-8-sig")
