"""Fitting a newly trained version's similarity scale (grader/scoring/similarity_scale.py) at training time."""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

import numpy as np
from django.conf import settings

from grader.models import Submission
from grader.scoring.alignment import reference_alignment
from grader.scoring.encoder import MeanPoolingEncoder, base_model_path, torch_threads
from grader.scoring.features import FEATURE_NAMES, MIN_PEERS, demoted_similarity
from grader.scoring.similarity_scale import (
    ALIGNMENT,
    CONSENSUS,
    DEMOTED,
    HAS_CONSENSUS,
    QUESTION_SIMILARITY,
    SIMILARITY,
    SimilarityScale,
)

logger = logging.getLogger(__name__)


def _scale_sample() -> list[Submission]:
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
        submission for submission in recent if submission.answer.strip() and submission.question.reference_answers.all()
    ]


def similarity_features(model_dir: str | Path, sample: list[Submission]) -> np.ndarray:
    """Rows in FEATURE_NAMES order with the columns the map reads filled: the similarity to the best reference, to
    the question, to the consensus, whether there is a consensus, the question-demoted similarity and the token
    alignment with the references.

    The consensus is the centroid of the sample's other answers to the same question, as grading uses the
    question's earlier answers; with fewer than MIN_PEERS of them the column holds the similarity.
    """
    model = MeanPoolingEncoder(model_dir, backend="torch", threads=torch_threads())

    def encode(texts: list[str]):
        return model.encode_with_tokens(
            texts,
            batch_size=settings.GRADER_ENCODE_BATCH_SIZE,
            max_batch_tokens=settings.GRADER_ENCODE_MAX_BATCH_TOKENS or None,
        )

    answers, answer_tokens = encode([submission.answer for submission in sample])
    questions = {submission.question_id: submission.question for submission in sample}
    prompts = dict(zip(questions, encode([q.prompt for q in questions.values()])[0], strict=True))
    prompt_ids = {question_id: model.token_ids(question.prompt) for question_id, question in questions.items()}
    references = {
        question_id: encode([reference.text for reference in question.reference_answers.all()])
        for question_id, question in questions.items()
    }
    by_question: dict[int, list[int]] = defaultdict(list)
    for row, submission in enumerate(sample):
        by_question[submission.question_id].append(row)
    features = np.zeros((len(sample), len(FEATURE_NAMES)))
    for question_id, rows in by_question.items():
        total = answers[rows].sum(axis=0)
        reference_matrix, reference_tokens = references[question_id]
        reference_questions = reference_matrix @ prompts[question_id]
        for row in rows:
            vector = answers[row]
            answer_references = reference_matrix @ vector
            similarity = float(np.max(answer_references))
            question_similarity = float(prompts[question_id] @ vector)
            others = total - vector
            norm = float(np.linalg.norm(others))
            has_consensus = len(rows) - 1 >= MIN_PEERS and norm > 0
            features[row, [SIMILARITY, QUESTION_SIMILARITY, CONSENSUS, HAS_CONSENSUS, DEMOTED, ALIGNMENT]] = (
                similarity,
                question_similarity,
                float(vector @ others / norm) if has_consensus else similarity,
                1.0 if has_consensus else 0.0,
                demoted_similarity(answer_references, question_similarity, reference_questions),
                reference_alignment(answer_tokens[row], reference_tokens, prompt_ids[question_id]),
            )
    return features


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
    scale = SimilarityScale.fit(
        source=similarity_features(model_dir, sample), target=similarity_features(base_model_path(), sample)
    )
    scale.save(model_dir)
    return scale
