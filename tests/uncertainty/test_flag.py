"""The learned `uncertain` flag: ranks errors in a planted OOD region, bounds the unflagged miss rate."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from matshift.uncertainty.flag import (
    FEATURE_REASONS,
    UncertaintyFlag,
    flag_features,
    unflagged_miss_threshold,
)


def planted(n, rng):
    """Distance is the only informative signal: rows beyond distance 2 miss most of the time."""
    distance = rng.exponential(1.0, size=n)
    features = flag_features(
        prediction=rng.uniform(0, 5, size=n),
        spread=rng.uniform(0.1, 1.0, size=n),
        distance=distance,
        domain_log_ratio=rng.normal(size=n),
        target_range=(0.0, 10.0),
    )
    miss = rng.uniform(size=n) < np.where(distance > 2.0, 0.7, 0.05)
    return features, miss, distance


def test_flag_ranks_errors_in_a_planted_ood_region_and_bounds_the_unflagged_miss_rate():
    rng = np.random.default_rng(0)
    features, miss, _ = planted(3000, rng)
    flag = UncertaintyFlag(max_unflagged_miss_rate=0.08, min_flag_rate=0.0).fit(
        features, miss, folds=np.arange(3000) % 4
    )
    test_features, test_miss, test_distance = planted(3000, rng)
    score = flag.predict_proba(test_features)
    assert roc_auc_score(test_miss, score) > 0.75
    flagged = flag.predict(test_features)
    assert test_miss[~flagged].mean() <= 0.10  # set at 0.08 on held-out rows; fresh rows stay near it
    assert flagged[test_distance > 3].mean() > 0.9 and flagged[test_distance < 1].mean() < 0.1
    reasons = flag.reasons(test_features[flagged])
    assert set(reasons) == {FEATURE_REASONS["log_distance"]}


def test_min_flag_rate_flags_the_top_scores_even_when_misses_are_rare():
    rng = np.random.default_rng(1)
    features, _, distance = planted(2000, rng)
    label = distance > np.quantile(distance, 0.8)  # what the score learns
    no_miss = np.zeros(2000, dtype=bool)  # intervals that never miss: the miss rule flags nothing
    flag = UncertaintyFlag(min_flag_rate=0.1).fit(features, label, folds=np.arange(2000) % 4, miss=no_miss)
    assert 0.07 <= flag.held_out_flag_rate_ <= 0.13


def test_one_class_labels_give_a_constant_score():
    rng = np.random.default_rng(2)
    features, _, _ = planted(200, rng)
    flag = UncertaintyFlag(min_flag_rate=0.0).fit(features, np.zeros(200, dtype=bool))
    assert np.all(flag.predict_proba(features) == 0.0) and not flag.predict(features).any()


def test_unflagged_miss_threshold_cuts_between_distinct_scores():
    score = np.array([0.1, 0.2, 0.2, 0.9])
    miss = np.array([False, False, True, True])
    assert unflagged_miss_threshold(score, miss, 0.0) == pytest.approx(0.1)
    assert unflagged_miss_threshold(score, miss, 0.34) == pytest.approx(0.2)
    assert unflagged_miss_threshold(np.array([0.5]), np.array([True]), 0.1) == -np.inf


def test_features_are_finite_for_a_zero_spread_and_missing_spread():
    frame = flag_features(np.array([0.0, 10.0]), None, np.array([0.0, 1.0]), np.zeros(2), (0.0, 10.0))
    assert isinstance(frame, pd.DataFrame) and np.isfinite(frame.to_numpy()).all()
    assert frame["edge_distance"].tolist() == [0.0, 0.0]
