"""Confidence: the probability that a grade's pass/fail decision is the one a teacher would make. Pure numpy.

The distance from the pass mark in units of the calibration's residual spread (``calibration.pass_confidence``)
assumes every answer is graded with the same error. It is not: an answer in the reference's words that says the
opposite, or strings its keywords together, gets a full-marks grade the teacher gives zero for, and that distance
calls it certain. So the confidence is a logistic model of "the decision was right", read from what the grader knows
at grading time (how far the grade is from the pass mark, the similarity signals, how much the answer adds to the
question, which checks fired, how many corrections the question has), fitted on held-out grades: Mohler answers
graded by folds that never trained on them, and the dev half of the hand-written adversarial set
(`training/confidence.py`). The fit ships as ``confidence.json`` next to this module, so the workers, `evaluate`,
the promotion gate and the admin all read one confidence.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from grader.scoring.signals import FEATURE_NAMES, Signals

# The distance from the pass mark enters once, in residual spreads: with a second, raw copy the fit traded one
# against the other and, past the cap, stated less confidence for a grade further from the mark.
CONFIDENCE_FEATURE_NAMES = (
    "margin_in_spread",  # |fraction - pass mark| in units of the calibration's residual spread, capped
    "passing",  # 1 when the grade is at or above the pass mark
    "similarity",
    "reference_alignment",
    "question_similarity",
    "demoted_similarity",
    "passing_x_similarity",  # a passing grade from a high similarity is where answers built to fool the model land
    # a failing grade despite the reference's key tokens in place: often a right answer in other words
    "failing_x_alignment",
    "new_words",  # share of the answer's content words the question does not already hold
    "log_length",
    "checked",  # a check on the words fired (contradiction, restated question, keyword salad)
    "log_corrections",  # log(1 + the question's teacher corrections)
)
MAX_SPREADS = 4.0  # beyond four residual spreads the distance says nothing more
# A pass/fail confidence is at least a coin toss; below it the decision would be the other one. The default review
# risk (0.5) keeps routing only what the checks flag.
MIN_CONFIDENCE = 0.5
# Nothing graded by a similarity model is certain; a stated 100 % would also hide an answer from a review queue
# sorted by confidence.
MAX_CONFIDENCE = 0.99
# A check that fired is ambiguous by design (it reads words and can be wrong about a right answer), so the answer
# is routed; its confidence says so too, whatever the distance from the pass mark.
CHECKED_MAX_CONFIDENCE = 0.75
ARTIFACT = Path(__file__).with_name("confidence.json")


def confidence_features(
    *,
    fraction: float,
    pass_fraction: float,
    std: float,
    signals: Signals,
    checked: bool,
    corrections: int,
) -> np.ndarray:
    """One row in CONFIDENCE_FEATURE_NAMES order."""
    margin = abs(fraction - pass_fraction)
    spreads = MAX_SPREADS if std <= 0 else min(MAX_SPREADS, margin / std)
    passing = 1.0 if fraction >= pass_fraction else 0.0
    features = signals.features
    return np.array(
        [
            spreads,
            passing,
            signals.similarity,
            signals.alignment,
            signals.question_similarity,
            signals.demoted,
            passing * signals.similarity,
            (1.0 - passing) * signals.alignment,
            1.0 - float(features[FEATURE_NAMES.index("question_overlap")]),
            float(features[FEATURE_NAMES.index("log_length")]),
            1.0 if checked else 0.0,
            math.log1p(corrections),
        ],
        dtype=float,
    )


@dataclass(frozen=True)
class ConfidenceModel:
    """A logistic model over (some of) CONFIDENCE_FEATURE_NAMES, by name."""

    coef: tuple[float, ...]
    intercept: float
    feature_names: tuple[str, ...] = CONFIDENCE_FEATURE_NAMES
    meta: dict | None = None

    def probability(self, row: np.ndarray) -> float:
        """P(the pass/fail decision is right) before the bounds; ``row`` in CONFIDENCE_FEATURE_NAMES order."""
        if self.feature_names != CONFIDENCE_FEATURE_NAMES:
            row = row[[CONFIDENCE_FEATURE_NAMES.index(name) for name in self.feature_names]]
        logit = float(np.dot(row, self.coef)) + self.intercept
        if not math.isfinite(logit):
            return MIN_CONFIDENCE
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))

    def confidence(self, row: np.ndarray, *, checked: bool) -> float:
        value = min(MAX_CONFIDENCE, max(MIN_CONFIDENCE, self.probability(row)))
        return min(value, CHECKED_MAX_CONFIDENCE) if checked else value

    def to_dict(self) -> dict:
        return {
            "features": list(self.feature_names),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "meta": self.meta or {},
        }

    @classmethod
    def from_dict(cls, data: dict) -> ConfidenceModel:
        names = tuple(data["features"])
        if not set(names) <= set(CONFIDENCE_FEATURE_NAMES) or len(names) != len(data["coef"]):
            raise ValueError("confidence model was fitted on other features; refit it (training/confidence.py)")
        return cls(
            coef=tuple(float(c) for c in data["coef"]),
            intercept=float(data["intercept"]),
            feature_names=names,
            meta=data.get("meta", {}),
        )


@lru_cache(maxsize=1)
def shipped_confidence_model() -> ConfidenceModel:
    """The fit in ``confidence.json``. Missing or unreadable, grading stops loudly: a silent fallback to the
    distance from the pass mark would state 99 % for the answers built to fool the model."""
    return ConfidenceModel.from_dict(json.loads(ARTIFACT.read_text(encoding="utf-8")))
