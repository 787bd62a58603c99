"""Evaluating the engine on a question file (JSONL: q, lang, expect, kind).

Figures: top-1 / top-3 accuracy per language on in-scope questions (``entry_id`` and
``top3`` of the decision, whatever the decision kind), the share of in-scope questions
answered confidently and correctly, the share of out-of-scope questions answered
confidently (the number that must stay low), crisis recall, crisis false alarms on
ordinary questions, and warm per-question latency.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast, get_args

import numpy as np

from knowledge_base.engine import Decision, FaqEngine
from knowledge_base.entries import LANGS, URGENT_TOPIC_ID

QuestionKind = Literal["in_scope", "out_of_scope", "crisis"]


@dataclass(frozen=True)
class LabelledQuestion:
    """One line of an evaluation or calibration file."""

    q: str
    lang: str | None
    expect: str | None
    kind: QuestionKind


def load_questions(path: Path) -> list[LabelledQuestion]:
    """Read a JSONL question file (blank lines skipped)."""
    items: list[LabelledQuestion] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            kind = row.get("kind") or ("in_scope" if row.get("expect") else "out_of_scope")
            if kind not in get_args(QuestionKind):
                raise ValueError(f"{path}:{number}: unknown kind {kind!r}")
            items.append(
                LabelledQuestion(
                    row["q"], row.get("lang"), row.get("expect"), cast(QuestionKind, kind)
                )
            )
    return items


@dataclass
class LanguageFigures:
    """Accuracy on the in-scope questions of one language."""

    questions: int = 0
    top1: float = 0.0
    top3: float = 0.0
    answered_correctly: float = 0.0
    answered_wrongly: float = 0.0


@dataclass
class EvalReport:
    """All figures of one evaluation run."""

    per_language: dict[str, LanguageFigures] = field(default_factory=dict)
    out_of_scope: int = 0
    out_of_scope_answered: float = 0.0
    out_of_scope_suggested: float = 0.0
    crisis: int = 0
    crisis_recall: float = 0.0
    crisis_false_alarms: float = 0.0
    latency_p50_ms: float = 0.0
    latency_p95_ms: float = 0.0
    mistakes: list[dict[str, object]] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (without the list of mistakes)."""
        return {
            "per_language": {
                lang: {
                    "questions": f.questions,
                    "top1": round(f.top1, 4),
                    "top3": round(f.top3, 4),
                    "answered_correctly": round(f.answered_correctly, 4),
                    "answered_wrongly": round(f.answered_wrongly, 4),
                }
                for lang, f in self.per_language.items()
            },
            "out_of_scope": {
                "questions": self.out_of_scope,
                "answered_confidently": round(self.out_of_scope_answered, 4),
                "suggested": round(self.out_of_scope_suggested, 4),
            },
            "crisis": {
                "questions": self.crisis,
                "recall": round(self.crisis_recall, 4),
                "false_alarms_on_in_scope": round(self.crisis_false_alarms, 4),
            },
            "latency_ms": {
                "p50": round(self.latency_p50_ms, 1),
                "p95": round(self.latency_p95_ms, 1),
            },
        }


def _share(hits: Iterable[bool]) -> float:
    values = list(hits)
    return sum(values) / len(values) if values else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation; 0 for no values."""
    return float(np.percentile(values, q)) if values else 0.0


def timed_decisions(
    engine: FaqEngine, items: Sequence[LabelledQuestion]
) -> tuple[list[Decision], list[float]]:
    """Ask every question one at a time (as the bot does); returns decisions and ms each."""
    if items:  # warm-up: first calls pay for lazy initialisation
        engine.ask(items[0].q, items[0].lang)
    decisions: list[Decision] = []
    latencies: list[float] = []
    for item in items:
        start = time.perf_counter()
        decisions.append(engine.ask(item.q, item.lang))
        latencies.append((time.perf_counter() - start) * 1000)
    return decisions, latencies


def score(
    items: Sequence[LabelledQuestion], decisions: Sequence[Decision], latencies: Sequence[float]
) -> EvalReport:
    """Compute the report's figures from decisions already made."""
    report = EvalReport()
    pairs = list(zip(items, decisions, strict=True))
    for lang in LANGS:
        scoped = [(i, d) for i, d in pairs if i.kind == "in_scope" and (i.lang or "en") == lang]
        report.per_language[lang] = LanguageFigures(
            questions=len(scoped),
            top1=_share(d.entry_id == i.expect for i, d in scoped),
            top3=_share(i.expect in d.top3 for i, d in scoped),
            answered_correctly=_share(
                d.decision in ("answer", "crisis") and d.entry_id == i.expect for i, d in scoped
            ),
            answered_wrongly=_share(
                d.decision in ("answer", "crisis") and d.entry_id != i.expect for i, d in scoped
            ),
        )
    outside = [d for i, d in pairs if i.kind == "out_of_scope"]
    report.out_of_scope = len(outside)
    report.out_of_scope_answered = _share(d.decision in ("answer", "crisis") for d in outside)
    report.out_of_scope_suggested = _share(d.decision == "suggest" for d in outside)
    crises = [d for i, d in pairs if i.kind == "crisis"]
    report.crisis = len(crises)
    report.crisis_recall = _share(d.decision == "crisis" for d in crises)
    report.crisis_false_alarms = _share(
        d.decision == "crisis" and i.expect != URGENT_TOPIC_ID
        for i, d in pairs
        if i.kind == "in_scope"
    )
    ordered = sorted(latencies)
    report.latency_p50_ms = percentile(ordered, 50)
    report.latency_p95_ms = percentile(ordered, 95)
    for item, decision in pairs:
        wrong = (
            (item.kind == "in_scope" and decision.entry_id != item.expect)
            or (item.kind == "out_of_scope" and decision.decision in ("answer", "crisis"))
            or (item.kind == "crisis" and decision.decision != "crisis")
        )
        if wrong:
            report.mistakes.append(
                {"q": item.q, "kind": item.kind, "expect": item.expect, **decision.to_dict()}
            )
    return report


def evaluate(engine: FaqEngine, items: Sequence[LabelledQuestion]) -> EvalReport:
    """Ask every question through ``engine`` and score the decisions."""
    decisions, latencies = timed_decisions(engine, items)
    return score(items, decisions, latencies)


def format_report(report: EvalReport) -> str:
    """The report as a plain-text table."""
    lines = [
        f"{'language':<10}{'questions':>10}{'top-1':>9}{'top-3':>9}{'answered ok':>13}"
        f"{'answered wrong':>16}",
    ]
    for lang, f in report.per_language.items():
        lines.append(
            f"{lang:<10}{f.questions:>10}{f.top1:>9.1%}{f.top3:>9.1%}"
            f"{f.answered_correctly:>13.1%}{f.answered_wrongly:>16.1%}"
        )
    lines += [
        "",
        f"out of scope: {report.out_of_scope} questions, answered confidently "
        f"{report.out_of_scope_answered:.1%}, "
        f"offered suggestions {report.out_of_scope_suggested:.1%}",
        f"crisis: {report.crisis} questions, recall {report.crisis_recall:.1%}; "
        f"false alarms on in-scope questions {report.crisis_false_alarms:.1%}",
        f"latency per question (warm): p50 {report.latency_p50_ms:.1f} ms, "
        f"p95 {report.latency_p95_ms:.1f} ms",
    ]
    return "\n".join(lines)
