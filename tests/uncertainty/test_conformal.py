"""Coverage on synthetic data where the truth is known."""

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from matshift.uncertainty.conformal import (
    conformal_quantile,
    cv_plus_intervals,
    split_conformal_intervals,
    weighted_conformal_quantiles,
)

ALPHA = 0.1


def linear_data(n, rng, shift=0.0):
    x = rng.normal(loc=shift, size=(n, 1))
    noise_scale = 0.2 + 0.5 * np.abs(x[:, 0])  # heteroscedastic: noise grows with |x|
    return x, 2 * x[:, 0] + rng.normal(size=n) * noise_scale


def covered(y, lower, upper):
    return float(np.mean((y >= lower) & (y <= upper)))


def test_quantile_is_the_finite_sample_corrected_rank():
    assert conformal_quantile(np.arange(1, 10), 0.1) == 9.0  # ceil(10 * 0.9) = 9th of 9
    assert conformal_quantile(np.arange(1, 5), 0.1) == np.inf  # 4 scores cannot give 90%


def test_split_conformal_covers_exchangeable_data():
    rng = np.random.default_rng(0)
    coverages = []
    for _ in range(30):
        x, y = linear_data(1500, rng)
        prediction = 2 * x[:, 0]  # a perfect mean model; residuals are pure noise
        lower, upper = split_conformal_intervals(prediction[:500], y[:500], prediction[500:], ALPHA)
        coverages.append(covered(y[500:], lower, upper))
    assert 0.88 <= np.mean(coverages) <= 0.92


def test_mondrian_covers_every_group_where_pooled_does_not():
    rng = np.random.default_rng(1)
    x, y = linear_data(6000, rng)
    groups = np.where(np.abs(x[:, 0]) > 1.0, "noisy", "quiet")
    prediction = 2 * x[:, 0]
    cal, test = slice(0, 3000), slice(3000, None)
    pooled = split_conformal_intervals(prediction[cal], y[cal], prediction[test], ALPHA)
    mondrian = split_conformal_intervals(
        prediction[cal],
        y[cal],
        prediction[test],
        ALPHA,
        calibration_groups=groups[cal],
        test_groups=groups[test],
    )
    noisy = groups[test] == "noisy"
    assert covered(y[test][noisy], *(bound[noisy] for bound in pooled)) < 0.8
    for mask in (noisy, ~noisy):
        assert 0.87 <= covered(y[test][mask], *(bound[mask] for bound in mondrian)) <= 0.93


def test_weighted_conformal_restores_coverage_under_covariate_shift():
    rng = np.random.default_rng(2)
    x_cal, y_cal = linear_data(4000, rng)
    x_test, y_test = linear_data(4000, rng, shift=1.5)  # test inputs moved to the noisy region
    density_ratio = lambda x: np.exp(1.5 * x[:, 0] - 1.5**2 / 2)  # N(1.5,1) / N(0,1), known here  # noqa: E731
    prediction_cal, prediction_test = 2 * x_cal[:, 0], 2 * x_test[:, 0]
    plain = split_conformal_intervals(prediction_cal, y_cal, prediction_test, ALPHA)
    weighted = split_conformal_intervals(
        prediction_cal,
        y_cal,
        prediction_test,
        ALPHA,
        calibration_weights=density_ratio(x_cal),
        test_weights=density_ratio(x_test),
    )
    assert covered(y_test, *plain) < 0.85
    assert 0.87 <= covered(y_test, *weighted) <= 0.95


def test_weighted_quantile_with_equal_weights_equals_the_plain_one():
    scores = np.random.default_rng(3).exponential(size=200)
    weighted = weighted_conformal_quantiles(scores, np.ones(200), np.ones(5), ALPHA)
    assert np.allclose(weighted, conformal_quantile(scores, ALPHA))


def test_mondrian_and_weighted_are_exclusive():
    with pytest.raises(ValueError, match="not both"):
        split_conformal_intervals(
            np.zeros(3),
            np.zeros(3),
            np.zeros(2),
            ALPHA,
            calibration_groups=np.zeros(3),
            test_groups=np.zeros(2),
            calibration_weights=np.ones(3),
            test_weights=np.ones(2),
        )


def test_cv_plus_through_mapie_covers():
    rng = np.random.default_rng(4)
    x, y = linear_data(1200, rng)
    _, lower, upper = cv_plus_intervals(LinearRegression(), x[:600], y[:600], x[600:], ALPHA)
    assert 0.86 <= covered(y[600:], lower, upper) <= 0.95
