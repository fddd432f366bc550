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
    # similarity to the best reference once the question's direction is taken out of both vectors: what the
    # answer shares with the reference beyond restating the question
    "demoted_similarity",
    # the best reference's key tokens (content, not the question's) matched in the answer, in context
    # (grader.scoring.alignment): how much of the reference the answer covers, not only how close it is on average
    "reference_alignment",
)

# Below this many earlier answers a centroid says more about one student than about the class.
MIN_PEERS = 5


def demoted_similarity(answer_references: np.ndarray, answer_question: float, reference_questions: np.ndarray) -> float:
    """The best cosine between the answer and a reference after removing the question's direction from both.

    Question demoting in vector space: for unit vectors a, r, q, the cosine of a - (a.q)q and r - (r.q)q is
    (a.r - (a.q)(r.q)) / sqrt((1 - (a.q)^2)(1 - (r.q)^2)). Takes the similarities, not the vectors, because
    grading has them already. ``answer_references`` and ``reference_questions`` have one entry per reference.
    """
    answer_references = np.asarray(answer_references, dtype=float)
    reference_questions = np.asarray(reference_questions, dtype=float)
    spread = np.sqrt(np.clip(1.0 - answer_question**2, 0.0, None) * np.clip(1.0 - reference_questions**2, 0.0, None))
    # An answer or a reference that is the question itself has nothing left once the question is taken out.
    cosines = np.where(
        spread > 1e-6, (answer_references - answer_question * reference_questions) / np.maximum(spread, 1e-6), 0.0
    )
    return float(np.clip(np.max(cosines), -1.0, 1.0))


def answer_features(
    *,
    similarity: float,
    question_similarity: float,
    consensus: float | None,
    answer: str,
    question: str,
    references: Sequence[str],
    demoted: float | None = None,
    alignment: float | None = None,
) -> np.ndarray:
    """One row in FEATURE_NAMES order. ``demoted``: see demoted_similarity; ``alignment``: see
    grader.scoring.alignment.reference_alignment; without either, the similarity stands in."""
    answer_words = set(content_words(answer))
    question_words = set(content_words(question))
    coverage = 0.0
    for reference in references:
        reference_words = set(content_words(reference))
        # Question demoting: a reference word the question already contains is no evidence of knowledge.
        demoted_words = (reference_words - question_words) or reference_words
        if demoted_words:
            coverage = max(coverage, len(answer_words & demoted_words) / len(demoted_words))
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
            similarity if demoted is None else demoted,
            similarity if alignment is None else alignment,
        ],
        dtype=float,
    )
