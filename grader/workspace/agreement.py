"""Agreement between the auto grade and the teacher's grade, from the submissions a teacher corrected."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from django.db.models import QuerySet

from grader.models import Submission


@dataclass(frozen=True)
class AgreementPoint:
    submission_id: int
    auto: float
    teacher: float
    model_version: str


# Fewer pairs than this give a correlation of ±1 or one that swings with a single grade: not worth showing.
PEARSON_MIN_ANSWERS = 3


@dataclass(frozen=True)
class Agreement:
    n: int
    pearson: float | None
    mae: float | None
    exact_match_rate: float | None
    pearson_missing: str | None = None  # why there is no Pearson, in words, when there is none


@dataclass(frozen=True)
class TrendPoint:
    model_version: str
    agreement: Agreement


def agreement_points(*, submissions: QuerySet[Submission]) -> list[AgreementPoint]:
    """One point per submission that has both an auto grade and a teacher's grade (the caller scopes it)."""
    rows = (
        submissions.filter(points__isnull=False, corrected_points__isnull=False)
        .order_by("model_version__created_at", "pk")
        .values_list("pk", "points", "corrected_points", "model_version__name")
    )
    return [
        AgreementPoint(submission_id=pk, auto=float(auto), teacher=float(teacher), model_version=name or "unknown")
        for pk, auto, teacher, name in rows
    ]


def agreement_of(points: list[AgreementPoint]) -> Agreement:
    """Pearson, mean absolute error (in points) and the share of grades the teacher left exactly as they were.

    Pearson of a constant series, or of fewer than PEARSON_MIN_ANSWERS, is reported as None (not 0), with the
    reason in ``pearson_missing``.
    """
    if not points:
        return Agreement(
            n=0, pearson=None, mae=None, exact_match_rate=None, pearson_missing="No corrected answers yet."
        )
    auto = np.array([point.auto for point in points])
    teacher = np.array([point.teacher for point in points])
    pearson, missing = None, None
    if len(points) < PEARSON_MIN_ANSWERS:
        missing = f"Pearson needs at least {PEARSON_MIN_ANSWERS} corrected answers ({len(points)} so far)."
    elif np.ptp(auto) == 0:
        missing = "Pearson needs auto grades that differ; all of these are equal."
    elif np.ptp(teacher) == 0:
        missing = "Pearson needs teacher's grades that differ; all of these are equal."
    else:
        value = float(np.corrcoef(auto, teacher)[0, 1])  # numpy, not scipy: this module loads in every process
        pearson, missing = (value, None) if math.isfinite(value) else (None, "Pearson is undefined for these grades.")
    return Agreement(
        n=len(points),
        pearson=pearson,
        mae=float(np.mean(np.abs(auto - teacher))),
        exact_match_rate=float(np.mean(np.isclose(auto, teacher))),
        pearson_missing=missing,
    )


def agreement_trend(points: list[AgreementPoint]) -> list[TrendPoint]:
    """Agreement per model version, in the order the versions were created (``agreement_points`` sorts so)."""
    by_version: dict[str, list[AgreementPoint]] = {}
    for point in points:
        by_version.setdefault(point.model_version, []).append(point)
    return [TrendPoint(model_version=name, agreement=agreement_of(group)) for name, group in by_version.items()]
