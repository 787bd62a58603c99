"""Guardian invite sheets as files: the CSV for the office and the PDF of slips."""

from __future__ import annotations

import base64
import csv
import io
import itertools
import re
import zlib
from datetime import UTC, datetime

from reportlab.pdfbase import pdfmetrics

from campus.invite_sheet import (
    CSV_COLUMNS,
    ELLIPSIS,
    MISSING,
    SLIPS_PER_PAGE,
    TEXT_WIDTH,
    fit,
    invite_link,
    printable,
    qr_code,
    render_csv,
    render_pdf,
    text_width,
)
from campus.models import GuardianRelation
from campus.services.guardian_invites import GuardianSheet, GuardianSlip

EXPIRES = datetime(2025, 3, 1, 2, 30, tzinfo=UTC)  # 10:30 in Shanghai
LONG_NAME = "Alexandrina Maximiliana " * 12


def _slip(
    number: str,
    name: str,
    slot: int = 1,
    guardian_name: str | None = None,
    relation: GuardianRelation | None = None,
) -> GuardianSlip:
    code = f"code{number}x{slot}"
    return GuardianSlip("3A", number, name, slot, guardian_name, relation, code, EXPIRES)


SLIPS = [
    _slip("S001", "Wang Fang", 1, guardian_name="Wang Li", relation=GuardianRelation.MOTHER),
    _slip("S001", "Wang Fang", 2, guardian_name="Wang Jun", relation=GuardianRelation.FATHER),
    _slip("S002", "王芳", 1, guardian_name="王丽", relation=GuardianRelation.GRANDMOTHER),
    _slip("S003", "<b>Bobby</b> & co 😀", 1),
    _slip("=1+1", LONG_NAME, 1, guardian_name="@cmd"),
]
SHEET = GuardianSheet("Sunshine Primary 阳光小学", "Asia/Shanghai", SLIPS, replaced=2)


def _page_text(pdf: bytes) -> bytes:
    """Every content stream of the PDF, decoded (reportlab writes ASCII85 over Flate)."""
    parts = []
    for body in re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        data = body.strip()
        if data.endswith(b"~>"):
            data = base64.a85decode(data, adobe=True)
        parts.append(zlib.decompress(data))
    return b"\n".join(parts)


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b", pdf))


def test_links_are_start_links() -> None:
    assert invite_link("@hope_bot", "abc_-1") == "https://t.me/hope_bot?start=abc_-1"


def test_csv_has_a_bom_and_one_row_per_slip() -> None:
    data = render_csv(SHEET, "hope_bot")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[1] == [
        "3A",
        "S001",
        "Wang Fang",
        "1",
        "Wang Li (mother)",
        "https://t.me/hope_bot?start=codeS001x1",
        "2025-03-01 10:30",
    ]
    assert len(rows) == 1 + len(SLIPS)
    assert rows[3][2] == "王芳" and rows[3][4] == "王丽 (grandmother)"
    assert rows[4][2] == "<b>Bobby</b> & co 😀" and rows[4][4] == ""
    # Cells Excel would run as a formula are defused.
    assert rows[5][1] == "'=1+1" and rows[5][4] == "'@cmd"


def test_pdf_has_one_qr_code_and_link_per_slip() -> None:
    pdf = render_pdf(SHEET, "hope_bot")
    assert pdf.startswith(b"%PDF")
    assert _pages(pdf) == 2 == -(-len(SLIPS) // SLIPS_PER_PAGE)
    assert pdf.count(b"/Subtype /Form") == len(SLIPS)  # each QR code is one form
    text = _page_text(pdf)
    for slip in SLIPS:
        assert text.count(invite_link("hope_bot", slip.code).encode()) == 1
    assert b"/STSong-Light" in pdf  # the Chinese font, not embedded
    assert b"Scan the QR code with your phone camera" in text
    assert b"2025-03-01 10:30" in text


def test_names_are_drawn_literally_and_cut_to_fit() -> None:
    text = _page_text(render_pdf(SHEET, "hope_bot"))
    assert b"(<b>Bobby</b> & co " in text  # as characters, not markup
    assert LONG_NAME.encode() not in text
    assert b"Alexandrina Maximiliana Alexandrina" in text
    cut = fit(printable(LONG_NAME), 15, TEXT_WIDTH)
    assert cut.endswith(ELLIPSIS) and text_width(cut, 15) <= TEXT_WIDTH
    chinese = fit("王" * 200, 15, TEXT_WIDTH)
    assert chinese.endswith(ELLIPSIS) and text_width(chinese, 15) <= TEXT_WIDTH
    assert fit("Wang Fang", 15, TEXT_WIDTH) == "Wang Fang"


def test_what_cannot_be_printed_is_dropped_or_boxed() -> None:
    assert printable("Zoë\u202e\nLi") == "Zoë Li"
    assert printable("Bobby 😀\ufe0f") == f"Bobby {MISSING}"
    assert printable("王芳") == "王芳"


def _dark_runs(link: str) -> int:
    rows = qr_code(link).modules
    return sum(dark for row in rows for dark, _run in itertools.groupby(map(bool, row)))


def test_each_qr_code_carries_its_link_and_is_drawn_whole() -> None:
    link = invite_link("hope_bot", "codeS001x1")
    assert [data.data for data in qr_code(link).dataList] == [link.encode()]
    # Every dark run of every slip's code is one rectangle in the file, nothing else is.
    text = _page_text(render_pdf(SHEET, "hope_bot"))
    drawn = len(re.findall(rb"\d re\b", text))
    assert drawn == sum(_dark_runs(invite_link("hope_bot", slip.code)) for slip in SLIPS)


def test_an_empty_sheet_is_one_page() -> None:
    pdf = render_pdf(GuardianSheet("S", "Nowhere/Invalid", [], 0), "hope_bot")
    assert _pages(pdf) == 1 and pdf.count(b"/Subtype /Form") == 0
    assert b"No invites to print." in _page_text(pdf)
    assert render_csv(GuardianSheet("S", "UTC", [], 0), "b").count(b"\r\n") == 1


def test_widths_use_both_fonts() -> None:
    mixed = text_width("Wang 王", 10)
    assert mixed == pdfmetrics.stringWidth("Wang ", "Helvetica", 10) + pdfmetrics.stringWidth(
        "王", "STSong-Light", 10
    )
