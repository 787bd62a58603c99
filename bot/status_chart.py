"""The acknowledgement chart of a notice: families who acknowledged, over time since sending,
with the deadline marked. A PNG drawn with matplotlib's Agg backend (no display, no pyplot
state, safe in a worker thread).

The chart itself speaks no language: numbers, a time unit (min or h) and the school's clock
times; the photo's caption explains it in the reader's language. The title is the notice's
number and title; characters no installed font can draw are left out, and Chinese titles
are drawn only if a CJK font is installed (otherwise the title is just the number).

matplotlib is slow to import, so the handler imports this module only when someone asks
for a chart.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

#: Fonts with Simplified Chinese, most common on Linux servers first.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "AR PL UKai CN",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)
LATIN_FONT = "DejaVu Sans"
#: Up to this long after sending the axis counts minutes, after it hours.
MINUTES_UP_TO = timedelta(hours=3)
LINE = "#1f6fb2"
DEADLINE = "#c0392b"


@dataclass(frozen=True)
class ChartData:
    """What the chart shows; times are aware."""

    notice_id: int
    title: str
    sent_from: datetime
    ack_times: tuple[datetime, ...]
    families: int
    deadline_at: datetime | None
    now: datetime
    timezone: str


@cache
def _font_chars() -> tuple[tuple[str, frozenset[int]], ...]:
    """The fonts the title may use, with the characters each can draw."""
    found: list[tuple[str, frozenset[int]]] = []
    by_name = {entry.name: entry.fname for entry in font_manager.fontManager.ttflist}
    for name in (LATIN_FONT, *CJK_FONTS):
        path = by_name.get(name)
        if path is None:
            continue
        try:
            chars = frozenset(font_manager.get_font(path).get_charmap())
        except (OSError, RuntimeError):
            continue
        found.append((name, chars))
        if name != LATIN_FONT:
            break
    return tuple(found)


def cjk_font() -> str | None:
    """The Chinese font charts use, if one is installed."""
    return next((name for name, _ in _font_chars() if name != LATIN_FONT), None)


def drawable_title(text: str) -> str:
    """``text`` without the characters no available font has (emoji, mostly)."""
    fonts = _font_chars()
    kept = "".join(
        char
        for char in text
        if char == " " or (char.isprintable() and any(ord(char) in chars for _, chars in fonts))
    )
    return " ".join(kept.split())


def _elapsed(moment: datetime, start: datetime, unit: timedelta) -> float:
    return max(0.0, (moment - start) / unit)


def render_chart(data: ChartData) -> bytes:
    """The chart as PNG bytes."""
    end = max(data.now, data.deadline_at or data.now, *data.ack_times, data.sent_from)
    unit, unit_label = (
        (timedelta(minutes=1), "min")
        if end - data.sent_from <= MINUTES_UP_TO
        else (timedelta(hours=1), "h")
    )
    xs = [0.0, *(_elapsed(t, data.sent_from, unit) for t in data.ack_times)]
    ys = list(range(len(xs)))
    xs.append(_elapsed(data.now, data.sent_from, unit))
    ys.append(ys[-1])
    x_end = max(_elapsed(end, data.sent_from, unit), 1.0) * 1.04

    figure = Figure(figsize=(8, 4.5), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.step(xs, ys, where="post", color=LINE, linewidth=2)
    axes.fill_between(xs, ys, step="post", color=LINE, alpha=0.12)
    axes.axhline(data.families, color="grey", linestyle=":", linewidth=1)
    axes.annotate(
        f"{ys[-1]} / {data.families}",
        xy=(xs[-1], ys[-1]),
        xytext=(4, 4),
        textcoords="offset points",
        color=LINE,
    )
    zone = ZoneInfo(data.timezone)
    if data.deadline_at is not None:
        deadline_x = _elapsed(data.deadline_at, data.sent_from, unit)
        axes.axvline(deadline_x, color=DEADLINE, linestyle="--", linewidth=1.5)
        axes.annotate(
            data.deadline_at.astimezone(zone).strftime("%m-%d %H:%M"),
            xy=(deadline_x, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(-4, -14),
            textcoords="offset points",
            ha="right",
            color=DEADLINE,
        )
    axes.set_xlim(0, x_end)
    axes.set_ylim(0, max(data.families, 1) * 1.12)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(True, alpha=0.3)
    started = data.sent_from.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    axes.set_xlabel(f"{unit_label}  (0 = {started})")
    title = drawable_title(f"#{data.notice_id}  {data.title}")
    family = [LATIN_FONT, *filter(None, [cjk_font()])]
    axes.set_title(title, fontfamily=family, loc="left")
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
