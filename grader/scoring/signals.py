"""Signals: what the grade of one answer is decided from. The only place features are built. Pure numpy.

Every signal is available at grading time in the product: similarities come from the model (to the references, to
the question, to the class's earlier answers, with the question demoted, token by token), the rest from the texts.
A fine-tuned version's similarities are put on the base model's scale here, so everything after them (the
calibration, the guards) reads one scale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from grader.scoring.alignment import Tokens, reference_alignment
from grader.scoring.similarity_scale import MAPPED, SimilarityScale
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


@dataclass(frozen=True)
class QuestionEncoding:
    """A question as one model version sees it: its texts, and their vectors from that version."""

    prompt: str
    references: tuple[str, ...]
    reference_vectors: np.ndarray  # (references, dim), L2-normalized rows
    prompt_vector: np.ndarray  # (dim,)
    prompt_token_ids: tuple[int, ...]
    # The references' token vectors, for the alignment; None: the alignment is the similarity itself.
    reference_tokens: tuple[Tokens, ...] | None = None
    # The version's map onto the base model's scale (grader.scoring.similarity_scale); None: as they are.
    scale: SimilarityScale | None = None


@dataclass(frozen=True)
class Peers:
    """Earlier answers to the question, as the sum of their vectors: the class's consensus."""

    total: np.ndarray | None
    count: int

    @classmethod
    def none(cls) -> Peers:
        return cls(total=None, count=0)


@dataclass(frozen=True)
class Signals:
    similarities: tuple[float, ...]  # raw cosine to each reference, in the question's order
    best_reference: int  # index of the closest reference
    # The similarity signals on the base model's scale (what calibration and guards read):
    similarity: float
    question_similarity: float
    consensus: float | None
    demoted: float
    alignment: float
    features: np.ndarray  # one row in FEATURE_NAMES order: what the calibration reads

    @property
    def raw_similarity(self) -> float:
        return self.similarities[self.best_reference]


def answer_signals(
    *, answer: str, vector: np.ndarray, tokens: Tokens | None, question: QuestionEncoding, peers: Peers
) -> Signals:
    """The signals of one answer (its text, its vector and, for the alignment, its token vectors)."""
    similarities = np.clip(question.reference_vectors @ vector, -1.0, 1.0)
    best = int(np.argmax(similarities))
    question_similarity = float(question.prompt_vector @ vector)
    consensus = None
    if peers.count >= MIN_PEERS and peers.total is not None:
        norm = float(np.linalg.norm(peers.total))
        if norm > 0:
            consensus = float(vector @ peers.total / norm)
    similarity = float(similarities[best])
    demoted = demoted_similarity(similarities, question_similarity, question.reference_vectors @ question.prompt_vector)
    if tokens is None or question.reference_tokens is None:
        alignment = similarity  # without token vectors the similarity stands in
    else:
        alignment = reference_alignment(tokens, question.reference_tokens, question.prompt_token_ids)
    if question.scale is not None:
        scale = question.scale
        similarity = scale.value("similarity", similarity)
        question_similarity = scale.value("question_similarity", question_similarity)
        consensus = None if consensus is None else scale.value("consensus", consensus)
        demoted = scale.value("demoted_similarity", demoted)
        alignment = scale.value("reference_alignment", alignment)
    return Signals(
        similarities=tuple(float(value) for value in similarities),
        best_reference=best,
        similarity=similarity,
        question_similarity=question_similarity,
        consensus=consensus,
        demoted=demoted,
        alignment=alignment,
        features=_feature_row(
            similarity=similarity,
            question_similarity=question_similarity,
            consensus=consensus,
            demoted=demoted,
            alignment=alignment,
            answer=answer,
            question=question.prompt,
            references=question.references,
        ),
    )


def signal_columns(signals: Sequence[Signals]) -> dict[str, np.ndarray]:
    """Each signal the similarity scale maps, over several answers, by its name (NaN where there is no consensus):
    what SimilarityScale.fit reads."""
    rows = {
        "similarity": [s.similarity for s in signals],
        "question_similarity": [s.question_similarity for s in signals],
        "consensus": [np.nan if s.consensus is None else s.consensus for s in signals],
        "demoted_similarity": [s.demoted for s in signals],
        "reference_alignment": [s.alignment for s in signals],
    }
    return {name: np.asarray(rows[name], dtype=float) for name in MAPPED}


def demoted_similarity(answer_references: np.ndarray, answer_question: float, reference_questions: np.ndarray) -> float:
    """The best cosine between the answer and a reference after removing the question's direction from both.

    Question demoting in vector space: for unit vectors a, r, q, the cosine of a - (a.q)q and r - (r.q)q is
    (a.r - (a.q)(r.q)) / sqrt((1 - (a.q)^2)(1 - (r.q)^2)). Takes the similarities, not the vectors: grading has
    them already. ``answer_references`` and ``reference_questions`` have one entry per reference.
    """
    answer_references = np.asarray(answer_references, dtype=float)
    reference_questions = np.asarray(reference_questions, dtype=float)
    spread = np.sqrt(np.clip(1.0 - answer_question**2, 0.0, None) * np.clip(1.0 - reference_questions**2, 0.0, None))
    # An answer or a reference that is the question itself has nothing left once the question is taken out.
    cosines = np.where(
        spread > 1e-6, (answer_references - answer_question * reference_questions) / np.maximum(spread, 1e-6), 0.0
    )
    return float(np.clip(np.max(cosines), -1.0, 1.0))


def _feature_row(
    *,
    similarity: float,
    question_similarity: float,
    consensus: float | None,
    demoted: float,
    alignment: float,
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
            demoted,
            alignment,
        ],
        dtype=float,
    )
