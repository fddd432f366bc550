"""Grading: answers → scores, the one entry point every caller uses.

The workers, the regrade and the dry run, the admin's explanation (``grade_batch``), and `manage.py evaluate`, the
promotion gate, the adversarial benchmark and the similarity-scale fit (``grade_texts`` / ``grade_answer``, on
contexts built from plain data) all grade here:

    answers ──model.encode──▶ vectors + tokens      (one call for the whole batch)
    questions ──context──▶ QuestionContext          (the only ORM reads; references from the model's memory)
    answer + context ──signals.answer_signals──▶ Signals
    Signals + context ──decision.decide──▶ Decision (calibration, guards, confidence, points)

Nothing here writes: what was encoded and is not stored yet comes back on the ``GradedBatch`` for the grading
service to persist (grader.services.embeddings).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

from grader.scoring.alignment import Tokens
from grader.scoring.calibration import Calibration
from grader.scoring.context import (
    GradingPolicy,
    QuestionContext,
    UnsavedVector,
    context_from_texts,
    question_contexts,
)
from grader.scoring.decision import Decision, Reason, decide
from grader.scoring.model import GradingModel, text_sha256
from grader.scoring.signals import Peers, Signals, answer_signals

if TYPE_CHECKING:
    from grader.models import ModelVersion, Question


@dataclass(frozen=True)
class Score:
    signals: Signals
    decision: Decision
    best_reference_id: int | None  # the closest reference's id (None for a context built from plain texts)

    @property
    def similarity(self) -> float:
        """The raw cosine similarity to the closest reference, as the model gives it."""
        return self.signals.raw_similarity

    @property
    def similarities(self) -> tuple[float, ...]:
        return self.signals.similarities

    @property
    def points(self) -> Decimal:
        return self.decision.points

    @property
    def confidence(self) -> float:
        return self.decision.confidence

    @property
    def needs_review(self) -> bool:
        return self.decision.needs_review

    @property
    def review_reasons(self) -> tuple[Reason, ...]:
        return self.decision.reasons


@dataclass(frozen=True)
class GradedBatch:
    scores: list[Score]  # in the order of the items
    contexts: dict[int, QuestionContext]
    # The answers graded here that the question's peers did not hold: for the answers after them (consensus).
    unsaved_answers: list[UnsavedVector] = field(default_factory=list)


def grade_answer(
    *, context: QuestionContext, answer: str, vector: np.ndarray, tokens: Tokens | None, peers: Peers
) -> Score:
    """One answer, already encoded, in its question's context; ``peers``: the class's answers before it."""
    signals = answer_signals(answer=answer, vector=vector, tokens=tokens, question=context.encoding, peers=peers)
    return score_signals(signals, context=context, answer=answer, vector=vector, tokens=tokens)


def score_signals(
    signals: Signals, *, context: QuestionContext, answer: str, vector: np.ndarray, tokens: Tokens | None
) -> Score:
    """The second half of ``grade_answer``, for a caller that grades the same signals in several contexts (the
    evaluation's k corrections per question: the signals do not depend on them)."""
    decision = decide(signals, answer=answer, vector=vector, tokens=tokens, context=context)
    best_id = context.reference_ids[signals.best_reference] if context.reference_ids else None
    return Score(signals=signals, decision=decision, best_reference_id=best_id)


def grade_texts(
    *,
    model: GradingModel,
    calibration: Calibration,
    items: Sequence[tuple[str, tuple[str, ...], GradingPolicy, str]],
    corrected: Mapping[tuple[str, tuple[str, ...]], Sequence[tuple[str, float]]] | None = None,
) -> list[Score]:
    """Answers to questions given by their texts, ``(prompt, references, policy, answer)``, with no earlier answers:
    one encode call for all answers, one context per question. ``corrected``, by (prompt, references): the answers
    a teacher graded, (text, fraction), that the feedback stage uses; a question without any is graded cold."""
    vectors, tokens = model.encode_with_tokens([answer for *_, answer in items])
    contexts: dict[tuple[str, tuple[str, ...], GradingPolicy], QuestionContext] = {}
    scores = []
    for (prompt, references, policy, answer), vector, answer_tokens in zip(items, vectors, tokens, strict=True):
        key = (prompt, references, policy)
        if key not in contexts:
            contexts[key] = context_from_texts(model=model, prompt=prompt, references=references,
                                               calibration=calibration, policy=policy,
                                               corrected=(corrected or {}).get((prompt, references), ()))  # fmt: skip
        scores.append(grade_answer(context=contexts[key], answer=answer, vector=vector, tokens=answer_tokens,
                                   peers=Peers.none()))  # fmt: skip
    return scores


def grade_batch(*, model: GradingModel, version: ModelVersion, items: Sequence[tuple[Question, str]]) -> GradedBatch:
    """Grade answers to any mix of questions (with ``reference_answers`` prefetched): one encode call for all
    answers, one context per question, then each answer in arrival order, so an answer graded in a batch gets the
    grade it would get alone after the ones before it."""
    if not items:
        return GradedBatch(scores=[], contexts={})
    vectors, tokens = model.encode_with_tokens([answer for _, answer in items])
    contexts = question_contexts(model=model, version=version, questions=[question for question, _ in items])
    peers = {pk: context.peers for pk, context in contexts.items()}
    scores = []
    unsaved = []
    for (question, answer), vector, answer_tokens in zip(items, vectors, tokens, strict=True):
        text_hash = text_sha256(answer)
        known = peers[question.pk]
        score = grade_answer(context=contexts[question.pk], answer=answer, vector=vector, tokens=answer_tokens,
                             peers=known.for_answer(text_hash=text_hash, vector=vector))  # fmt: skip
        scores.append(score)
        if text_hash not in known.hashes and answer.strip():
            peers[question.pk] = known.adding(text_hash=text_hash, vector=vector)
            unsaved.append(UnsavedVector(owner_id=question.pk, text_hash=text_hash, vector=vector,
                                         cold_fraction=score.decision.cold_fraction))  # fmt: skip
    return GradedBatch(scores=scores, contexts=contexts, unsaved_answers=unsaved)
