"""Guardian invite sheets as files: a CSV for the school office and a PDF of slips to cut out.

Works on the slips ``campus.services.guardian_invites`` issued and the bot's username; no
database and no Telegram library. Every slip is bilingual (English and Simplified Chinese)
because it is printed once and handed to families of either language. Names are drawn as
plain strings, never as markup, and cut short with "…" so that they stay inside the slip. The
Chinese font is STSong-Light, one of the standard CJK fonts PDF viewers supply themselves, so
no font file is needed or embedded.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import unicodedata
from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reportlab.graphics.barcode.qrencoder import QRCode, QRErrorCorrectLevel
from reportlab.lib.colors import Color, black
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from campus.models import GuardianRelation, utcnow
from campus.services.guardian_invites import GuardianSheet, GuardianSlip

CSV_COLUMNS = ("class", "student_number", "student", "slot", "guardian", "link", "expires")

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 24.0
HEADER_HEIGHT = 30.0
SLIPS_PER_PAGE = 4
SLIP_WIDTH = PAGE_WIDTH - 2 * MARGIN
SLIP_HEIGHT = (PAGE_HEIGHT - 2 * MARGIN - HEADER_HEIGHT) / SLIPS_PER_PAGE
PADDING = 12.0
QR_SIZE = 132.0
QR_BORDER = 4  # modules of white around the code, as the QR standard asks
TEXT_LEFT = PADDING + QR_SIZE + 14.0
TEXT_WIDTH = SLIP_WIDTH - TEXT_LEFT - PADDING

LATIN = "Helvetica"
MONO = "Courier"
CJK = "STSong-Light"
ELLIPSIS = "…"
#: Printed in place of a character the built-in fonts cannot show (emoji and the like).
MISSING = "□"
GREY = Color(0.35, 0.35, 0.35)

INSTRUCTIONS_EN = (
    "1. Scan the QR code with your phone camera, or open the link below in Telegram.",
    "2. Confirm your child's name and class in the chat.",
    "3. The code works once. Please do not share it.",
)
INSTRUCTIONS_ZH = (
    "1. 用手机相机扫描二维码，或在 Telegram 中打开下方链接。",
    "2. 在对话中确认孩子的姓名和班级。",
    "3. 此码只能使用一次，请勿转给他人。",
)
RELATION_LABELS = {
    GuardianRelation.MOTHER: "mother 妈妈",
    GuardianRelation.FATHER: "father 爸爸",
    GuardianRelation.GRANDMOTHER: "grandmother 祖母/外祖母",
    GuardianRelation.GRANDFATHER: "grandfather 祖父/外祖父",
    GuardianRelation.GUARDIAN: "guardian 监护人",
    GuardianRelation.OTHER: "other 其他",
}
_FORMULA_START = ("=", "+", "-", "@")


def invite_link(bot_username: str, code: str) -> str:
    """The ``/start`` deep link that carries an invite code."""
    return f"https://t.me/{bot_username.strip().lstrip('@')}?start={code}"


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(moment: datetime, timezone: str) -> str:
    """A moment as the school reads it: ``2025-03-01 10:00`` in the school's time zone."""
    return moment.astimezone(_zone(timezone)).strftime("%Y-%m-%d %H:%M")


def guardian_label(slip: GuardianSlip) -> str:
    """Who the slip is for as the roster names them, e.g. ``Wang Li (mother)``; empty when
    the roster names nobody."""
    if not slip.guardian_name:
        return ""
    if slip.relation is None:
        return slip.guardian_name
    return f"{slip.guardian_name} ({slip.relation.value})"


def _csv_cell(value: str) -> str:
    # A leading = + - @ makes Excel run the cell as a formula (CSV injection).
    return "'" + value if value.startswith(_FORMULA_START) else value


def render_csv(sheet: GuardianSheet, bot_username: str) -> bytes:
    """The sheet as CSV, one row per slip, in UTF-8 with a byte-order mark so that Excel
    (also in China) shows names correctly."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for slip in sheet.slips:
        cells = [
            slip.class_name,
            slip.student_number,
            slip.student_name,
            str(slip.slot),
            guardian_label(slip),
            invite_link(bot_username, slip.code),
            local_time(slip.expires_at, sheet.timezone),
        ]
        writer.writerow([_csv_cell(cell) for cell in cells])
    return out.getvalue().encode("utf-8-sig")


# --- the PDF ----------------------------------------------------------------------------------


def printable(text: str) -> str:
    """The text with what a printed slip cannot show taken out: control and formatting
    characters (line breaks, direction overrides) go, characters outside the fonts (emoji)
    become a box."""
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if category == "Cc":
            kept.append(" ")
            continue
        if category in {"Cf", "Cs", "Co", "Cn"}:
            continue
        if "\ufe00" <= char <= "\ufe0f":  # emoji variation selectors
            continue
        kept.append(MISSING if ord(char) > 0xFFFF else char)
    return " ".join("".join(kept).split())


def _is_latin(char: str) -> bool:
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def runs(text: str) -> list[tuple[str, str]]:
    """``text`` as (font, part) runs: what the Latin font can show in it, the rest in the
    Chinese font, whose Latin letters some PDF viewers space badly."""
    parts: list[tuple[str, str]] = []
    for char in text:
        font = LATIN if _is_latin(char) else CJK
        if parts and parts[-1][0] == font:
            parts[-1] = (font, parts[-1][1] + char)
        else:
            parts.append((font, char))
    return parts


def text_width(text: str, size: float, font: str | None = None) -> float:
    """Width in points of ``text`` drawn in ``font``, or in Latin and Chinese runs."""
    register_fonts()
    if font is not None:
        return pdfmetrics.stringWidth(text, font, size)
    return sum(pdfmetrics.stringWidth(part, run, size) for run, part in runs(text))


def fit(text: str, size: float, width: float, font: str | None = None) -> str:
    """``text`` cut short with "…" so that it is at most ``width`` points wide."""
    if text_width(text, size, font) <= width:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with the ellipsis
        middle = (low + high + 1) // 2
        if text_width(text[:middle] + ELLIPSIS, size, font) <= width:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + ELLIPSIS


def draw_text(canvas: Canvas, x: float, y: float, text: str, size: float) -> None:
    """Draw ``text`` literally, in Latin and Chinese runs."""
    for font, part in runs(text):
        canvas.setFont(font, size)
        canvas.drawString(x, y, part)
        x += pdfmetrics.stringWidth(part, font, size)


@cache
def register_fonts() -> None:
    """Make the Chinese font known to reportlab (once per process)."""
    if CJK not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK))


def qr_code(link: str) -> QRCode:
    """The link as a QR code (reportlab's QR widget encoder), with error correction level M
    so that a creased or smudged slip still scans."""
    code = QRCode(None, QRErrorCorrectLevel.M)
    code.addData(link)
    code.make()
    return code


def _dark_runs(modules: Sequence[Sequence[object]]) -> Iterator[tuple[int, int, int]]:
    """(row, first column, length) of every horizontal run of dark modules."""
    for row, cells in enumerate(modules):
        column = 0
        for dark, run in itertools.groupby(bool(cell) for cell in cells):
            length = len(list(run))
            if dark:
                yield row, column, length
            column += length


class _SlipWriter:
    """Draws lines of text top-down inside one slip."""

    def __init__(self, canvas: Canvas, left: float, top: float, width: float) -> None:
        self.canvas = canvas
        self.left = left
        self.y = top
        self.width = width

    def line(self, text: str, size: float, gap: float = 3.0) -> None:
        self.y -= size
        draw_text(self.canvas, self.left, self.y, fit(text, size, self.width), size)
        self.y -= gap

    def space(self, points: float) -> None:
        self.y -= points


def _draw_cut_line(canvas: Canvas, y: float) -> None:
    canvas.saveState()
    canvas.setStrokeColor(GREY)
    canvas.setLineWidth(0.5)
    canvas.setDash(4, 3)
    canvas.line(MARGIN, y, PAGE_WIDTH - MARGIN, y)
    canvas.restoreState()


def _draw_header(canvas: Canvas, sheet: GuardianSheet, page: int, pages: int) -> None:
    printed = local_time(utcnow(), sheet.timezone)
    top = PAGE_HEIGHT - MARGIN
    writer = _SlipWriter(canvas, MARGIN, top, SLIP_WIDTH)
    canvas.setFillColor(GREY)
    writer.line(
        f"{printable(sheet.school_name)} · guardian invites 家长邀请 · printed 打印于 {printed}"
        f" · page {page}/{pages}",
        8,
    )
    writer.line(
        "Only the newest slips work: unused slips printed earlier for these guardians were "
        "cancelled. 仅最新打印的邀请条有效，之前打印且未使用的已作废。",
        8,
    )
    canvas.setFillColor(black)


def _draw_qr(canvas: Canvas, link: str, name: str, x: float, y: float) -> None:
    # One path of rectangles: drawing the widget shape by shape took twice as long. Each
    # code is its own form XObject, so the file has one object per slip.
    encoder = qr_code(link)
    module = QR_SIZE / (encoder.moduleCount + 2 * QR_BORDER)
    canvas.beginForm(name, lowerx=0, lowery=0, upperx=QR_SIZE, uppery=QR_SIZE)
    path = canvas.beginPath()
    for row, column, length in _dark_runs(encoder.modules):
        top = QR_SIZE - (row + QR_BORDER) * module
        path.rect((column + QR_BORDER) * module, top - module, length * module, module)
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.endForm()
    canvas.saveState()
    canvas.translate(x, y)
    canvas.doForm(name)
    canvas.restoreState()


def _draw_details(canvas: Canvas, sheet: GuardianSheet, slip: GuardianSlip, top: float) -> None:
    text = _SlipWriter(canvas, MARGIN + TEXT_LEFT, top - PADDING, TEXT_WIDTH)
    canvas.setFillColor(GREY)
    text.line(printable(sheet.school_name), 9)
    canvas.setFillColor(black)
    text.line(printable(slip.student_name), 15, gap=5)
    text.line(
        f"Class 班级: {printable(slip.class_name)}    No. 学号: {printable(slip.student_number)}",
        9.5,
    )
    if slip.guardian_name:
        relation = f" ({RELATION_LABELS[slip.relation]})" if slip.relation else ""
        guardian = printable(slip.guardian_name) + relation
    else:
        guardian = "a parent or guardian 家长或监护人"
    text.line(f"For 监护人: {guardian}", 9.5)
    text.line(f"Valid until 有效期至: {local_time(slip.expires_at, sheet.timezone)}", 9.5)
    text.space(3)
    for line in INSTRUCTIONS_EN:
        text.line(line, 8.5, gap=2.5)
    text.space(2)
    for line in INSTRUCTIONS_ZH:
        text.line(line, 8.5, gap=2.5)


def _draw_link(canvas: Canvas, link: str, baseline: float) -> None:
    # A link is never cut short: a long bot name makes the type smaller instead.
    width = SLIP_WIDTH - 2 * PADDING
    size = 8.0
    while size > 4 and pdfmetrics.stringWidth(link, MONO, size) > width:
        size -= 0.5
    canvas.setFont(MONO, size)
    canvas.drawString(MARGIN + PADDING, baseline, link)
    right = MARGIN + PADDING + pdfmetrics.stringWidth(link, MONO, size)
    canvas.linkURL(link, (MARGIN + PADDING, baseline - 2, right, baseline + size))


def _draw_slip(
    canvas: Canvas, sheet: GuardianSheet, slip: GuardianSlip, link: str, index: int, y: float
) -> None:
    """One slip whose lower edge is at ``y``."""
    top = y + SLIP_HEIGHT
    _draw_qr(canvas, link, f"qr{index}", MARGIN + PADDING, top - PADDING - QR_SIZE)
    _draw_details(canvas, sheet, slip, top)
    _draw_link(canvas, link, y + PADDING)


def render_pdf(sheet: GuardianSheet, bot_username: str) -> bytes:
    """The sheet as an A4 PDF: SLIPS_PER_PAGE slips a page with cut lines, each with the school,
    the child, the class, who it is for, the link as a QR code and as text, the expiry, and
    instructions in English and Chinese."""
    register_fonts()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle("Guardian invites")
    canvas.setCreator("SafeCampus")
    pages = _pages(sheet.slips)
    for page, slips in enumerate(pages, start=1):
        _draw_header(canvas, sheet, page, len(pages))
        top = PAGE_HEIGHT - MARGIN - HEADER_HEIGHT
        _draw_cut_line(canvas, top)
        for position, slip in enumerate(slips):
            y = top - (position + 1) * SLIP_HEIGHT
            index = (page - 1) * SLIPS_PER_PAGE + position + 1
            _draw_slip(canvas, sheet, slip, invite_link(bot_username, slip.code), index, y)
            _draw_cut_line(canvas, y)
        if not slips:
            canvas.setFont(LATIN, 11)
            canvas.drawString(MARGIN, top - 30, "No invites to print.")
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _pages(slips: Sequence[GuardianSlip]) -> list[Sequence[GuardianSlip]]:
    count = max(1, math.ceil(len(slips) / SLIPS_PER_PAGE))
    return [slips[i * SLIPS_PER_PAGE : (i + 1) * SLIPS_PER_PAGE] for i in range(count)]
