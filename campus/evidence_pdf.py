"""The evidence pack as a readable PDF, for the school's own use (it has names).

Title, the notice's facts, every version's text in the languages it was written in, the
counts, one table row per guardian, the deadline report and the ledger's head hash. Labels
are bilingual (English and Simplified Chinese) like the invite slips. Chinese text uses the
PDF viewer's built-in STSong-Light, so no font file is needed; user text is escaped, never
read as markup. Needs reportlab; import this module only when it is installed.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from campus.evidence import EvidencePack, RecipientRecord

CJK = "STSong-Light"
MISSING = "□"
KIND_LABELS = {
    "class_notice": "Class notice 班级通知",
    "safety_alert": "Safety alert 安全提醒",
    "urgent_alert": "Urgent alert 紧急警报",
}


@cache
def _register_fonts() -> None:
    pdfmetrics.registerFont(UnicodeCIDFont(CJK))


def _printable(text: str) -> str:
    # Control and formatting characters go; what the fonts cannot show (emoji) is a box.
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if category == "Cc" and char != "\n":
            kept.append(" ")
        elif category in {"Cf", "Cs", "Co", "Cn"} or "\ufe00" <= char <= "\ufe0f":
            continue
        else:
            kept.append(MISSING if ord(char) > 0xFFFF else char)
    return "".join(kept)


def _is_latin(char: str) -> bool:
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def markup(text: str) -> str:
    """User text as Paragraph markup: escaped, Chinese runs in the Chinese font, line
    breaks kept."""
    parts: list[str] = []
    run, latin = "", True
    for char in _printable(text):
        char_latin = _is_latin(char) or char == "\n"
        if run and char_latin != latin:
            parts.append(_run(run, latin))
            run = ""
        run, latin = run + char, char_latin
    if run:
        parts.append(_run(run, latin))
    return "".join(parts)


def _run(text: str, latin: bool) -> str:
    escaped = escape(text).replace("\n", "<br/>")
    return escaped if latin else f'<font name="{CJK}">{escaped}</font>'


def _time(moment: datetime | None, timezone: str) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


class _Styles:
    def __init__(self) -> None:
        sheet = getSampleStyleSheet()
        self.title = sheet["Title"]
        self.heading = ParagraphStyle("heading", parent=sheet["Heading2"], keepWithNext=1)
        self.small_heading = ParagraphStyle("version", parent=sheet["Heading4"], keepWithNext=1)
        self.body = sheet["BodyText"]
        self.cell = ParagraphStyle("cell", parent=sheet["BodyText"], fontSize=8, leading=10)
        self.mono = ParagraphStyle("mono", parent=self.cell, fontName="Courier")


def _table(
    rows: Sequence[Sequence[Flowable | str]], widths: Sequence[float], *, header: bool = False
) -> Table:
    table = Table([list(row) for row in rows], colWidths=list(widths), repeatRows=int(header))
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    if header:
        table.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.9, 0.9))]))
    return table


def _facts(pack: EvidencePack, s: _Styles) -> list[Flowable]:
    zone = pack.timezone
    kind = KIND_LABELS.get(pack.kind, pack.kind)
    if pack.is_drill:
        kind += " · DRILL 演练"
    facts = [
        ("School 学校", pack.school_name),
        (
            "Kind 类型",
            KIND_LABELS.get(pack.kind, pack.kind) + (" · DRILL 演练" if pack.is_drill else ""),
        ),
        ("Classes 班级", ", ".join(pack.classes)),
        ("Author 发布者", pack.author),
        ("Sent 发送", _time(pack.send_at, zone)),
        ("Deadline 截止", _time(pack.deadline_at, zone)),
        ("Acknowledgement asked 需确认", "yes 是" if pack.requires_ack else "no 否"),
        ("Reminders (minutes) 提醒（分钟）", ", ".join(map(str, pack.reminder_minutes)) or "—"),
        ("Current version 当前版本", str(pack.current_version)),
        ("Cancelled 已取消", _time(pack.cancelled_at, zone)),
        ("Time zone 时区", zone),
    ]
    rows = [[Paragraph(markup(k), s.cell), Paragraph(markup(v), s.cell)] for k, v in facts]
    return [_table(rows, [60 * mm, 110 * mm])]


def _versions(pack: EvidencePack, s: _Styles) -> list[Flowable]:
    flow: list[Flowable] = [Paragraph(markup("Versions 版本"), s.heading)]
    for version in pack.versions:
        head = f"Version {version.number} · {_time(version.created_at, pack.timezone)} · "
        flow.append(Paragraph(markup(head + version.author), s.small_heading))
        if version.change_note:
            flow.append(Paragraph(markup("What changed 修改说明: " + version.change_note), s.body))
        for language in sorted(set(version.title) | set(version.body)):
            flow.append(
                Paragraph(
                    f"<b>[{escape(language)}] {markup(version.title.get(language, ''))}</b>",
                    s.body,
                )
            )
            flow.append(Paragraph(markup(version.body.get(language, "")), s.body))
    return flow


def _counts(pack: EvidencePack, s: _Styles) -> list[Flowable]:
    deliveries, families = pack.summary.deliveries, pack.summary.families
    rows = [
        ("Guardian deliveries 监护人投递", deliveries.guardians),
        ("Sent 已发送", deliveries.sent),
        ("Failed 发送失败", deliveries.failed),
        ("Not reachable 无法联系", deliveries.unreachable),
        ("Waiting to be sent 待发送", deliveries.to_send),
        ("Not asked yet (other guardians) 尚未询问（其他监护人）", deliveries.not_asked),
        ("Families 家庭", families.total),
        ("Families acknowledged 已确认家庭", families.acknowledged),
        ("Families not acknowledged 未确认家庭", families.not_acknowledged),
        ("…with no reachable guardian …无可联系的监护人", families.no_reachable_guardian),
    ]
    table = _table(
        [[Paragraph(markup(k), s.cell), str(v)] for k, v in rows],
        [110 * mm, 30 * mm],
    )
    return [Paragraph(markup("Counts 统计"), s.heading), table]


def _acknowledged(recipient: RecipientRecord, pack: EvidencePack) -> str:
    lines = [f"{_time(a.at, pack.timezone)} (v{a.version})" for a in recipient.acknowledgements]
    return "\n".join(lines) or "—"


def _families(pack: EvidencePack, s: _Styles) -> list[Flowable]:
    header: list[Flowable | str] = [
        Paragraph(markup(text), s.cell)
        for text in (
            "Child 学生",
            "Class 班级",
            "Guardian 监护人",
            "Sent 发送",
            "Acknowledged 确认",
            "Reminders 提醒",
        )
    ]
    rows: list[list[Flowable | str]] = [header]
    for r in pack.recipients:
        guardian = f"{r.guardian_name} ({r.relation})" if r.relation else r.guardian_name
        guardian += f"\n{r.guardian}"
        if not r.first_guardian:
            guardian += "\nother guardian 其他监护人"
        if r.unreachable_at is not None or (r.asked_at is not None and not r.messages):
            guardian += "\nnot reachable 无法联系"
        rows.append(
            [
                Paragraph(markup(r.child_name), s.cell),
                Paragraph(markup(r.class_name), s.cell),
                Paragraph(markup(guardian), s.cell),
                Paragraph(markup(_time(r.sent_at, pack.timezone)), s.cell),
                Paragraph(markup(_acknowledged(r, pack)), s.cell),
                str(r.reminders_sent),
            ]
        )
    widths = [30 * mm, 15 * mm, 48 * mm, 27 * mm, 32 * mm, 20 * mm]
    return [Paragraph(markup("Families 家庭"), s.heading), _table(rows, widths, header=True)]


def _deadline(pack: EvidencePack, s: _Styles) -> list[Flowable]:
    report = pack.deadline_report
    if report is None:
        return []
    text = (
        f"Deadline 截止: {_time(report.deadline_at, pack.timezone)} · "
        f"reported 已报告: {_time(report.reported_at, pack.timezone)} · "
        f"acknowledged by the deadline 截止前确认: {report.acknowledged_by_deadline} / "
        f"{report.families}"
    )
    flow: list[Flowable] = [
        Paragraph(markup("Deadline report 截止报告"), s.heading),
        Paragraph(markup(text), s.body),
    ]
    for message in report.messages:
        line = (
            f"→ {message.recipient}: {message.state}, "
            f"{_time(message.sent_at, pack.timezone)}, message {message.telegram_message_id or '—'}"
        )
        flow.append(Paragraph(markup(line), s.body))
    return flow


def _ledger(pack: EvidencePack, s: _Styles) -> list[Flowable]:
    chain = pack.chain
    verdict = (
        "intact 完整"
        if chain.intact
        else f"BROKEN 已损坏 at entry {chain.first_bad_id}: {chain.problem}"
    )
    return [
        Paragraph(markup("Audit ledger 审计记录"), s.heading),
        Paragraph(
            markup(
                f"Entries about this notice 与本通知相关的记录: {len(pack.ledger)} · "
                f"whole ledger 全部记录: {chain.entries} · chain 链: {verdict}"
            ),
            s.body,
        ),
        Paragraph(markup("Head hash 链头哈希:"), s.body),
        Paragraph(escape(chain.head), s.mono),
    ]


def evidence_pdf(pack: EvidencePack) -> bytes:
    """The readable summary of the pack, with names: for the school's own use."""
    _register_fonts()
    s = _Styles()
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"SafeCampus evidence, notice {pack.notice_id}",
    )
    story: list[Flowable] = [
        Paragraph(markup(f"Evidence pack 证据包 · notice 通知 #{pack.notice_id}"), s.title),
        Paragraph(
            markup(
                f"Generated 生成于 {_time(pack.generated_at, pack.timezone)} · "
                "contains names: for the school's own use 含姓名：仅供学校内部使用"
            ),
            s.body,
        ),
        Spacer(1, 4 * mm),
        *_facts(pack, s),
        *_versions(pack, s),
        *_counts(pack, s),
        *_families(pack, s),
        *_deadline(pack, s),
        *_ledger(pack, s),
    ]
    document.build(story)
    return out.getvalue()
