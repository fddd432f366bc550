"""Calibration and confidence as plain functions (no model, no database)."""

from decimal import Decimal

import numpy as np
import pytest

from grader.scoring.calibration import (
    COUNT_SHRINK,
    FEEDBACK_FEATURE_NAMES,
    INTERACTING,
    Calibration,
    Evidence,
    Linear,
    cold_design,
    error_std,
    feedback_features,
    fit_linear,
    pass_confidence,
)
from grader.scoring.signals import FEATURE_NAMES
from tests.grading import similarity_to_points


def _features(similarity: float) -> np.ndarray:
    row = np.zeros(len(FEATURE_NAMES))
    row[0] = similarity
    return row


def _evidence(teacher, cold, vectors=None) -> Evidence:
    teacher, cold = np.array(teacher, dtype=float), np.array(cold, dtype=float)
    return Evidence(teacher=teacher, cold=cold, vectors=np.zeros((len(teacher), 0)) if vectors is None else vectors)


@pytest.mark.parametrize("similarity", [-0.2, 0.0, 0.25, 0.4, 0.5, 0.61, 0.75, 0.9, 1.0])
def test_without_a_fitted_calibration_the_cold_grade_is_the_similarity_ramp(similarity):
    calibration = Calibration(zero_credit=0.25, full_credit=0.75)
    fraction = calibration.cold_fraction(_features(similarity))
    expected = similarity_to_points(
        similarity=similarity, max_points=Decimal("1"), zero_credit=0.25, full_credit=0.75, step=0
    )
    assert fraction == pytest.approx(float(expected), abs=0.01)


def test_a_questions_corrections_pull_its_grades_towards_the_teacher_more_as_they_accumulate():
    calibration = Calibration()
    one = calibration.fraction(cold=0.8, vector=None, evidence=_evidence([0.3], [0.8]))
    five = calibration.fraction(cold=0.8, vector=None, evidence=_evidence([0.3] * 5, [0.8] * 5))
    assert calibration.fraction(cold=0.8, vector=None, evidence=Evidence.empty()) == 0.8
    assert 0.3 < five < one < 0.8


def test_the_nearest_corrected_answer_dominates_the_neighbour_evidence():
    vectors = np.eye(3, dtype=np.float32)
    evidence = _evidence([1.0, 0.0, 0.0], [0.5, 0.5, 0.5], vectors)
    row = feedback_features(cold=0.5, vector=np.array([0.98, 0.2, 0.0]), evidence=evidence)
    assert row[2] > 0.9  # neighbours
    assert row[4] == pytest.approx(0.98)  # closeness


def test_ridge_fit_recovers_a_linear_relation_and_survives_a_round_trip_to_json():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, len(FEATURE_NAMES)))
    y = 0.5 + 0.1 * x[:, 0] - 0.05 * x[:, 2]
    model, residual = fit_linear(x, y)
    assert model.coef[0] == pytest.approx(0.1, abs=0.01)
    assert residual < 0.05
    calibration = Calibration(cold=model, feedback=Linear(coef=(1, 0, 0, 0, 0), intercept=0.0), error_std=0.1)
    again = Calibration.from_dict(calibration.to_dict())
    assert again.cold_fraction(x[0]) == pytest.approx(calibration.cold_fraction(x[0]))
    assert again.error_std == 0.1


def test_a_calibration_fitted_on_other_features_is_refused():
    data = Calibration().to_dict() | {"features": ["similarity", "a_feature_this_release_does_not_know"]}
    with pytest.raises(ValueError, match="other features"):
        Calibration.from_dict(data)


def test_the_quadratic_cold_stage_learns_what_a_straight_line_cannot_and_keeps_it_through_json():
    # Credit when the answer matches the reference OR the class consensus: a product term, not a sum.
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, size=(400, len(FEATURE_NAMES)))
    similarity, consensus = x[:, 0], x[:, 2]
    y = 1.0 - (1.0 - similarity) * (1.0 - consensus)
    _, linear_error = fit_linear(cold_design(x, "linear"), y)
    quadratic, quadratic_error = fit_linear(cold_design(x, "quadratic"), y)
    assert quadratic_error < 0.01 < linear_error
    calibration = Calibration.from_dict(Calibration(cold=quadratic, cold_terms="quadratic").to_dict())
    assert calibration.cold_terms == "quadratic"
    assert calibration.cold_fraction(x[0]) == pytest.approx(min(1.0, max(0.0, y[0])), abs=0.01)


def test_cold_design_appends_one_product_per_pair_of_interacting_features():
    row = np.arange(1.0, len(FEATURE_NAMES) + 1.0)
    design = cold_design(row)
    pairs = len(INTERACTING) * (len(INTERACTING) + 1) // 2
    assert design.shape == (len(FEATURE_NAMES) + pairs,)
    assert list(design[: len(FEATURE_NAMES)]) == list(row)
    assert row[0] * row[2] in design and row[0] ** 2 in design
    assert np.array_equal(cold_design(np.stack([row, row]))[1], design)


def test_a_calibration_file_from_before_the_new_terms_still_grades_as_it_was_fitted():
    # Written by an earlier release: seven features, no "cold_terms", five feedback features.
    old = {
        "features": list(FEATURE_NAMES[:7]),
        "feedback_features": list(FEEDBACK_FEATURE_NAMES[:5]),
        "cold": {"coef": [1.0] + [0.0] * 5 + [-1.0], "intercept": 0.0},
        "feedback": {"coef": [0.5, 1.0, 0.5, 0.0, 0.0], "intercept": 0.0},
        "error_std": 0.2,
    }
    calibration = Calibration.from_dict(old)
    assert calibration.cold_terms == "linear"
    features = _features(0.6)
    features[FEATURE_NAMES.index("question_overlap")] = 0.1
    features[FEATURE_NAMES.index("demoted_similarity")] = 0.9  # a feature the file never saw: ignored
    assert calibration.cold_fraction(features) == pytest.approx(0.5)
    evidence = _evidence([0.2, 0.4], [0.5, 0.5], np.eye(2, dtype=np.float32))
    row = feedback_features(cold=0.6, vector=np.array([1.0, 0.0]), evidence=evidence)
    expected = 0.5 * row[0] + row[1] + 0.5 * row[2]
    assert calibration.fraction(cold=0.6, vector=np.array([1.0, 0.0]), evidence=evidence) == pytest.approx(expected)


def test_the_cold_grades_error_on_the_nearest_corrected_answers_is_a_feature_of_its_own():
    vectors = np.eye(3, dtype=np.float32)
    # The cold model overrated the answer most like this one by 0.6, and was right on the others.
    evidence = _evidence([0.2, 0.5, 0.5], [0.8, 0.5, 0.5], vectors)
    row = feedback_features(cold=0.8, vector=np.array([0.99, 0.1, 0.0]), evidence=evidence)
    neighbour_error = row[FEEDBACK_FEATURE_NAMES.index("neighbour_error")]
    shift = row[FEEDBACK_FEATURE_NAMES.index("shift")]
    assert neighbour_error == pytest.approx(-0.6, abs=0.02)
    assert -0.2 < shift < 0  # the question-wide mean error, shrunk, says much less


def test_the_neighbours_gap_counts_for_more_as_corrections_accumulate():
    names = list(FEEDBACK_FEATURE_NAMES)
    rows = []
    for k in (1, 5, 20):
        vectors = np.tile(np.eye(3, dtype=np.float32)[:1], (k, 1))  # k corrected answers, all alike
        evidence = _evidence([0.2] * k, [0.8] * k, vectors)
        rows.append(feedback_features(cold=0.8, vector=np.array([1.0, 0.0, 0.0]), evidence=evidence))
    gaps = [row[names.index("neighbours_gap_by_count")] for row in rows]
    # The neighbours say 0.2 where the cold grade says 0.8: a gap of -0.6, weighted k / (k + 5).
    assert gaps == pytest.approx([-0.6 * k / (k + COUNT_SHRINK) for k in (1, 5, 20)])
    # Without token vectors the aligned columns repeat the sentence-vector ones.
    assert [row[names.index("aligned_gap_by_count")] for row in rows] == pytest.approx(gaps)
    assert rows[0][names.index("aligned_error_by_count")] == pytest.approx(-0.6 / (1 + COUNT_SHRINK))


def test_confidence_is_even_at_the_pass_mark_and_grows_with_distance_and_precision():
    at_mark = pass_confidence(fraction=0.5, pass_fraction=0.5, std=0.2)
    near = pass_confidence(fraction=0.6, pass_fraction=0.5, std=0.2)
    far = pass_confidence(fraction=0.9, pass_fraction=0.5, std=0.2)
    precise = pass_confidence(fraction=0.6, pass_fraction=0.5, std=0.05)
    assert at_mark == pytest.approx(0.5)
    assert at_mark < near < far < 1.0
    assert precise > near


def test_error_spread_follows_a_questions_own_corrections_once_there_are_enough():
    calibration = Calibration(error_std=0.2)
    assert error_std(calibration=calibration, evidence=_evidence([0.0, 1.0], [1.0, 0.0])) == 0.2
    wild = error_std(calibration=calibration, evidence=_evidence([0.0, 1.0] * 5, [1.0, 0.0] * 5))
    exact = error_std(calibration=calibration, evidence=_evidence([0.5] * 10, [0.5] * 10))
    assert exact < 0.2 < wild
