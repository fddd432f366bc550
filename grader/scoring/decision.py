"""The grading decision: (similarities, answer, question, corrections so far) → (points, confidence, needs_review).

Pure Python + numpy, so `manage.py evaluate` measures exactly what the workers do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from grader.scoring.alignment import Tokens
from grader.scoring.calibration import Calibration, Evidence, error_std, pass_confidence
from grader.scoring.features import answer_features
from grader.scoring.guards import check_answer
from grader.scoring.points import similarity_to_points


@dataclass(frozen=True)
class Decision:
    fraction: float  # of full points, before rounding
    cold_fraction: float  # the same before the question's corrections: what a correction's error is measured on
    points: Decimal
    confidence: float  # probability that the teacher would agree on pass or fail
    needs_review: bool
    reasons: tuple[str, ...]


def decide(
    *,
    similarity: float,
    question_similarity: float,
    consensus: float | None,
    vector: np.ndarray | None,
    answer: str,
    question: str,
    references: Sequence[str],
    evidence: Evidence,
    calibration: Calibration,
    max_points: Decimal,
    step: float,
    pass_fraction: float,
    review_risk: float,
    demoted: float | None = None,
    alignment: float | None = None,
    tokens: Tokens | None = None,
) -> Decision:
    """``review_risk``: the probability of a wrong pass/fail decision the teacher accepts before reviewing.
    ``tokens``: the answer's token vectors, for the corrected answers it agrees with (calibration)."""
    features = answer_features(
        similarity=similarity,
        question_similarity=question_similarity,
        consensus=consensus,
        answer=answer,
        question=question,
        references=references,
        demoted=demoted,
        alignment=alignment,
    )
    cold = calibration.cold_fraction(features)
    fraction = calibration.fraction(cold=cold, vector=vector, evidence=evidence, tokens=tokens)
    guard = check_answer(answer=answer, question=question, references=references, pass_fraction=pass_fraction)
    reasons = list(guard.reasons)
    if guard.cap_fraction is not None:
        fraction = min(fraction, guard.cap_fraction)
    confidence = pass_confidence(
        fraction=fraction, pass_fraction=pass_fraction, std=error_std(calibration=calibration, evidence=evidence)
    )
    if guard.reasons == ("blank",):
        confidence = 1.0
    uncertain = 1.0 - confidence > review_risk
    if uncertain:
        reasons.append("low_confidence")
    points = similarity_to_points(
        similarity=fraction, max_points=max_points, zero_credit=0.0, full_credit=1.0, step=step
    )
    return Decision(
        fraction=fraction,
        cold_fraction=cold,
        points=points,
        confidence=confidence,
        needs_review=guard.needs_review or uncertain,
        reasons=tuple(reasons),
    )
