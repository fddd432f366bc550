"""Agreement between predicted and human scores."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def agreement(*, predicted: Sequence[float], human: Sequence[float], max_score: float) -> dict[str, float | None]:
    """Pearson, Spearman, RMSE, MAE and quadratic weighted kappa on rounded scores.

    ``predicted`` and ``human`` are on the score scale (0..max_score). A correlation of a constant series
    is undefined and reported as None, not as 0.
    """
    p = np.asarray(predicted, dtype=float)
    h = np.asarray(human, dtype=float)
    if len(p) != len(h) or len(p) == 0:
        raise ValueError("predicted and human must be non-empty and of equal length")
    constant = np.ptp(p) == 0 or np.ptp(h) == 0
    from scipy import stats  # here, not at the top: web and grading processes import this module, rarely call it

    pearson = None if constant else _finite_or_none(stats.pearsonr(p, h)[0])
    return {
        "n": len(p),
        "pearson": pearson,
        "spearman": None if constant else _finite_or_none(stats.spearmanr(p, h)[0]),
        "rmse": float(np.sqrt(np.mean((p - h) ** 2))),
        "rmse_floor": rmse_floor(human=h, pearson=pearson),
        "mae": float(np.mean(np.abs(p - h))),
        "qwk": quadratic_weighted_kappa(np.rint(p).astype(int), np.rint(h).astype(int), math.ceil(max_score)),
    }


def rmse_floor(*, human: np.ndarray, pearson: float | None) -> float:
    """The lowest RMSE any rescaling ``a + b * predicted`` of predictions with this Pearson could reach.

    Least squares of ``human`` on ``predicted`` leaves a residual variance of var(human) * (1 - pearson**2), so an
    RMSE above this floor is a scale problem (a calibration can fix it); the floor itself only moves with a
    better ranking. Without a correlation (constant predictions) the floor is the spread of the human scores.
    """
    spread = float(np.std(human))
    return spread * math.sqrt(max(0.0, 1.0 - (pearson or 0.0) ** 2))


def quadratic_weighted_kappa(a: np.ndarray, b: np.ndarray, max_rating: int) -> float | None:
    size = max_rating + 1
    a = np.clip(a, 0, max_rating)
    b = np.clip(b, 0, max_rating)
    observed = np.zeros((size, size))
    for i, j in zip(a, b, strict=True):
        observed[i, j] += 1
    expected = np.outer(np.bincount(a, minlength=size), np.bincount(b, minlength=size)) / len(a)
    weights = np.array([[(i - j) ** 2 for j in range(size)] for i in range(size)]) / max(1, (size - 1) ** 2)
    denominator = (weights * expected).sum()
    if denominator == 0:
        return None
    return float(1.0 - (weights * observed).sum() / denominator)


def binary_agreement(
    *, predicted: Sequence[float], human: Sequence[float], threshold: float
) -> dict[str, float | None]:
    """Accuracy, macro and weighted F1 for right/wrong labels (what such benchmarks publish); a prediction at or
    above ``threshold`` counts as right. AUC ranks by the continuous prediction (None with one class only)."""
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    h = [int(value >= threshold) for value in human]
    p = [int(value >= threshold) for value in predicted]
    return {
        "accuracy": float(accuracy_score(h, p)),
        # zero_division=0: a class never predicted has an F1 of 0, as published scorers count it
        "macro_f1": float(f1_score(h, p, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(h, p, average="weighted", zero_division=0)),
        "auc": float(roc_auc_score(h, predicted)) if len(set(h)) == 2 else None,
    }


def expected_calibration_error(
    *, confidence: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> tuple[float | None, list[dict]]:
    """How far stated confidence is from how often the decision is right: the answer-weighted mean gap over
    equal-width bins of confidence (from 0.5, the least a pass/fail confidence can be, to 1). Also the bins."""
    confidence_array = np.asarray(confidence, dtype=float)
    correct_array = np.asarray(correct, dtype=float)
    if len(confidence_array) == 0:
        return None, []
    edges = np.linspace(0.5, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence_array, edges[1:-1]), 0, bins - 1)
    table = []
    gap = 0.0
    for index in range(bins):
        members = which == index
        n = int(members.sum())
        mean_confidence = float(confidence_array[members].mean()) if n else None
        accuracy = float(correct_array[members].mean()) if n else None
        if mean_confidence is not None and accuracy is not None:
            gap += n * abs(mean_confidence - accuracy)
        table.append({"low": float(edges[index]), "high": float(edges[index + 1]), "n": n,
                      "confidence": mean_confidence, "accuracy": accuracy})  # fmt: skip
    return gap / len(confidence_array), table
