"""Score answers against a question's reference answers with one model version."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from grader.models import ModelVersion, Question, ReferenceAnswer
from grader.scoring.alignment import Tokens
from grader.scoring.encoder import Encoder
from grader.scoring.references import reference_vectors, reference_vectors_for
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
    *,
    encoder: Encoder,
    model_version: ModelVersion,
    question: Question,
    answers: Sequence[str],
    answer_matrix: np.ndarray | None = None,
    answer_tokens: Sequence[Tokens] | None = None,
    reference_matrix: np.ndarray | None = None,
) -> list[Score]:
    """Best cosine similarity over the question's references for each answer, calibrated to points.

    Answers are encoded together in one call: that is where the time goes, and batching is what makes it fast.
    ``answer_matrix`` with ``answer_tokens``, and ``reference_matrix``, when given, are those encodings done
    already (by ``score_answer_batch``, which encodes the answers of many questions at once).
    """
    references = list(question.reference_answers.all())
    if not references:
        raise ValueError(f"question {question.pk} has no reference answer")
    if reference_matrix is None:
        reference_matrix = reference_vectors(encoder=encoder, model_version=model_version, references=references)
    if answer_matrix is None or answer_tokens is None:
        answer_matrix, answer_tokens = encoder.encode_with_tokens(list(answers))
    similarity_matrix = np.clip(answer_matrix @ reference_matrix.T, -1.0, 1.0)
    # Calibration, confidence and review (grader.scoring.review): similarities → points, confidence, needs_review.
    decisions = review_answers(
        encoder=encoder,
        model_version=model_version,
        question=question,
        answers=list(answers),
        answer_vectors=answer_matrix,
        answer_tokens=answer_tokens,
        reference_similarities=similarity_matrix,
        references=[reference.text for reference in references],
        reference_matrix=reference_matrix,
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


def score_answer_batch(
    *, encoder: Encoder, model_version: ModelVersion, items: Sequence[tuple[Question, str]]
) -> list[Score]:
    """Score answers to any mix of questions: one encode call for all answers, one reference lookup for all
    questions, then ``score_answers`` per question, so every answer row is scored exactly as it is alone.

    Scores come back in the order of ``items``. Pass questions with ``reference_answers`` prefetched to keep
    this free of per-question queries.
    """
    if not items:
        return []
    answer_matrix, answer_tokens = encoder.encode_with_tokens([answer for _, answer in items])
    questions = {question.pk: question for question, _ in items}
    references_by_question = {pk: list(question.reference_answers.all()) for pk, question in questions.items()}
    for pk, references in references_by_question.items():
        if not references:
            raise ValueError(f"question {pk} has no reference answer")
    vectors = reference_vectors_for(
        encoder=encoder,
        model_version=model_version,
        references=[reference for references in references_by_question.values() for reference in references],
    )
    rows_by_question: dict[int, list[int]] = {}
    for row, (question, _) in enumerate(items):
        rows_by_question.setdefault(question.pk, []).append(row)
    scores: list[Score | None] = [None] * len(items)
    for pk, rows in rows_by_question.items():
        references = references_by_question[pk]
        question_scores = score_answers(
            encoder=encoder,
            model_version=model_version,
            question=questions[pk],
            answers=[items[row][1] for row in rows],
            answer_matrix=answer_matrix[rows],
            answer_tokens=[answer_tokens[row] for row in rows],
            reference_matrix=np.stack([vectors[reference.id] for reference in references]),
        )
        for row, score in zip(rows, question_scores, strict=True):
            scores[row] = score
    return scores
