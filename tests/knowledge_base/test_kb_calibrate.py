"""Fitting the policy on labelled rankings, and scoring an evaluation."""

from __future__ import annotations

import json
import os
from pathlib import Path

from knowledge_base.calibrate import CalibrationTargets, fit_thresholds
from knowledge_base.engine import Decision
from knowledge_base.evaluate import LabelledQuestion, load_questions, score
from knowledge_base.policy import ranking_features
from knowledge_base.retriever import Ranking
from knowledge_base.threads import THREAD_LIMITS, limit_threads


def _ranking(best: str, margin: float, gap: float) -> Ranking:
    return Ranking(ids=[best, "other"], scores=[gap, gap - margin], signals={}, reject_score=0.0)


def test_fit_separates_clear_answers_from_out_of_scope() -> None:
    items: list[LabelledQuestion] = []
    rankings: list[Ranking] = []
    for i in range(40):  # in scope: clear margins, well above the reject class
        items.append(LabelledQuestion(f"in {i}", "en", "a", "in_scope"))
        rankings.append(_ranking("a", 1.5 + (i % 5) * 0.3, 3.0 + (i % 7) * 0.2))
    for i in range(40):  # out of scope: small margins, close to the reject class
        items.append(LabelledQuestion(f"out {i}", "en", None, "out_of_scope"))
        rankings.append(_ranking("a", 0.1 + (i % 4) * 0.1, -0.5 + (i % 6) * 0.2))
    thresholds = fit_thresholds(items, rankings, CalibrationTargets(logit_margin=0.0))
    confidence = [thresholds.confidence(ranking_features(r)) for r in rankings]
    answered_out = [c >= thresholds.answer_at for c in confidence[40:]]
    answered_in = [c >= thresholds.answer_at for c in confidence[:40]]
    assert sum(answered_out) == 0
    assert sum(answered_in) >= 35
    assert thresholds.suggest_at <= thresholds.answer_at


def test_logit_margin_raises_the_answer_threshold() -> None:
    items = [
        LabelledQuestion("q", "en", "a", "in_scope"),
        LabelledQuestion("r", "en", None, "out_of_scope"),
    ] * 10
    rankings = [_ranking("a", 2.0, 3.0), _ranking("a", 0.2, 0.0)] * 10
    plain = fit_thresholds(items, rankings, CalibrationTargets(logit_margin=0.0))
    careful = fit_thresholds(items, rankings, CalibrationTargets(logit_margin=1.0))
    assert careful.answer_at > plain.answer_at


def test_score_counts_what_the_report_promises() -> None:
    items = [
        LabelledQuestion("a", "en", "t1", "in_scope"),
        LabelledQuestion("b", "zh", "t2", "in_scope"),
        LabelledQuestion("c", "en", None, "out_of_scope"),
        LabelledQuestion("d", "zh", "psych.self_harm_crisis", "crisis"),
    ]
    decisions = [
        Decision("answer", "t1", 0.9, ["t1", "t2", "t3"], "en"),
        Decision("suggest", "t3", 0.3, ["t3", "t2", "t1"], "zh"),
        Decision("answer", "t1", 0.9, ["t1"], "en"),
        Decision("crisis", "psych.self_harm_crisis", 0.5, [], "zh", "self_harm"),
    ]
    report = score(items, decisions, [10.0, 20.0, 30.0, 40.0])
    assert report.per_language["en"].top1 == 1.0
    assert report.per_language["zh"].top1 == 0.0
    assert report.per_language["zh"].top3 == 1.0
    assert report.out_of_scope_answered == 1.0
    assert report.crisis_recall == 1.0
    assert len(report.mistakes) == 2
    assert report.latency_p50_ms == 25.0


def test_load_questions_reads_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    rows = [{"q": "x", "lang": "en", "expect": "t", "kind": "in_scope"}, {"q": "y", "expect": None}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", "utf-8")
    items = load_questions(path)
    assert [i.kind for i in items] == ["in_scope", "out_of_scope"]


def test_packaged_calibration_set_is_well_formed() -> None:
    path = Path(__file__).parents[2] / "knowledge_base" / "calibration" / "questions.jsonl"
    items = load_questions(path)
    kinds = {i.kind for i in items}
    assert kinds == {"in_scope", "out_of_scope", "crisis"}
    assert len(items) >= 300
    assert len({i.q for i in items}) == len(items)


def test_limit_threads_keeps_existing_settings(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for name in THREAD_LIMITS:
        monkeypatch.setenv(name, "3")
    assert limit_threads()  # nothing newly set, so nothing to warn about
    assert os.environ["OMP_NUM_THREADS"] == "3"
