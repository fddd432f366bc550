"""Grading as the workers do it, for tests that grade answers directly: the pipeline, then its embeddings stored."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from grader.models import ModelVersion, Question
from grader.scoring.calibration import credit_ramp
from grader.scoring.decision import to_points
from grader.scoring.grading import Score, grade_batch
from grader.scoring.model import GradingModel
from grader.services.embeddings import graded_batch_embeddings_store


def grade_answers(
    *, model: GradingModel, version: ModelVersion, question: Question, answers: Sequence[str]
) -> list[Score]:
    return grade_items(model=model, version=version, items=[(question, answer) for answer in answers])


def grade_items(*, model: GradingModel, version: ModelVersion, items: Sequence[tuple[Question, str]]) -> list[Score]:
    batch = grade_batch(model=model, version=version, items=items)
    graded_batch_embeddings_store(batch=batch, version=version)
    return batch.scores


def similarity_to_points(
    *, similarity: float, max_points: Decimal, zero_credit: float, full_credit: float, step: float
) -> Decimal:
    """The linear ramp read as points, as the default calibration and the decision compose them."""
    return to_points(credit_ramp(similarity, zero_credit=zero_credit, full_credit=full_credit), max_points=max_points,
                     step=step)  # fmt: skip
