"""What the calibrator sees of one answer besides its similarity to the references. Pure Python + numpy.

Every feature is available at grading time in the product: similarities come from the model, the rest from
the texts, and the consensus from the embeddings of earlier answers to the same question.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from grader.scoring.text import content_words

FEATURE_NAMES = (
    "similarity",  # best cosine similarity to a reference answer
    "question_similarity",  # cosine similarity to the question: restating the question earns nothing
    "consensus",  # cosine similarity to the centroid of earlier answers to the question (most students are right)
    "has_consensus",  # 1 when enough earlier answers exist, else consensus is the similarity itself
    "reference_coverage",  # share of the reference's content words, not given away by the question, present
    "log_length",
    "question_overlap",  # share of the answer's content words that merely repeat the question
)

# Below this many earlier answers a centroid says more about one student than about the class.
MIN_PEERS = 5


def answer_features(
    *,
    similarity: float,
    question_similarity: float,
    consensus: float | None,
    answer: str,
    question: str,
    references: Sequence[str],
) -> np.ndarray:
    answer_words = set(content_words(answer))
    question_words = set(content_words(question))
    coverage = 0.0
    for reference in references:
        reference_words = set(content_words(reference))
        # Question demoting: a reference word the question already contains is no evidence of knowledge.
        demoted = (reference_words - question_words) or reference_words
        if demoted:
            coverage = max(coverage, len(answer_words & demoted) / len(demoted))
    overlap = len(answer_words & question_words) / len(answer_words) if answer_words else 0.0
    return np.array(
        [
            similarity,
            question_similarity,
            similarity if consensus is None else consensus,
            0.0 if consensus is None else 1.0,
            coverage,
            math.log1p(len(answer.split())),
            overlap,
        ],
        dtype=float,
    )
