"""A newly trained version's similarity scale (grader.scoring.similarity_scale), fitted on recent answers."""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings

from grader.models import Submission
from grader.scoring.model import base_model_path
from grader.scoring.similarity_scale import SimilarityScale
from training.similarity_scale import ScaleSample, fit_similarity_scale

logger = logging.getLogger(__name__)


def _scale_sample() -> list[ScaleSample]:
    """Recent graded answers no teacher corrected: training never saw them, and they are what gets graded."""
    recent = (
        Submission.objects.filter(
            status__in=[Submission.Status.GRADED, Submission.Status.NEEDS_REVIEW], corrected_points__isnull=True
        )
        .select_related("question")
        .prefetch_related("question__reference_answers")
        .order_by("-pk")[: settings.GRADER_SIMILARITY_SCALE_ANSWERS]
    )
    return [
        ScaleSample(
            question=str(submission.question_id),
            prompt=submission.question.prompt,
            references=tuple(reference.text for reference in submission.question.reference_answers.all()),
            answer=submission.answer,
        )
        for submission in recent
        if submission.answer.strip() and submission.question.reference_answers.all()
    ]


def similarity_scale_write(*, model_dir: Path) -> SimilarityScale | None:
    """Fit and save ``model_dir``'s map onto the base model's scale; None (nothing written) if disabled or too few
    uncorrected answers exist yet. Written before the version is hashed: the map is part of the version."""
    if not settings.GRADER_SIMILARITY_SCALE:
        return None
    sample = _scale_sample()
    if len(sample) < settings.GRADER_SIMILARITY_SCALE_MIN_ANSWERS:
        logger.info("no similarity scale for %s: %s uncorrected answers, below %s", model_dir, len(sample),
                    settings.GRADER_SIMILARITY_SCALE_MIN_ANSWERS)  # fmt: skip
        return None
    scale = fit_similarity_scale(model_dir=model_dir, base_dir=base_model_path(), sample=sample)
    scale.save(model_dir)
    return scale
