"""The answer policy: answer, suggest, offer an expert, or treat as a crisis.

Confidence is a logistic function of three features of the ranking: the best fused
score, its margin over the runner-up, and its gap over the reject class (examples of what
the knowledge base does not answer). It is fitted on
``knowledge_base/calibration/questions.jsonl`` (see ``knowledge_base.calibrate``), so it
reads as "probability that the best topic is the right one". Two thresholds decide:

* ``answer``  - confidence >= ``answer_at``: reply with the entry;
* ``suggest`` - confidence >= ``suggest_at``: offer the top 3 topics as buttons;
* ``expert``  - otherwise: offer to ask a human expert.

``crisis`` overrides all of them when the crisis detector fires, and also when the urgent
self-harm topic is the best match at suggest level or better: its answer *is* the crisis
reply, so a parent who asks about self-harm in general gets it too.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from knowledge_base.crisis import CrisisSignal
from knowledge_base.entries import PACKAGE_DIR, URGENT_TOPIC_ID
from knowledge_base.retriever import Ranking

DecisionKind = Literal["answer", "suggest", "expert", "crisis"]
DEFAULT_THRESHOLDS_PATH = PACKAGE_DIR / "calibration" / "thresholds.json"


@dataclass(frozen=True)
class Thresholds:
    """Calibrated policy parameters (written by ``kb calibrate``)."""

    intercept: float
    score_weight: float
    margin_weight: float
    reject_weight: float
    answer_at: float
    suggest_at: float

    @classmethod
    def load(cls, path: Path = DEFAULT_THRESHOLDS_PATH) -> Thresholds:
        """Read thresholds from JSON (extra keys, such as provenance notes, are ignored)."""
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(**{name: float(data[name]) for name in cls.__dataclass_fields__})

    def save(self, path: Path, **provenance: object) -> None:
        """Write thresholds as JSON, with optional provenance fields alongside."""
        payload = {**asdict(self), **provenance}
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", "utf-8")

    def confidence(self, features: tuple[float, float, float]) -> float:
        """Probability-like confidence from ``ranking_features``."""
        score, margin, reject_gap = features
        z = (
            self.intercept
            + self.score_weight * score
            + self.margin_weight * margin
            + self.reject_weight * reject_gap
        )
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


#: reject gap assumed when a retriever has no reject class (a clear win over it)
NO_REJECT_GAP = 3.0


def ranking_features(ranking: Ranking) -> tuple[float, float, float]:
    """(best fused score, margin over the second, gap over the reject class)."""
    if not ranking.scores:
        return (-10.0, 0.0, 0.0)
    best = ranking.scores[0]
    second = ranking.scores[1] if len(ranking.scores) > 1 else best - 1.0
    gap = NO_REJECT_GAP if ranking.reject_score is None else best - ranking.reject_score
    return best, best - second, gap


@dataclass(frozen=True)
class PolicyOutcome:
    """What the policy decided and how sure it is."""

    decision: DecisionKind
    confidence: float


def decide(
    ranking: Ranking, thresholds: Thresholds, crisis: CrisisSignal | None = None
) -> PolicyOutcome:
    """Apply the answer policy to a ranking (and the crisis detector's verdict)."""
    confidence = thresholds.confidence(ranking_features(ranking))
    if crisis is not None:
        return PolicyOutcome("crisis", confidence)
    if not ranking.ids:
        return PolicyOutcome("expert", 0.0)
    if ranking.ids[0] == URGENT_TOPIC_ID and confidence >= thresholds.suggest_at:
        return PolicyOutcome("crisis", confidence)
    if confidence >= thresholds.answer_at:
        return PolicyOutcome("answer", confidence)
    if confidence >= thresholds.suggest_at:
        return PolicyOutcome("suggest", confidence)
    return PolicyOutcome("expert", confidence)
