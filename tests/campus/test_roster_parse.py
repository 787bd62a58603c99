"""Reading roster files: encodings, delimiters, headers, and every problem with its row."""

from __future__ import annotations

from pathlib import Path

import pytest

from campus.models import GuardianRelation
from campus.roster import (
    GuardianEntry,
    ProblemCode,
    RosterRow,
    column_for_header,
    parse_relation,
    parse_roster,
    write_roster,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "roster"
HEADER = "class,student_name,student_number,guardian1_name,guardian1_relation\n"


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _problems(data: bytes | str) -> list[tuple[int | None, ProblemCode]]:
    raw = data.encode() if isinstance(data, str) else data
    return [(problem.row, problem.code) for problem in parse_roster(raw).problems]


def test_utf8_file_without_bom() -> None:
    parsed = parse_roster(_fixture("roster.csv"))
    assert parsed.ok and parsed.delimiter == ","
    first = parsed.rows[0]
    assert (first.row, first.class_name, first.student_name, first.student_number) == (
        2,
        "3A",
        "Wang Fang",
        "S001",
    )
    assert first.guardians == (
        GuardianEntry(1, "Wang Li", GuardianRelation.MOTHER),
        GuardianEntry(2, "Wang Jun", GuardianRelation.FATHER),
    )
    assert parsed.rows[1].guardians[0].relation == GuardianRelation.MOTHER  # "Mum"
    assert parsed.rows[1].guardians[1] == GuardianEntry(2, "", None)
    assert parsed.rows[2].student_name == "<b>Bobby</b> & co 😀"
    assert [row.row for row in parsed.rows] == [2, 3, 4, 5, 6]


def test_utf8_with_bom_and_chinese_headers() -> None:
    data = _fixture("roster_zh.csv")
    assert data.startswith(b"\xef\xbb\xbf")
    parsed = parse_roster(data)
    assert parsed.ok
    assert [(r.class_name, r.student_name, r.student_number) for r in parsed.rows] == [
        ("三年级1班", "王芳", "2024001"),
        ("三年级1班", "李雷", "2024002"),
        ("三年级2班", "赵敏", "2024003"),
    ]
    assert parsed.rows[1].guardians[0] == GuardianEntry(1, "李梅", GuardianRelation.GRANDMOTHER)


def test_gbk_as_excel_in_china_saves_it() -> None:
    text = _fixture("roster_zh.csv").decode("utf-8-sig")
    parsed = parse_roster(text.encode("gbk"))
    assert parsed.ok and parsed.encoding == "gb18030"
    assert parsed.rows == parse_roster(_fixture("roster_zh.csv")).rows


def test_gb18030_characters_outside_gbk() -> None:
    data = "班级,姓名,学号\n三年级1班,王䶮,7\n".encode("gb18030")
    [row] = parse_roster(data).rows
    assert row.student_name == "王䶮"


def test_semicolons_and_quoted_delimiters() -> None:
    parsed = parse_roster(_fixture("roster_semicolon.csv"))
    assert parsed.ok and parsed.delimiter == ";"
    assert [r.student_name for r in parsed.rows] == ["Wang, Fang", "Li; Lei"]
    assert parsed.rows[0].guardians == (GuardianEntry(1, "Wang Li", GuardianRelation.MOTHER),)


def test_windows_line_endings_blank_rows_and_ignored_columns() -> None:
    data = "\r\nclass,name,no,Notes\r\n3A,Li Lei,1,likes maths\r\n\r\n,,,\r\n3A,Wu Di,2,\r\n"
    parsed = parse_roster(data.encode())
    assert parsed.ok
    assert [row.row for row in parsed.rows] == [3, 6]
    assert parsed.ignored_columns == ("Notes",)


def test_title_rows_above_the_header_are_skipped() -> None:
    data = "2024级学生名单,,\n\n班级,姓名,学号\n三年级1班,王芳,1\n三年级1班,,2\n".encode("gbk")
    parsed = parse_roster(data)
    assert [(p.row, p.code) for p in parsed.problems] == [(5, ProblemCode.EMPTY_VALUE)]


def test_a_broken_file_that_says_it_is_utf8_is_not_guessed() -> None:
    data = b"\xef\xbb\xbfclass,name,number\n3A,Li \xff Lei,1\n"
    assert _problems(data) == [(None, ProblemCode.NOT_CSV)]


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("Class", "class"),
        ("班级", "class"),
        ("  Student   Name ", "student_name"),
        ("STUDENT_NAME", "student_name"),
        ("姓名", "student_name"),
        ("学生姓名", "student_name"),
        ("Student No.", "student_number"),
        ("学号", "student_number"),
        ("学号（必填）", "student_number"),
        ("student_number*", "student_number"),
        ("guardian1_name", "guardian1_name"),
        ("Guardian 2", "guardian2_name"),
        ("Parent 1 Name", "guardian1_name"),
        ("监护人1", "guardian1_name"),
        ("监护人2姓名", "guardian2_name"),
        ("家长二", "guardian2_name"),
        ("监护人", "guardian1_name"),
        ("guardian1_relation", "guardian1_relation"),
        ("Guardian 2 Relationship", "guardian2_relation"),
        ("Relation", "guardian1_relation"),
        ("关系1", "guardian1_relation"),
        ("关系2", "guardian2_relation"),
        ("监护人2关系", "guardian2_relation"),
        ("与学生关系", "guardian1_relation"),
        ("Notes", None),
        ("备注", None),
        ("guardian9_name", None),
    ],
)
def test_header_spellings(header: str, column: str | None) -> None:
    assert column_for_header(header) == column


@pytest.mark.parametrize(
    ("text", "relation"),
    [
        ("mother", GuardianRelation.MOTHER),
        ("MUM", GuardianRelation.MOTHER),
        ("母亲", GuardianRelation.MOTHER),
        ("妈妈", GuardianRelation.MOTHER),
        ("Father", GuardianRelation.FATHER),
        ("爸爸", GuardianRelation.FATHER),
        ("父亲", GuardianRelation.FATHER),
        ("Grand-mother", GuardianRelation.GRANDMOTHER),
        ("奶奶", GuardianRelation.GRANDMOTHER),
        ("外婆", GuardianRelation.GRANDMOTHER),
        ("姥姥", GuardianRelation.GRANDMOTHER),
        ("Grandpa", GuardianRelation.GRANDFATHER),
        ("爷爷", GuardianRelation.GRANDFATHER),
        ("外公", GuardianRelation.GRANDFATHER),
        ("姥爷", GuardianRelation.GRANDFATHER),
        ("Legal Guardian", GuardianRelation.GUARDIAN),
        ("监护人", GuardianRelation.GUARDIAN),
        ("其他", GuardianRelation.OTHER),
        ("OTHER", GuardianRelation.OTHER),
        ("auntie", None),
        ("", None),
    ],
)
def test_relations(text: str, relation: GuardianRelation | None) -> None:
    assert parse_relation(text) == relation


def test_every_bad_row_is_named_with_its_reason() -> None:
    parsed = parse_roster(_fixture("bad_rows.csv"))
    assert not parsed.ok and parsed.rows == ()
    assert [(p.row, p.code) for p in parsed.problems] == [
        (3, ProblemCode.EMPTY_VALUE),
        (4, ProblemCode.EMPTY_VALUE),
        (5, ProblemCode.EMPTY_VALUE),
        (6, ProblemCode.DUPLICATE_NUMBER),
        (7, ProblemCode.UNKNOWN_RELATION),
        (8, ProblemCode.RELATION_WITHOUT_NAME),
        (9, ProblemCode.TOO_MANY_COLUMNS),
        (10, ProblemCode.CONTROL_CHARACTERS),
        (11, ProblemCode.NUMBER_MANGLED),
    ]
    details = [dict(p.details) for p in parsed.problems]
    assert [d.get("column") for d in details[:3]] == ["class", "student_name", "student_number"]
    assert details[3] == {
        "column": "student_number",
        "header": "student_number",
        "value": "S001",
        "first_row": 2,
    }
    assert details[4]["value"] == "auntie"
    assert details[5]["slot"] == 1
    assert (details[6]["found"], details[6]["expected"]) == (6, 5)


@pytest.mark.parametrize(
    ("column", "value", "limit"),
    [(0, "C" * 65, 64), (1, "N" * 201, 200), (2, "9" * 65, 64), (3, "G" * 201, 200)],
)
def test_too_long_values(column: int, value: str, limit: int) -> None:
    cells = ["3A", "Li Lei", "S1", "Li Mei", "mother"]
    cells[column] = value
    [problem] = parse_roster((HEADER + ",".join(cells) + "\n").encode()).problems
    assert (problem.row, problem.code) == (2, ProblemCode.TOO_LONG)
    assert (problem.details["limit"], problem.details["length"]) == (limit, len(value))


def test_values_at_the_limit_are_fine() -> None:
    row = ",".join(["C" * 64, "N" * 200, "9" * 64, "G" * 200, ""])
    assert parse_roster((HEADER + row + "\n").encode()).ok


@pytest.mark.parametrize("bad", ["Li\tLei", "Li\x07Lei", "Li\u202eieL", "Li\x1bLei"])
def test_control_characters_are_refused(bad: str) -> None:
    data = f'{HEADER}3A,"{bad}",S1,,\n'.encode()
    assert _problems(data) == [(2, ProblemCode.CONTROL_CHARACTERS)]


def test_emoji_sequences_and_html_are_kept() -> None:
    family = "👨\u200d👩\u200d👧 <i>Li</i> & Lei"
    [row] = parse_roster(f"{HEADER}3A,{family},S1,,\n".encode()).rows
    assert row.student_name == family


def test_spaces_are_tidied() -> None:
    [row] = parse_roster(f"{HEADER}  3A ,  Li\u3000  Lei ,  S1 ,,\n".encode()).rows
    assert (row.class_name, row.student_name, row.student_number) == ("3A", "Li Lei", "S1")


def test_missing_and_duplicate_columns_are_reported_on_the_header_row() -> None:
    assert _problems("\n\nclass,name\n3A,Li\n") == [(3, ProblemCode.MISSING_COLUMN)]
    parsed = parse_roster("姓名,学生姓名,班级,学号\nLi,Li,3A,1\n".encode())
    [problem] = parsed.problems
    assert (problem.row, problem.code) == (1, ProblemCode.DUPLICATE_COLUMN)
    assert problem.details["header"] == "姓名, 学生姓名"


def test_relation_column_needs_its_name_column() -> None:
    [problem] = parse_roster(b"class,name,number,relation2\n3A,Li,1,mother\n").problems
    assert problem.code == ProblemCode.MISSING_COLUMN
    assert problem.details["column"] == "guardian2_name"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", ProblemCode.EMPTY_FILE),
        (b"\xef\xbb\xbf \r\n\r\n", ProblemCode.EMPTY_FILE),
        (b"class,student_name,student_number\n", ProblemCode.NO_ROWS),
        (b"PK\x03\x04\x14\x00\x06\x00", ProblemCode.SPREADSHEET_FILE),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", ProblemCode.SPREADSHEET_FILE),
        (b"class\x00,name", ProblemCode.NOT_CSV),
        (b"\xff\xfe\xfd\xfc", ProblemCode.NOT_CSV),
    ],
)
def test_files_that_cannot_be_imported(data: bytes, code: ProblemCode) -> None:
    assert _problems(data) == [(None, code)]


def test_size_limits() -> None:
    data = (HEADER + "".join(f"3A,Student {i},S{i},,\n" for i in range(30))).encode()
    too_large = parse_roster(data, max_bytes=100).problems[0]
    assert (too_large.code, too_large.details["limit"]) == (ProblemCode.TOO_LARGE, 100)
    [too_many] = parse_roster(data, max_rows=29).problems
    assert (too_many.code, too_many.details["limit"]) == (ProblemCode.TOO_MANY_ROWS, 29)
    assert parse_roster(data, max_rows=30).ok


def test_written_roster_reads_back_the_same() -> None:
    rows = (
        RosterRow(
            2,
            "3A",
            "=HYPERLINK(1)",
            "+86",
            (GuardianEntry(1, "@Li", GuardianRelation.MOTHER), GuardianEntry(2, "", None)),
        ),
        RosterRow(3, "三年级1班", "'=quoted", "-7"),
    )
    data = write_roster(rows)
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and ",'+86," in text and ",'@Li," in text
    back = parse_roster(data)
    assert back.ok
    assert back.rows[0] == rows[0]
    second = back.rows[1]
    assert (second.class_name, second.student_name, second.student_number) == (
        "三年级1班",
        "'=quoted",
        "-7",
    )
    assert second.guardians == (GuardianEntry(1, "", None), GuardianEntry(2, "", None))
