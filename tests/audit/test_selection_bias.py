import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from matshift.audit.selection_bias import (
    FeasibilityClassifier,
    gate_predictions,
    inverse_propensity_weights,
    naive_and_weighted_fits,
    outcome_is_success,
    parse_censored_target,
    simulate_selection_bias,
)


def test_censored_targets_are_flags_and_bounds_not_numbers():
    parsed = parse_censored_target(pd.Series(["1.5", "<1e-10", "> 5", "below_detection", "abc", None]))
    assert parsed["target"].iloc[0] == 1.5
    assert parsed["target"].iloc[1:].isna().all()
    assert parsed["target_censored"].tolist() == [False, True, True, True, False, False]
    assert parsed["target_bound"].iloc[1] == 1e-10 and parsed["target_bound"].iloc[2] == 5.0
    assert np.isnan(parsed["target_bound"].iloc[3])
    assert parsed["censor_side"].iloc[1] == "upper" and parsed["censor_side"].iloc[2] == "lower"


def test_outcome_column_is_checked():
    assert outcome_is_success(pd.Series(["success", "FAILED", "Success"])).tolist() == [True, False, True]
    with pytest.raises(ValueError, match="outcome must be one of"):
        outcome_is_success(pd.Series(["success", "maybe"]))


@pytest.fixture
def biased_population():
    """x ~ N(0, 1), y = x + x^2 + noise; labels reported with P(kept) falling with x (planted bias)."""
    rng = np.random.default_rng(0)
    n = 20_000
    x = rng.normal(size=n)
    y = x + x**2 + rng.normal(0, 0.1, n)
    kept = rng.random(n) < 1 / (1 + np.exp(-(-2.0 * x)))
    return pd.DataFrame({"x": x}), y, kept


def test_ipw_mean_recovers_the_population_mean(biased_population):
    X, y, kept = biased_population
    propensity = FeasibilityClassifier(LogisticRegression()).fit(X, kept).predict_proba(X)[:, 1]
    weights = inverse_propensity_weights(propensity[kept], max_weight=1000)
    population = y.mean()  # 1.0
    naive = y[kept].mean()
    ipw = np.average(y[kept], weights=weights)
    assert abs(naive - population) > 0.4
    assert abs(ipw - population) < 0.1


def test_ipw_regression_recovers_the_population_fit(biased_population):
    # a misspecified (linear) model: what it learns depends on which rows it sees
    X, y, kept = biased_population
    population_slope = LinearRegression().fit(X, y).coef_[0]
    fits = naive_and_weighted_fits(
        X, y, kept, LinearRegression, FeasibilityClassifier(LogisticRegression()), max_weight=1000
    )
    assert abs(fits["naive"].coef_[0] - population_slope) > 0.5
    assert abs(fits["ipw"].coef_[0] - population_slope) < 0.2


def test_feasibility_gate_hides_predictions_of_unlikely_successes():
    gated = gate_predictions(np.array([1.0, 2.0]), np.array([0.9, 0.1]), threshold=0.5)
    assert gated["prediction"].iloc[0] == 1.0 and np.isnan(gated["prediction"].iloc[1])
    assert gated["feasible"].tolist() == [True, False]


def test_feasibility_classifier_needs_both_outcomes():
    with pytest.raises(ValueError, match="both successes and failures"):
        FeasibilityClassifier().fit(np.zeros((3, 1)), [True, True, True])


def test_simulated_bias_drops_more_labels_where_the_descriptor_is_high():
    descriptor = np.linspace(-3, 3, 10_000)
    kept = simulate_selection_bias(descriptor, strength=1.5, base_rate=0.6, seed=0)
    assert kept[:5000].mean() > kept[5000:].mean() + 0.3
    assert abs(kept.mean() - 0.55) < 0.1
