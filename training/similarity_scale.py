"""Fitting a newly trained version's similarity scale (grader.scoring.similarity_scale): its raw similarity signals
and the base model's on the same answers, read by the signals function the workers run. No ORM: the service picks
the answers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from grader.scoring.model import GradingModel, load_model
from grader.scoring.signals import Peers, QuestionEncoding, Signals, answer_signals, signal_columns
from grader.scoring.similarity_scale import SimilarityScale


@dataclass(frozen=True)
class ScaleSample:
    """An answer a teacher did not correct (training never saw it), with its question's texts."""

    question: str  # any key that groups the answers of one question
    prompt: str
    references: tuple[str, ...]
    answer: str


def raw_signals(model: GradingModel, sample: Sequence[ScaleSample]) -> dict[str, np.ndarray]:
    """Each mapped signal over the sample, as ``model`` gives it before any scale; consensus NaN where there is none.

    The consensus is the centroid of the sample's other answers to the same question, as grading uses the
    question's earlier answers.
    """
    vectors, tokens = model.encode_with_tokens([item.answer for item in sample])
    by_question: dict[str, list[int]] = defaultdict(list)
    for row, item in enumerate(sample):
        by_question[item.question].append(row)
    signals: list[Signals | None] = [None] * len(sample)
    for rows in by_question.values():
        first = sample[rows[0]]
        # One model run gives the references' vectors and their token vectors.
        reference_vectors, reference_tokens = model.encode_with_tokens(list(first.references))
        encoding = QuestionEncoding(
            prompt=first.prompt,
            references=first.references,
            reference_vectors=reference_vectors,
            prompt_vector=model.encode([first.prompt])[0],
            prompt_token_ids=tuple(model.token_ids(first.prompt)),
            reference_tokens=tuple(reference_tokens),
        )
        total = vectors[rows].sum(axis=0)
        for row in rows:
            peers = Peers(total=total - vectors[row], count=len(rows) - 1)
            signals[row] = answer_signals(answer=sample[row].answer, vector=vectors[row], tokens=tokens[row],
                                          question=encoding, peers=peers)  # fmt: skip
    # Every row belongs to one question, so every row is filled above.
    return signal_columns(cast("list[Signals]", signals))


def fit_similarity_scale(*, model_dir: Path, base_dir: Path, sample: Sequence[ScaleSample]) -> SimilarityScale:
    """The map of ``model_dir``'s signals onto ``base_dir``'s, over ``sample``; both loaded for this fit alone."""
    return SimilarityScale.fit(
        source=raw_signals(load_model(path=model_dir, keep=False), sample),
        target=raw_signals(load_model(path=base_dir, keep=False), sample),
    )
