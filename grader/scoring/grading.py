"""Score answers against a question's reference answers with one model version."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from django.conf import settings

from grader.models import ModelVersion, Question, ReferenceAnswer
from grader.scoring.encoder import Encoder
from grader.scoring.points import similarity_to_points
from grader.scoring.references import reference_vectors


@dataclass(frozen=True)
class Score:
    similarity: float
    points: Decimal
    best_reference: ReferenceAnswer
    similarities: tuple[float, ...]  # one per reference answer, in the question's order


def score_answers(
    *, encoder: Encoder, model_version: ModelVersion, question: Question, answers: Sequence[str]
) -> list[Score]:
    """Best cosine similarity over the question's references for each answer, mapped to points.

    Answers are encoded together in one call: that is where the time goes, and batching is what makes it fast.
    """
    references = list(question.reference_answers.all())
    if not references:
        raise ValueError(f"question {question.pk} has no reference answer")
    reference_matrix = reference_vectors(encoder=encoder, model_version=model_version, references=references)
    answer_matrix = encoder.encode(list(answers))
    similarity_matrix = np.clip(answer_matrix @ reference_matrix.T, -1.0, 1.0)
    zero_credit = question.zero_credit_similarity
    full_credit = question.full_credit_similarity
    scores = []
    for row in similarity_matrix:
        best = int(np.argmax(row))
        similarity = float(row[best])
        points = similarity_to_points(
            similarity=similarity,
            max_points=question.max_points,
            zero_credit=settings.GRADER_ZERO_CREDIT_SIMILARITY if zero_credit is None else zero_credit,
            full_credit=settings.GRADER_FULL_CREDIT_SIMILARITY if full_credit is None else full_credit,
            step=settings.GRADER_POINTS_STEP,
        )
        scores.append(
            Score(
                similarity=similarity,
                points=points,
                best_reference=references[best],
                similarities=tuple(float(value) for value in row),
            )
        )
    return scores
