"""A sentence-level account of what an answer covers of each reference, for the teacher's "why this grade"."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from grader.scoring.decision import contradicts
from grader.scoring.model import GradingModel

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")


def split_sentences(text: str) -> list[str]:
    sentences = [part.strip() for part in _SENTENCE_END.split(text)]
    return [sentence for sentence in sentences if sentence] or [text.strip()]


@dataclass(frozen=True)
class SentenceCoverage:
    text: str
    similarity: float
    level: str  # "covered", "partial", "missed", or "contradicted" (the answer denies it)


def reference_coverage(
    *, model: GradingModel, answer: str, reference: str, zero_credit: float, full_credit: float, question: str = ""
) -> list[SentenceCoverage]:
    """For each sentence of the reference, its best similarity to the answer or to one of the answer's sentences.

    A sentence is covered at or above the middle of the question's credit band, missed at or below its
    zero-credit similarity, partly covered between. A sentence the answer denies (grader.scoring.decision.contradicts,
    the check grading runs) is contradicted, however close the model finds it: "X is not Y" is near "X is Y".
    """
    reference_sentences = split_sentences(reference)
    answer_parts = [answer, *split_sentences(answer)]
    vectors = model.encode(reference_sentences + answer_parts)
    reference_matrix, answer_matrix = vectors[: len(reference_sentences)], vectors[len(reference_sentences) :]
    best = np.clip(reference_matrix @ answer_matrix.T, -1.0, 1.0).max(axis=1)
    covered_at = (zero_credit + full_credit) / 2
    coverage = []
    for sentence, similarity in zip(reference_sentences, best, strict=True):
        if contradicts(answer, [sentence], question):
            level = "contradicted"
        elif similarity >= covered_at:
            level = "covered"
        elif similarity <= zero_credit:
            level = "missed"
        else:
            level = "partial"
        coverage.append(SentenceCoverage(text=sentence, similarity=float(similarity), level=level))
    return coverage
