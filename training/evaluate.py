"""Held-out agreement of a model version's grades with teachers' grades: what the promotion gate compares.
No Django ORM, no HTTP: the grades come from the grading pipeline on contexts built from the pairs' texts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

from grader.scoring.context import GradingPolicy, calibration_for
from grader.scoring.grading import Score, grade_texts
from grader.scoring.model import GradingModel
from training.dataset import Pair
from training.metrics import agreement


def held_out_grades(*, pairs: Sequence[Pair], model: GradingModel, corrections: Sequence[Pair] = ()) -> list[Score]:
    """Each held-out answer graded as the workers grade it (grader.scoring.grading.grade_answer: the model's backend
    and similarity scale, the calibration, the guards) against its question's prompt and references, with no
    earlier answers, on its own question's scale.

    ``corrections``: the teacher-graded answers a worker would know when grading these (the training side's), in
    the order they were made; a held-out answer of a question with some is graded with them as the feedback
    stage's evidence, as a worker grades a new answer to that question. Without them, every answer is a first one.
    """
    corrected: dict[tuple[str, tuple[str, ...]], list[tuple[str, float]]] = {}
    for pair in corrections:
        corrected.setdefault((pair.prompt, _references(pair)), []).append((pair.sentence_0, pair.label))
    items = [
        (
            pair.prompt,
            _references(pair),
            GradingPolicy.defaults(max_points=Decimal(str(pair.max_points))),
            pair.sentence_0,
        )
        for pair in pairs
    ]
    return grade_texts(model=model, calibration=calibration_for(), items=items, corrected=corrected)


def _references(pair: Pair) -> tuple[str, ...]:
    return pair.references if pair.sentence_1 in pair.references else (pair.sentence_1,)


def held_out_agreement(*, pairs: Sequence[Pair], model: GradingModel) -> dict[str, float | None]:
    """How the grades ``model`` gives the held-out answers (held_out_grades) agree with the teachers' (Pearson,
    Spearman, RMSE and MAE in points, QWK on rounded points), and the raw cosine's correlations with the labels.
    QWK runs over the largest scale."""
    if not pairs:
        raise ValueError("no held-out pairs")
    return agreement_of_scores(pairs=pairs, scores=held_out_grades(pairs=pairs, model=model))


def agreement_of_scores(*, pairs: Sequence[Pair], scores: Sequence[Score]) -> dict[str, float | None]:
    """held_out_agreement on grades already given (one Score per pair, in order)."""
    predicted = [float(score.points) for score in scores]
    cosines = [
        score.similarities[_references(pair).index(pair.sentence_1)] for pair, score in zip(pairs, scores, strict=True)
    ]
    human = [p.label * p.max_points for p in pairs]
    metrics = agreement(predicted=predicted, human=human, max_score=math.ceil(max(p.max_points for p in pairs)))
    # The same correlations before the similarity -> points mapping: they do not depend on the credit thresholds.
    raw = agreement(predicted=cosines, human=[p.label for p in pairs], max_score=1)
    return {**metrics, "cosine_pearson": raw["pearson"], "cosine_spearman": raw["spearman"]}
