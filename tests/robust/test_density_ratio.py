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


def test_grouped_fit_cross_fits_the_source_weights_by_composition():
    """No source row's weight comes from a classifier fitted on a row of its own composition."""
    import pandas as pd

    rng = np.random.default_rng(2)
    compositions = np.repeat([f"C{i}" for i in range(40)], 5)  # five measurements per composition
    X = pd.DataFrame(rng.normal(size=(200, 2)) + (compositions >= "C30")[:, None], columns=["a", "b"])
    domains = (compositions >= "C30").astype(int)  # the last ten compositions are the target
    fitted_on, predicted = [], []

    class Spy(DomainClassifierDensityRatio):
        def _fit_classifier(self, X, domains):
            classifier = super()._fit_classifier(X, domains)
            rows = set(X.index)
            original = classifier.predict_proba

            def predict_proba(Z):
                fitted_on.append(rows)
                predicted.append(set(Z.index))
                return original(Z)

            classifier.predict_proba = predict_proba
            return classifier

    estimator = Spy(n_folds=4).fit(X, domains, groups=compositions)
    cross_fits = [(f, p) for f, p in zip(fitted_on, predicted, strict=True) if len(f) < len(X)]
    assert len(cross_fits) == 4
    for rows, held_out in cross_fits:
        assert not set(compositions[list(rows)]) & set(compositions[list(held_out)])
    assert set().union(*(p for _, p in cross_fits)) == set(range(len(X)))
    assert estimator.source_ratio_.shape == ((domains == 0).sum(),)
    assert estimator.source_ratio_.mean() == pytest.approx(1.0)
    # ungrouped: the in-sample weights, as before
    plain = DomainClassifierDensityRatio().fit(X, domains)
    assert np.allclose(plain.source_ratio_, plain.ratio(X[domains == 0]))


def test_a_capped_target_sample_estimates_the_same_ratio():
    """max_target_rows fits the classifier on a sample of a large target; the prior-odds correction keeps
    the ratio's scale, so the log ratio matches the full fit's (and the known one)."""
    import pandas as pd

    from matshift.robust.density_ratio import fit_source_vs_target

    rng = np.random.default_rng(2)
    source = pd.DataFrame(rng.normal(size=(3000, 1)), columns=["x"])
    target = pd.DataFrame(rng.normal(loc=0.5, size=(40000, 1)), columns=["x"])
    params = {"C": 10.0, "clip": (1e-3, 1e3)}
    full = fit_source_vs_target(source, target, params)
    capped = fit_source_vs_target(source, target, {**params, "max_target_rows": 3000})
    assert capped.prior_odds_ == pytest.approx(1.0) and full.prior_odds_ == pytest.approx(3000 / 40000)
    grid = pd.DataFrame({"x": [-1.0, 0.0, 1.0]})
    truth = np.exp(0.5 * grid["x"].to_numpy() - 0.125)
    for estimator in (full, capped):
        estimate = estimator.ratio(grid) * estimator.normaliser_
        assert np.allclose(estimate, truth, rtol=0.15)
