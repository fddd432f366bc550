"""Agreement metrics on hand-checkable data."""

import numpy as np
import pytest

from training.metrics import agreement


def test_perfect_agreement():
    metrics = agreement(predicted=[0, 2.5, 5, 4], human=[0, 2.5, 5, 4], max_score=5)
    assert metrics["pearson"] == pytest.approx(1.0)
    assert metrics["rmse"] == 0 and metrics["mae"] == 0
    assert metrics["qwk"] == pytest.approx(1.0)


def test_errors_on_the_score_scale():
    metrics = agreement(predicted=[1, 2, 3, 4], human=[2, 2, 3, 2], max_score=5)
    assert metrics["rmse"] == pytest.approx(np.sqrt((1 + 0 + 0 + 4) / 4))
    assert metrics["mae"] == pytest.approx(3 / 4)


def test_a_constant_prediction_has_no_correlation_rather_than_zero():
    metrics = agreement(predicted=[3, 3, 3], human=[1, 4, 5], max_score=5)
    assert metrics["pearson"] is None and metrics["spearman"] is None
    assert metrics["rmse"] > 0


def test_binary_metrics_for_right_wrong_labels():
    from training.metrics import binary_agreement

    metrics = binary_agreement(predicted=[0.9, 0.2, 0.7, 0.4], human=[1, 0, 0, 0], threshold=0.5)
    assert metrics["accuracy"] == pytest.approx(0.75)
    # right: precision 1/2, recall 1, F1 2/3; wrong: precision 1, recall 2/3, F1 4/5
    assert metrics["macro_f1"] == pytest.approx((2 / 3 + 4 / 5) / 2)
    assert metrics["weighted_f1"] == pytest.approx((2 / 3 * 1 + 4 / 5 * 3) / 4)
    assert metrics["auc"] == pytest.approx(1.0)  # the one right answer has the highest grade
    assert binary_agreement(predicted=[0.9, 0.2], human=[1, 1], threshold=0.5)["auc"] is None


def test_the_rmse_floor_separates_scale_from_ranking():
    rng = np.random.default_rng(0)
    human = rng.uniform(0, 5, size=200)
    noisy = human + rng.normal(0, 1.0, size=200)
    # Squeezed towards the mean: perfect ranking, wrong scale. A rescaling reaches zero error.
    squeezed = agreement(predicted=human.mean() + 0.3 * (human - human.mean()), human=human, max_score=5)
    # abs 1e-6, not 1e-9: Pearson lands within ~1e-16 of 1, and the square root in the floor turns that into
    # ~3e-8 on some CPUs (seen on an AVX2-only AMD EPYC; 0 on AVX-512 machines, where numpy sums differently).
    assert squeezed["rmse"] > 1.0 and squeezed["rmse_floor"] == pytest.approx(0.0, abs=1e-6)
    # Noisy ranking: the floor equals the RMSE of the least-squares rescaling, and no prediction beats it.
    slope, intercept = np.polyfit(noisy, human, 1)
    rescaled = agreement(predicted=intercept + slope * noisy, human=human, max_score=5)
    raw = agreement(predicted=noisy, human=human, max_score=5)
    assert rescaled["rmse"] == pytest.approx(raw["rmse_floor"], rel=1e-9)
    assert raw["rmse_floor"] < raw["rmse"]
