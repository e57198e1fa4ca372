import numpy as np
import pytest

from matshift.robust.density_ratio import DomainClassifierDensityRatio


def test_ratio_recovers_a_known_gaussian_shift():
    rng = np.random.default_rng(0)
    source, target = rng.normal(size=(4000, 1)), rng.normal(loc=0.5, size=(4000, 1))
    X = np.vstack([source, target])
    domains = np.r_[np.zeros(4000), np.ones(4000)].astype(int)
    estimator = DomainClassifierDensityRatio(C=10.0, clip=(1e-3, 1e3)).fit(X, domains)
    grid = np.array([[-1.0], [0.0], [1.0]])
    truth = np.exp(0.5 * grid[:, 0] - 0.125)  # N(0.5, 1) / N(0, 1)
    estimate = estimator.ratio(grid) * estimator.normaliser_  # undo the mean-1 normalisation
    assert np.allclose(estimate, truth, rtol=0.15)
    assert estimator.ratio(source).mean() == pytest.approx(1.0)


def test_ratio_is_clipped_and_needs_both_domains():
    rng = np.random.default_rng(1)
    X = np.r_[rng.normal(size=(200, 1)), rng.normal(loc=6, size=(200, 1))]
    domains = np.r_[np.zeros(200), np.ones(200)].astype(int)
    estimator = DomainClassifierDensityRatio(clip=(0.1, 10.0)).fit(X, domains)
    raw = np.clip(estimator._raw_ratio(X), 0.1, 10.0)
    assert raw.max() <= 10.0 and raw.min() >= 0.1
    with pytest.raises(ValueError, match="both source"):
        DomainClassifierDensityRatio().fit(X, np.zeros(400, dtype=int))
