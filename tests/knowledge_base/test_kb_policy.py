"""The answer policy on hand-made rankings: answer, suggest, expert, crisis."""

from __future__ import annotations

import pytest

from knowledge_base.crisis import CrisisSignal
from knowledge_base.policy import Thresholds, decide, ranking_features
from knowledge_base.retriever import Ranking

THRESHOLDS = Thresholds(
    intercept=-4.0,
    score_weight=0.5,
    margin_weight=1.5,
    reject_weight=1.0,
    answer_at=0.8,
    suggest_at=0.2,
)


def ranking(
    scores: list[float], reject: float | None = 0.0, first: str = "safety.drowning_prevention"
) -> Ranking:
    ids = [first, "law.bullying", "psych.exam_anxiety", "family.reading"][: len(scores)]
    return Ranking(ids=ids, scores=scores, signals={}, reject_score=reject)


def test_features() -> None:
    assert ranking_features(ranking([5.0, 3.0], reject=1.0)) == (5.0, 2.0, 4.0)


def test_clear_winner_is_answered() -> None:
    outcome = decide(ranking([6.0, 2.0, 1.0]), THRESHOLDS)
    assert outcome.decision == "answer"
    assert outcome.confidence >= 0.8


def test_close_runner_up_gives_suggestions() -> None:
    outcome = decide(ranking([4.0, 3.8, 3.5], reject=2.0), THRESHOLDS)
    assert outcome.decision == "suggest"


def test_weak_match_goes_to_an_expert() -> None:
    outcome = decide(ranking([1.0, 0.9, 0.8], reject=1.5), THRESHOLDS)
    assert outcome.decision == "expert"
    assert outcome.confidence < 0.2


def test_looking_like_the_reject_class_lowers_confidence() -> None:
    clear = decide(ranking([5.0, 3.0], reject=0.0), THRESHOLDS)
    logistics = decide(ranking([5.0, 3.0], reject=5.5), THRESHOLDS)
    assert logistics.confidence < clear.confidence
    assert logistics.decision != "answer"


def test_detected_crisis_overrides_everything() -> None:
    signal = CrisisSignal(kind="self_harm", cue="wants_to_die", matched="wants to die")
    assert decide(ranking([0.5, 0.4]), THRESHOLDS, signal).decision == "crisis"


@pytest.mark.parametrize(("scores", "expected"), [([4.0, 3.8], "crisis"), ([0.5, 0.4], "expert")])
def test_urgent_topic_at_suggest_level_is_a_crisis(scores: list[float], expected: str) -> None:
    urgent = ranking(scores, reject=2.0, first="psych.self_harm_crisis")
    assert decide(urgent, THRESHOLDS).decision == expected


def test_empty_ranking_goes_to_an_expert() -> None:
    empty = Ranking(ids=[], scores=[], signals={})
    assert decide(empty, THRESHOLDS).decision == "expert"


def test_thresholds_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "thresholds.json"
    THRESHOLDS.save(path, fitted_on="test")
    assert Thresholds.load(path) == THRESHOLDS


def test_packaged_thresholds_load() -> None:
    thresholds = Thresholds.load()
    assert 0 < thresholds.suggest_at <= thresholds.answer_at < 1
