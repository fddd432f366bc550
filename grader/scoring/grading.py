"""Score answers against a question's reference answers with one model version."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from grader.models import ModelVersion, Question, ReferenceAnswer
from grader.scoring.encoder import Encoder
from grader.scoring.references import reference_vectors
from grader.scoring.review import review_answers


@dataclass(frozen=True)
class Score:
    similarity: float
    points: Decimal
    best_reference: ReferenceAnswer
    similarities: tuple[float, ...]  # one per reference answer, in the question's order
    confidence: float | None = None  # probability that a teacher would agree on pass or fail
    needs_review: bool = False
    review_reasons: tuple[str, ...] = ()


def score_answers(
    *, encoder: Encoder, model_version: ModelVersion, question: Question, answers: Sequence[str]
) -> list[Score]:
    """Best cosine similarity over the question's references for each answer, calibrated to points.

    Answers are encoded together in one call: that is where the time goes, and batching is what makes it fast.
    """
    references = list(question.reference_answers.all())
    if not references:
        raise ValueError(f"question {question.pk} has no reference answer")
    reference_matrix = reference_vectors(encoder=encoder, model_version=model_version, references=references)
    answer_matrix = encoder.encode(list(answers))
    similarity_matrix = np.clip(answer_matrix @ reference_matrix.T, -1.0, 1.0)
    # Calibration, confidence and review (grader.scoring.review): similarities → points, confidence, needs_review.
    decisions = review_answers(
        encoder=encoder,
        model_version=model_version,
        question=question,
        answers=list(answers),
        answer_vectors=answer_matrix,
        reference_similarities=similarity_matrix,
        references=[reference.text for reference in references],
    )
    scores = []
    for row, decision in zip(similarity_matrix, decisions, strict=True):
        best = int(np.argmax(row))
        scores.append(
            Score(
                similarity=float(row[best]),
                points=decision.points,
                best_reference=references[best],
                similarities=tuple(float(value) for value in row),
                confidence=decision.confidence,
                needs_review=decision.needs_review,
                review_reasons=decision.reasons,
            )
        )
    return scores
