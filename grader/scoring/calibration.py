"""From features to a grade in [0, 1] of the question's points, and how sure we are. Pure Python + numpy.

Two stages, both ridge regressions so they fit in a few milliseconds and serialize to a small JSON document:

* cold: features of the answer → fraction of full points, fitted on human-graded answers to *other* questions.
  Besides the features themselves it sees their pairwise products among the similarities and the reference
  coverage (``cold_terms``): whether a similarity counts depends on the others (a high similarity to the class
  consensus matters less once the answer matches the reference), and a straight line cannot say so;
* feedback: the question's own teacher corrections, effective at once (no retraining): the cold model's mean
  error on them (shrunk towards 0 when there are few), the grades of the most similar corrected answers, and
  the cold model's error on those neighbours.

Without a fitted calibration the cold stage is the linear similarity ramp the service always used, and the
feedback stage adds the shrunk mean error, so a question's first corrections already move its grades.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from grader.scoring.alignment import Tokens, answer_agreement
from grader.scoring.signals import FEATURE_NAMES

FEEDBACK_FEATURE_NAMES = (
    "cold",
    "shift",
    "neighbours",
    "neighbours_x_closeness",
    "closeness",
    "neighbour_error",
    # the same two, with the corrected answers weighted by token agreement (grader.scoring.alignment) instead of
    # the cosine of their sentence vectors
    "aligned_neighbours",
    "aligned_neighbour_error",
    # (aligned neighbours - cold), the aligned error and (neighbours - cold), each times k / (k + COUNT_SHRINK): one
    # linear model serves every number of corrections k, and these let it trust the neighbours more as k grows
    "aligned_gap_by_count",
    "aligned_error_by_count",
    "neighbours_gap_by_count",
)
# The cold stage's terms: "linear" (the features), or "quadratic" (also the products of INTERACTING's pairs).
COLD_TERMS = ("linear", "quadratic")
INTERACTING = tuple(
    FEATURE_NAMES.index(name) for name in ("similarity", "question_similarity", "consensus", "reference_coverage")
)
_PAIRS = tuple((a, b) for i, a in enumerate(INTERACTING) for b in INTERACTING[i:])
# Pseudo-count of the shift's shrinkage: with k corrections the mean error counts k / (k + SHRINK).
SHIFT_SHRINK = 3.0
# Sharpness of the neighbour weights: cosine 0.05 apart is a factor e between two corrected answers.
NEIGHBOUR_TEMPERATURE = 0.05
# The same for token agreement, whose values lie closer together: 0.1 apart is a factor e. Chosen on half the
# Mohler folds among 0.02, 0.05, 0.1 and 0.2.
AGREEMENT_TEMPERATURE = 0.1
# Pseudo-count of the *_by_count feedback features: a correction counts fully once about this many are known.
COUNT_SHRINK = 5.0
DEFAULT_ERROR_STD = 0.2  # of full points: the cold model's typical error before anything is known


@dataclass(frozen=True)
class Evidence:
    """A question's teacher-graded answers: the teacher's fraction, the cold prediction, the answer's vector."""

    teacher: np.ndarray  # shape (k,)
    cold: np.ndarray  # shape (k,)
    vectors: np.ndarray  # shape (k, dim), L2-normalized; may be (k, 0) when unknown
    tokens: tuple[Tokens, ...] | None = None  # the answers' token vectors, one each, when known

    @classmethod
    def empty(cls) -> Evidence:
        return cls(teacher=np.zeros(0), cold=np.zeros(0), vectors=np.zeros((0, 0), dtype=np.float32))

    def __len__(self) -> int:
        return len(self.teacher)


@dataclass(frozen=True)
class Linear:
    coef: tuple[float, ...]
    intercept: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=float) @ np.asarray(self.coef) + self.intercept


def fit_linear(x: np.ndarray, y: np.ndarray) -> tuple[Linear, float]:
    """Ridge regression, its strength chosen by leave-one-out on the data given (never on held-out data).

    Returns the model and the standard deviation of its residuals on that data.
    """
    from sklearn.linear_model import RidgeCV

    model = RidgeCV(alphas=(0.01, 0.1, 1.0, 10.0, 100.0)).fit(x, y)
    linear = Linear(coef=tuple(float(c) for c in model.coef_), intercept=float(model.intercept_))
    residual_std = float(np.std(y - np.clip(linear.predict(x), 0.0, 1.0)))
    return linear, residual_std


def cold_design(features: np.ndarray, terms: str = "quadratic") -> np.ndarray:
    """What the cold stage's linear model reads: the features, then (quadratic) the INTERACTING pairs' products.

    ``features``: one row or a matrix of rows in FEATURE_NAMES order.
    """
    features = np.asarray(features, dtype=float)
    if terms == "linear":
        return features
    products = np.stack([features[..., a] * features[..., b] for a, b in _PAIRS], axis=-1)
    return np.concatenate([features, products], axis=-1)


@dataclass(frozen=True)
class Calibration:
    """A fitted calibration, or the defaults when ``cold``/``feedback`` are None."""

    cold: Linear | None = None
    feedback: Linear | None = None
    cold_terms: str = "linear"
    # The features the ``cold`` model was fitted on, by name (a file from before a feature was added).
    cold_feature_names: tuple[str, ...] = FEATURE_NAMES
    # The feedback features the ``feedback`` model was fitted on, by name: a file fitted before a feature was
    # added keeps reading the columns it knows.
    feedback_feature_names: tuple[str, ...] = FEEDBACK_FEATURE_NAMES
    error_std: float = DEFAULT_ERROR_STD
    zero_credit: float = 0.25  # the default cold ramp, used when ``cold`` is None
    full_credit: float = 0.75
    meta: dict = field(default_factory=dict)

    def cold_fraction(self, features: np.ndarray) -> float:
        if self.cold is None:
            return credit_ramp(float(features[0]), zero_credit=self.zero_credit, full_credit=self.full_credit)
        if self.cold_feature_names != FEATURE_NAMES:
            features = features[[FEATURE_NAMES.index(name) for name in self.cold_feature_names]]
        return _clip01(float(self.cold.predict(cold_design(features[None, :], self.cold_terms))[0]))

    def fraction(
        self, *, cold: float, vector: np.ndarray | None, evidence: Evidence, tokens: Tokens | None = None
    ) -> float:
        """``tokens``: the answer's token vectors, for the aligned neighbours (see feedback_features)."""
        if len(evidence) == 0:
            return cold
        row = feedback_features(cold=cold, vector=vector, evidence=evidence, tokens=tokens)
        if self.feedback is None:
            return _clip01(row[0] + row[1])
        if self.feedback_feature_names != FEEDBACK_FEATURE_NAMES:
            row = row[[FEEDBACK_FEATURE_NAMES.index(name) for name in self.feedback_feature_names]]
        return _clip01(float(self.feedback.predict(row[None, :])[0]))

    def to_dict(self) -> dict:
        def linear(model: Linear | None) -> dict | None:
            return None if model is None else {"coef": list(model.coef), "intercept": model.intercept}

        return {
            "features": list(self.cold_feature_names),
            "cold_terms": self.cold_terms,
            "feedback_features": list(self.feedback_feature_names),
            "cold": linear(self.cold),
            "feedback": linear(self.feedback),
            "error_std": self.error_std,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: dict, *, zero_credit: float = 0.25, full_credit: float = 0.75) -> Calibration:
        # Files written before these keys existed: a linear cold stage, the first five feedback features. A file
        # fitted on fewer features keeps reading those by name; the quadratic terms need every current feature.
        cold_terms = data.get("cold_terms", "linear")
        cold_names = tuple(data.get("features") or ())
        feedback_names = tuple(data.get("feedback_features", FEEDBACK_FEATURE_NAMES[:5]))
        known = set(cold_names) <= set(FEATURE_NAMES) and set(feedback_names) <= set(FEEDBACK_FEATURE_NAMES)
        # The products read features by position: a quadratic file fitted before a feature was appended still
        # finds its interacting features where it left them.
        interacting_in_place = all(index < len(cold_names) for index in INTERACTING) and (
            cold_names == FEATURE_NAMES[: len(cold_names)]
        )
        if (
            not known
            or cold_terms not in COLD_TERMS
            or (cold_terms != "linear" and not interacting_in_place)
            or "similarity" not in cold_names
        ):
            raise ValueError("calibration was fitted on other features; refit it with `manage.py evaluate`")

        def linear(value: dict | None) -> Linear | None:
            return None if value is None else Linear(coef=tuple(value["coef"]), intercept=float(value["intercept"]))

        return cls(
            cold=linear(data.get("cold")),
            feedback=linear(data.get("feedback")),
            cold_terms=cold_terms,
            cold_feature_names=cold_names,
            feedback_feature_names=feedback_names,
            error_std=float(data.get("error_std", DEFAULT_ERROR_STD)),
            zero_credit=zero_credit,
            full_credit=full_credit,
            meta=data.get("meta", {}),
        )


def feedback_features(
    *, cold: float, vector: np.ndarray | None, evidence: Evidence, tokens: Tokens | None = None
) -> np.ndarray:
    """One row in FEEDBACK_FEATURE_NAMES order. Without token vectors (of the answer or of the evidence) the
    aligned neighbours are the sentence-vector ones."""
    k = len(evidence)
    shift = float(np.mean(evidence.teacher - evidence.cold)) * k / (k + SHIFT_SHRINK)
    by_count = k / (k + COUNT_SHRINK)
    if vector is None or evidence.vectors.shape[1] == 0:
        return np.array([cold, shift, cold, 0.0, 0.0, shift, cold, shift, 0.0, shift * by_count, 0.0])
    similarities = evidence.vectors @ vector
    weights = np.exp((similarities - similarities.max()) / NEIGHBOUR_TEMPERATURE)
    weights /= weights.sum()
    neighbours = float(weights @ evidence.teacher)
    closeness = float(similarities.max())
    # How far the cold grade was off on the answers most like this one: the shift, but local, since a teacher's
    # disagreement with the model is usually about one kind of answer, not all of them.
    neighbour_error = float(weights @ (evidence.teacher - evidence.cold))
    aligned, aligned_error = neighbours, neighbour_error
    if tokens is not None and evidence.tokens is not None:
        # Sentence vectors are means: two answers can be close while stating different ideas. Token agreement
        # asks whether they state the same ones.
        agreements = np.array([answer_agreement(tokens, other) for other in evidence.tokens])
        aligned_weights = np.exp((agreements - agreements.max()) / AGREEMENT_TEMPERATURE)
        aligned_weights /= aligned_weights.sum()
        aligned = float(aligned_weights @ evidence.teacher)
        aligned_error = float(aligned_weights @ (evidence.teacher - evidence.cold))
    return np.array(
        [
            cold,
            shift,
            neighbours,
            neighbours * closeness,
            closeness,
            neighbour_error,
            aligned,
            aligned_error,
            (aligned - cold) * by_count,
            aligned_error * by_count,
            (neighbours - cold) * by_count,
        ]
    )


def error_std(*, calibration: Calibration, evidence: Evidence) -> float:
    """How far a grade of this question may be from the teacher's, in fractions of full points.

    Starts from the calibration's residual spread; a question's own corrections (what the grade would have been
    against what the teacher gave) pull it towards their observed spread as they accumulate.
    """
    k = len(evidence)
    prior = calibration.error_std
    if k < 3:
        return prior
    observed = float(np.sqrt(np.mean((evidence.teacher - evidence.cold) ** 2)))
    return math.sqrt((prior**2 * SHIFT_SHRINK + observed**2 * k) / (SHIFT_SHRINK + k))


def pass_confidence(*, fraction: float, pass_fraction: float, std: float) -> float:
    """Probability that the teacher's grade falls on the same side of the pass mark, under a normal error model.

    This is what matters to a student: a grade off by half a point hurts when it flips pass and fail.
    """
    if std <= 0:
        return 1.0
    z = abs(fraction - pass_fraction) / std
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def credit_ramp(similarity: float, *, zero_credit: float, full_credit: float) -> float:
    """The similarity read linearly: nothing at or below ``zero_credit``, full credit at or above ``full_credit``."""
    if not math.isfinite(similarity) or full_credit <= zero_credit:
        return 0.0
    return _clip01((similarity - zero_credit) / (full_credit - zero_credit))


def _clip01(value: float) -> float:
    if not math.isfinite(value):
        return 0.0
    return min(1.0, max(0.0, value))
