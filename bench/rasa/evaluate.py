"""Evaluate a running Rasa 3.6 server, and SafeCampus with SAFECAMPUS_NLU=rasa, on a question file.

Runs with the project's .venv and talks HTTP to ``rasa run --enable-api`` (bench/rasa/run.sh
starts one). Two systems, scored like ``safecampus kb eval`` (knowledge_base.evaluate):

* rasa alone - ``/model/parse`` only: top-1/top-3 are the response selector's ranking; a
  question counts as answered when ``RasaThresholds`` accept the reading, and a crisis is
  caught only when Rasa confidently picks the urgent self-harm entry (no crisis detector);
* product    - ``RasaBackedNlu``: crisis detector first, Rasa and the built-in engine side
  by side, the engine's decision when Rasa declines or fails (as the bot runs it);
* built-in   - the engine alone (SAFECAMPUS_NLU=builtin), in the same run for comparison.

``--calibrate`` first fits the thresholds on the packaged calibration set (never on the
evaluation file) and uses them; without it the packaged ``RasaThresholds`` defaults are
used. Latency is warm, per question, one at a time; RSS is the Rasa server's process tree.

    .venv/bin/python bench/rasa/evaluate.py ../shared/eval/dev_questions.jsonl \
        --url http://127.0.0.1:5065 --server-pid 12345 --calibrate
"""

from __future__ import annotations

# ruff: noqa: E402 - the thread limits must be set before numpy is imported
from knowledge_base.threads import limit_threads

limit_threads()

import argparse
import asyncio
import contextlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from knowledge_base.engine import Decision, FaqEngine
from knowledge_base.entries import PACKAGE_DIR, URGENT_TOPIC_ID
from knowledge_base.evaluate import (
    EvalReport,
    LabelledQuestion,
    evaluate,
    format_report,
    load_questions,
    score,
)
from knowledge_base.language import detect_language, normalize_lang
from knowledge_base.nlu_backend import RasaBackedNlu
from knowledge_base.policy import DecisionKind
from knowledge_base.rasa_nlu import RasaNlu, RasaReading, RasaThresholds, RasaUnavailable

CALIBRATION = PACKAGE_DIR / "calibration" / "questions.jsonl"
#: the same limits as the built-in policy's calibration (knowledge_base.calibrate)
MAX_OOS_ANSWERED = 0.01
MAX_WRONG_ANSWERED = 0.05
LOGIT_MARGIN = 0.4


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants, in MB (0 when it is gone)."""
    total_kb = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        proc = Path(f"/proc/{current}")
        try:
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
            for task in (proc / "task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total_kb / 1024


async def read_all(
    rasa: RasaNlu, items: Sequence[LabelledQuestion]
) -> tuple[list[RasaReading | None], list[float], int]:
    """Rasa's reading of every question (None when it failed), ms each, and failures."""
    if items:
        with contextlib.suppress(RasaUnavailable):
            await rasa.parse(items[0].q)  # warm-up
    readings: list[RasaReading | None] = []
    latencies: list[float] = []
    failures = 0
    for item in items:
        start = time.perf_counter()
        try:
            readings.append(await rasa.parse(item.q))
        except RasaUnavailable:
            readings.append(None)
            failures += 1
        latencies.append((time.perf_counter() - start) * 1000)
    return readings, latencies, failures


def rasa_decision(
    item: LabelledQuestion, reading: RasaReading | None, thresholds: RasaThresholds
) -> Decision:
    """How Rasa alone would decide: answer when accepted, the urgent entry as a crisis."""
    language = normalize_lang(item.lang) or detect_language(item.q)
    if reading is None:
        return Decision("expert", None, 0.0, [], language)
    accepted = thresholds.accepts(reading)
    kind: DecisionKind = "expert"
    if accepted:
        kind = "crisis" if reading.entry_id == URGENT_TOPIC_ID else "answer"
    return Decision(kind, reading.entry_id, reading.confidence, reading.entry_ids[:3], language)


def _raise_by_logit(probability: float, margin: float) -> float:
    clipped = min(max(probability, 1e-6), 1 - 1e-6)
    logit = math.log(clipped / (1 - clipped)) + margin
    return round(min(1 / (1 + math.exp(-logit)), 0.9999), 4)


def fit_thresholds(
    items: Sequence[LabelledQuestion], readings: Sequence[RasaReading | None]
) -> RasaThresholds:
    """The least strict (confidence, margin) pair that answers at most 1 % of the
    out-of-scope and at most 5 % wrongly among answered in-scope calibration questions,
    most answers first; then the confidence is raised by 0.4 in log-odds."""
    rows = [(i, r) for i, r in zip(items, readings, strict=True) if i.kind != "crisis" and r]
    oos = [r for i, r in rows if i.kind == "out_of_scope"]
    scoped = [(i, r) for i, r in rows if i.kind == "in_scope"]
    confidences = sorted({round(r.confidence, 4) for _, r in rows})
    margins = sorted({0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5})
    best: tuple[int, RasaThresholds] | None = None
    for margin in margins:
        lowest: RasaThresholds | None = None
        right_at_lowest = 0
        # from the strictest down, stop at the first failure: every stricter one passes too
        for confidence in reversed(confidences):
            candidate = RasaThresholds(min_confidence=confidence, min_margin=margin)
            answered = [(i, r) for i, r in scoped if candidate.accepts(r)]
            right = sum(r.entry_id == i.expect for i, r in answered)
            wrong = (len(answered) - right) / max(len(answered), 1)
            oos_rate = sum(candidate.accepts(r) for r in oos) / max(len(oos), 1)
            if oos_rate > MAX_OOS_ANSWERED or wrong > MAX_WRONG_ANSWERED:
                break
            lowest, right_at_lowest = candidate, right
        if lowest is not None and (best is None or right_at_lowest > best[0]):
            best = (right_at_lowest, lowest)
    if best is None:
        return RasaThresholds(min_confidence=0.9999, min_margin=0.5)
    fitted = best[1]
    return RasaThresholds(
        min_confidence=_raise_by_logit(fitted.min_confidence, LOGIT_MARGIN),
        min_margin=fitted.min_margin,
    )


async def product_decisions(
    nlu: RasaBackedNlu, items: Sequence[LabelledQuestion]
) -> tuple[list[Decision], list[float]]:
    """The product's decisions, one question at a time, as the bot asks them."""
    if items:
        await nlu.ask(items[0].q, items[0].lang)
    decisions: list[Decision] = []
    latencies: list[float] = []
    for item in items:
        start = time.perf_counter()
        decisions.append(await nlu.ask(item.q, item.lang))
        latencies.append((time.perf_counter() - start) * 1000)
    return decisions, latencies


async def run(args: argparse.Namespace) -> dict[str, object]:
    items = load_questions(args.eval_file)
    engine = FaqEngine.create(cache_dir=args.cache_dir)
    thresholds = RasaThresholds()
    async with RasaNlu.for_entries(
        args.url, engine.knowledge_base.ids, timeout=args.timeout
    ) as rasa:
        if args.calibrate:
            calibration = load_questions(CALIBRATION)
            calibration_readings, _, _ = await read_all(rasa, calibration)
            thresholds = fit_thresholds(calibration, calibration_readings)
        readings, latencies, failures = await read_all(rasa, items)
        rss = tree_rss_mb(args.server_pid) if args.server_pid else 0.0
        alone = score(
            items,
            [rasa_decision(i, r, thresholds) for i, r in zip(items, readings, strict=True)],
            latencies,
        )
    # the product as the bot runs it: its own client with the default timeout
    async with RasaNlu.for_entries(
        args.url, engine.knowledge_base.ids, timeout=args.product_timeout
    ) as product_rasa:
        nlu = RasaBackedNlu(engine, product_rasa, thresholds)
        decisions, product_latencies = await product_decisions(nlu, items)
        product = score(items, decisions, product_latencies)
    builtin = evaluate(engine, items)
    reports = {
        "rasa alone": alone,
        "product (SAFECAMPUS_NLU=rasa)": product,
        "built-in (SAFECAMPUS_NLU=builtin)": builtin,
    }
    accepted = sum(1 for r in readings if r is not None and thresholds.accepts(r))
    print(f"eval file: {args.eval_file} ({len(items)} questions); Rasa at {args.url}")
    print(
        f"thresholds ({'fitted on the calibration set' if args.calibrate else 'packaged'}): "
        f"min_confidence {thresholds.min_confidence}, min_margin {thresholds.min_margin}"
    )
    print(f"Rasa failures: {failures}; readings accepted: {accepted}/{len(items)}")
    print(f"Rasa server RSS (process tree, after the run): {rss:.0f} MB")
    for name, report in reports.items():
        print(f"\n== {name} ==")
        print(format_report(report))
    print(
        "\n| system | top-1 en | top-1 zh | top-3 en | top-3 zh | out of scope answered "
        "| crisis recall | p50 ms | p95 ms |\n|---|---|---|---|---|---|---|---|---|"
    )
    for name, report in reports.items():
        print(markdown_row(name, report))
    return {
        "thresholds": asdict(thresholds),
        "calibrated": args.calibrate,
        "rasa_failures": failures,
        "accepted": accepted,
        "rasa_rss_mb": round(rss),
        "rasa_alone": alone.to_dict(),
        "product": product.to_dict(),
        "builtin": builtin.to_dict(),
        "mistakes": {"rasa_alone": alone.mistakes, "product": product.mistakes},
    }


def markdown_row(name: str, report: EvalReport) -> str:
    """One row of the docs/benchmarks.md table."""
    en, zh = report.per_language["en"], report.per_language["zh"]
    return (
        f"| {name} | {en.top1:.1%} | {zh.top1:.1%} | {en.top3:.1%} | {zh.top3:.1%} "
        f"| {report.out_of_scope_answered:.1%} | {report.crisis_recall:.1%} "
        f"| {report.latency_p50_ms:.1f} | {report.latency_p95_ms:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("eval_file", type=Path)
    parser.add_argument("--url", default="http://127.0.0.1:5065")
    parser.add_argument("--server-pid", type=int, help="the Rasa server's pid, for its RSS")
    parser.add_argument("--timeout", type=float, default=10.0, help="per request, seconds")
    parser.add_argument(
        "--product-timeout", type=float, default=2.0, help="the bot's SAFECAMPUS_RASA_TIMEOUT_S"
    )
    parser.add_argument("--cache-dir", type=Path, default=Path("data/kb-cache"))
    parser.add_argument("--calibrate", action="store_true", help="fit thresholds first")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False), "utf-8")


if __name__ == "__main__":
    main()
