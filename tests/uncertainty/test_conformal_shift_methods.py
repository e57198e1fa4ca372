"""The interval methods added for shift: CQR, Mondrian by OOD bin, bounded weighted conformal, worst fold."""

import numpy as np
import pytest

from matshift.uncertainty.conformal import (
    INTERVAL_METHODS,
    binned_conformal_half_widths,
    bounded_weighted_half_widths,
    conformal_intervals,
    conformal_quantile,
    cqr_intervals,
    worst_fold_half_width,
)

ALPHA = 0.1


def test_cqr_widens_an_overconfident_band_to_nominal_coverage():
    rng = np.random.default_rng(0)
    n = 4000
    scale = 0.5 + rng.uniform(size=n)
    y = rng.normal(size=n) * scale
    # a band of +-1 sd: ~68% coverage before conformalization, heteroscedastic like the data
    low, high = -scale, scale
    cal, test = slice(0, 2000), slice(2000, None)
    assert np.mean((y[test] >= low[test]) & (y[test] <= high[test])) < 0.75
    lower, upper = cqr_intervals(low[cal], high[cal], y[cal], low[test], high[test], ALPHA)
    assert 0.88 <= np.mean((y[test] >= lower) & (y[test] <= upper)) <= 0.92
    # the width still follows the band: wide rows stay wider than narrow ones
    width = upper - lower
    assert width[scale[test] > 1.2].mean() > width[scale[test] < 0.8].mean() + 0.5


def test_mondrian_by_ood_bin_covers_the_far_bin_that_pooled_undercovers():
    rng = np.random.default_rng(1)
    n = 6000
    ood = rng.uniform(size=n)
    residual = rng.normal(size=n) * np.where(ood > 2 / 3, 3.0, 0.5)  # far rows err 6x more
    scores = np.abs(residual)
    cal, test = slice(0, 3000), slice(3000, None)
    far = ood[test] > 2 / 3
    pooled = conformal_quantile(scores[cal], ALPHA)
    assert np.mean(scores[test][far] <= pooled) < 0.8
    binned = binned_conformal_half_widths(scores[cal], ood[cal], ood[test], ALPHA, n_bins=3, min_bin_size=30)
    assert np.mean(scores[test][far] <= binned[far]) >= 0.87
    assert np.mean(scores[test][~far] <= binned[~far]) >= 0.87


def test_bounded_weighted_caps_the_infinite_half_width():
    scores = np.arange(1.0, 101.0)
    weights = np.ones(100)
    half = bounded_weighted_half_widths(scores, weights, np.array([1.0, 1e6]), ALPHA, max_width_factor=2.0)
    pooled = conformal_quantile(scores, ALPHA)
    assert half[0] == pytest.approx(pooled)  # an ordinary test row: the plain weighted quantile
    assert half[1] == pytest.approx(2 * pooled)  # unvouched-for: capped, not infinite


def test_worst_fold_covers_the_shifted_fold_that_the_pooled_quantile_undercovers():
    rng = np.random.default_rng(3)
    folds = np.repeat(np.arange(4), 500)
    scores = np.abs(rng.normal(size=2000) * np.where(folds == 3, 3.0, 1.0))  # one fold errs 3x more
    pooled, worst = conformal_quantile(scores, ALPHA), worst_fold_half_width(scores, folds, ALPHA, 30)
    shifted = np.abs(rng.normal(size=5000) * 3.0)  # a test fold like fold 3
    assert np.mean(shifted <= pooled) < 0.80
    assert np.mean(shifted <= worst) >= 0.88
    # folds under min_rows do not count: a 10-row fold with huge scores is ignored
    tiny = np.r_[scores, np.full(10, 100.0)]
    assert worst_fold_half_width(tiny, np.r_[folds, np.full(10, 9)], ALPHA, 30) == pytest.approx(worst)


def test_every_listed_method_dispatches_and_an_unknown_one_names_the_choices():
    rng = np.random.default_rng(2)
    n = 200
    part = {
        "prediction": rng.normal(size=n),
        "target": rng.normal(size=n),
        "std": np.full(n, 1.0),
        "group": np.repeat(["a", "b"], n // 2),
        "weight": np.ones(n),
        "q_low": np.full(n, -1.0),
        "q_high": np.full(n, 1.0),
        "distance": rng.uniform(size=n),
        "domain": rng.uniform(size=n),
        "fold": np.arange(n) % 4,
    }
    for method in INTERVAL_METHODS:
        lower, upper = conformal_intervals(method, ALPHA, part, part, min_group_size=10)
        assert np.all(lower <= upper) and len(lower) == n
    with pytest.raises(KeyError, match="cqr"):
        conformal_intervals("nope", ALPHA, part, part, min_group_size=10)
    with pytest.raises(ValueError, match="quantile band"):
        conformal_intervals("cqr", ALPHA, {**part, "q_low": None}, part, min_group_size=10)
    with pytest.raises(ValueError, match="inner folds"):
        conformal_intervals("worst_fold", ALPHA, {**part, "fold": None}, part, min_group_size=10)
