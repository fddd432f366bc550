"""What an auto grade writes on a submission row, whether it comes from grading or from a regrade."""

from __future__ import annotations

from datetime import datetime

from grader.models import ModelVersion, Submission
from grader.scoring.grading import Score


def graded_fields(*, score: Score, version: ModelVersion, graded_at: datetime) -> dict:
    """The row's grade fields for ``score``: one place, for a first grade and for a regrade alike."""
    return {
        # A grade the scoring step is not sure of, or an answer that looks built to fool it, waits for a teacher.
        "status": Submission.Status.NEEDS_REVIEW if score.needs_review else Submission.Status.GRADED,
        "confidence": score.confidence,
        "review_reasons": ",".join(score.review_reasons)[:200],
        "similarity": score.similarity,
        "points": score.points,
        "best_reference": score.best_reference_id,  # the id: the same for an UPDATE
        "model_version": version,
        "graded_at": graded_at,
        "updated_at": graded_at,
        "error": "",
    }
