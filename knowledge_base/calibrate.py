"""Fitting the answer policy's confidence and thresholds on labelled questions.

The calibration set (``knowledge_base/calibration/questions.jsonl``) is written for this
purpose: paraphrases of every topic and many out-of-scope questions (school logistics,
off-topic), in both languages, never copied from an evaluation set. Fitting:

1. confidence = logistic(best score, margin, gap over the reject class), fitted (Newton,
   light L2) to "the best topic is right" (out-of-scope questions count as wrong);
2. ``answer_at``: the lowest confidence at which at most ``max_oos_answered`` of the
   out-of-scope questions and at most ``max_wrong_answered`` of the answered in-scope
   questions would be answered, then raised by ``logit_margin`` (in log-odds);
3. ``suggest_at``: the lowest confidence at which at most ``max_oos_suggested`` of the
   out-of-scope questions would get suggestions (or an answer).

The limits are stricter than the targets (<= 5 % confidently answered out of scope), and
the margin is there, because thresholds fitted on one set loosen on another (an earlier
study: 4 % on the fitting set became 3-37 % elsewhere). The margin costs a few points of
confident answers; those questions get suggestions instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from knowledge_base.evaluate import LabelledQuestion
from knowledge_base.policy import Thresholds, ranking_features
from knowledge_base.retriever import Ranking

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class CalibrationTargets:
    """Limits the thresholds are chosen to respect on the calibration set."""

    max_oos_answered: float = 0.01
    max_wrong_answered: float = 0.05
    max_oos_suggested: float = 0.15
    logit_margin: float = 0.4


def fit_logistic(features: FloatArray, labels: FloatArray, l2: float = 1e-2) -> FloatArray:
    """Weights (intercept first) of an L2-regularised logistic regression, by Newton."""
    design = np.hstack([np.ones((features.shape[0], 1)), features])
    weights = np.zeros(design.shape[1])
    penalty = np.eye(design.shape[1]) * l2
    penalty[0, 0] = 0.0  # the intercept is not shrunk
    for _ in range(50):
        probs = 1.0 / (1.0 + np.exp(-(design @ weights)))
        gradient = design.T @ (probs - labels) + penalty @ weights
        hessian = (design.T * (probs * (1 - probs))) @ design + penalty
        step = np.linalg.solve(hessian + 1e-9 * np.eye(len(weights)), gradient)
        weights -= step
        if np.abs(step).max() < 1e-8:
            break
    return weights


def _lowest_passing(candidates: FloatArray, ok: list[bool]) -> float:
    """Lowest candidate threshold from which every higher one also passes."""
    best = 1.0
    for threshold, passes in sorted(zip(candidates.tolist(), ok, strict=True), reverse=True):
        if not passes:
            break
        best = threshold
    return float(best)


def _raise_by_logit(probability: float, margin: float) -> float:
    """``probability`` moved up by ``margin`` in log-odds (capped below 1)."""
    clipped = min(max(probability, 1e-6), 1 - 1e-6)
    logit = float(np.log(clipped / (1 - clipped))) + margin
    return round(min(1.0 / (1.0 + float(np.exp(-logit))), 0.9999), 4)


def fit_thresholds(
    items: Sequence[LabelledQuestion],
    rankings: Sequence[Ranking],
    targets: CalibrationTargets | None = None,
) -> Thresholds:
    """Fit confidence and thresholds from questions and their rankings (crisis skipped)."""
    targets = targets or CalibrationTargets()
    rows = [(i, r) for i, r in zip(items, rankings, strict=True) if i.kind != "crisis"]
    features = np.array([ranking_features(r) for _, r in rows], dtype=np.float64)
    correct = np.array(
        [i.kind == "in_scope" and bool(r.ids) and r.ids[0] == i.expect for i, r in rows]
    )
    in_scope = np.array([i.kind == "in_scope" for i, _ in rows])
    weights = fit_logistic(features, correct.astype(np.float64))
    confidence = 1.0 / (1.0 + np.exp(-(weights[0] + features @ weights[1:])))
    candidates = np.unique(np.round(confidence, 4))
    oos = confidence[~in_scope]

    def answer_ok(threshold: float) -> bool:
        answered = confidence >= threshold
        oos_rate = float((oos >= threshold).mean()) if oos.size else 0.0
        scoped = answered & in_scope
        wrong = float((scoped & ~correct).sum() / max(int(scoped.sum()), 1))
        return oos_rate <= targets.max_oos_answered and wrong <= targets.max_wrong_answered

    def suggest_ok(threshold: float) -> bool:
        return float((oos >= threshold).mean()) <= targets.max_oos_suggested if oos.size else True

    answer_at = _raise_by_logit(
        _lowest_passing(candidates, [answer_ok(c) for c in candidates]), targets.logit_margin
    )
    suggest_at = min(_lowest_passing(candidates, [suggest_ok(c) for c in candidates]), answer_at)
    return Thresholds(
        intercept=float(weights[0]),
        score_weight=float(weights[1]),
        margin_weight=float(weights[2]),
        reject_weight=float(weights[3]),
        answer_at=answer_at,
        suggest_at=suggest_at,
    )
