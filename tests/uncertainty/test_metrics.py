import numpy as np
import pytest

from matshift.uncertainty.metrics import (
    Z_90,
    flag_auroc,
    interval_metrics,
    miscalibration_area,
    selective_mae,
)


def test_a_calibrated_gaussian_model_scores_as_calibrated():
    rng = np.random.default_rng(0)
    std = rng.uniform(0.1, 2.0, 20000)
    target = rng.normal(scale=std)
    prediction = np.zeros_like(target)
    groups = np.where(std > 1, "wide", "narrow")
    m = interval_metrics(target, prediction, -Z_90 * std, Z_90 * std, std, groups, 10, std=std)
    assert abs(m["coverage_90"] - 0.9) < 0.01 and m["min_group_coverage_90"] > 0.88
    assert m["miscalibration_area"] < 0.01
    assert m["flag_auroc"] > 0.7  # the spread ranks the large errors
    overconfident = miscalibration_area(target, prediction, std / 3)
    assert overconfident > 0.2


def test_flag_auroc_and_selective_mae_reward_a_score_that_ranks_errors():
    target = np.zeros(100)
    prediction = np.r_[np.zeros(80), np.full(20, 5.0)]
    good, useless = np.r_[np.zeros(80), np.ones(20)], np.zeros(100)
    assert flag_auroc(target, prediction, good) == 1.0
    assert flag_auroc(target, prediction, useless) == 0.5
    assert selective_mae(target, prediction, good) == 0.0
    assert selective_mae(target, prediction, -good) > 0.0


def test_error_auroc_ignores_zero_targets_that_make_a_metal_detector_look_good():
    from matshift.uncertainty.metrics import error_flag_auroc, unflagged_miss_rate

    rng = np.random.default_rng(0)
    n = 2000
    metal = rng.uniform(size=n) < 0.5
    target = np.where(metal, 0.0, rng.uniform(1, 5, size=n))
    prediction = np.where(metal, 0.0, target + rng.normal(size=n))  # metals exact, others noisy
    metal_detector = (~metal).astype(float) + rng.uniform(0, 0.01, size=n)  # ranks nothing within non-metals
    assert flag_auroc(target, prediction, metal_detector) > 0.75
    assert abs(error_flag_auroc(target, prediction, metal_detector) - 0.5) < 0.06
    error_aware = np.abs(target - prediction) + rng.normal(scale=0.1, size=n)
    assert error_flag_auroc(target, prediction, error_aware) > 0.9

    lower, upper = prediction - 1.0, prediction + 1.0
    missed = (target < lower) | (target > upper)
    assert unflagged_miss_rate(target, lower, upper, missed) == 0.0
    assert unflagged_miss_rate(target, lower, upper, np.zeros(n, bool)) == pytest.approx(np.mean(missed))
    metrics = interval_metrics(
        target, prediction, lower, upper, error_aware, np.zeros(n), 10, uncertain=missed
    )
    assert metrics["unflagged_miss_rate"] == 0.0 and metrics["coverage_90_nonzero"] < metrics["coverage_90"]
