"""Each kind of shift planted in synthetic data is named; batches from the reference raise no alarm."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wasserstein_distance

from matshift.monitoring.drift import (
    FeatureReference,
    diagnose_shift,
    domain_classifier_drift,
    feature_drift,
    in_distribution_miss_rate,
    population_stability_index,
)

RNG = np.random.default_rng(0)
REFERENCE = pd.DataFrame(RNG.normal(size=(2000, 4)), columns=["a", "b", "c", "d"])


def truth(X: pd.DataFrame) -> np.ndarray:
    return 1.0 + X["a"].to_numpy() - 0.5 * X["b"].to_numpy()


def batch(n=300, shift=0.0, seed=1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"])
    X["a"] += shift
    return X


def test_psi_is_zero_for_the_same_distribution_and_large_for_a_moved_one():
    rng = np.random.default_rng(2)
    assert population_stability_index(REFERENCE["a"], rng.normal(size=5000)) < 0.02
    assert population_stability_index(REFERENCE["a"], rng.normal(loc=1.0, size=5000)) > 0.25


def test_feature_drift_ranks_the_moved_feature_first():
    table = feature_drift(REFERENCE, batch(shift=1.0))
    assert table.index[0] == "a" and table.loc["a", "wasserstein"] == pytest.approx(1.0, abs=0.2)


def test_a_reference_prepared_once_gives_every_batch_the_same_numbers_as_the_reference_rows():
    # rows unsorted, with missing values and ties; a column all missing in the batch is left out
    reference = REFERENCE.round(1).assign(e=np.where(RNG.random(2000) < 0.1, np.nan, RNG.normal(size=2000)))
    prepared = FeatureReference.of(reference, n_bins=10)
    for seed in range(3):
        moved = batch(n=40, shift=0.5, seed=seed).round(2).assign(e=RNG.normal(size=40))
        moved.loc[:4, "b"], moved["d"] = np.nan, np.nan
        table = feature_drift(prepared, moved)
        assert table.equals(feature_drift(reference, moved, n_bins=10))
        assert sorted(table.index) == ["a", "b", "c", "e"]
        for column in table.index:
            ref, new = reference[column].dropna().to_numpy(), moved[column].dropna().to_numpy()
            assert table.loc[column, "psi"] == population_stability_index(ref, new, 10)
            assert table.loc[column, "wasserstein"] == wasserstein_distance(ref, new) / ref.std()


def test_at_most_one_false_alarm_in_twenty_in_distribution_batches():
    alarms = 0
    for seed in range(20):
        domain = domain_classifier_drift(
            REFERENCE, batch(seed=100 + seed), n_permutations=19, random_state=seed
        )
        alarms += diagnose_shift(domain).covariate
    assert alarms <= 1


def test_a_moved_input_is_named_covariate_shift():
    domain = domain_classifier_drift(REFERENCE, batch(shift=1.0), n_permutations=19)
    diagnosis = diagnose_shift(domain)
    assert diagnosis.covariate and domain["auc"] > 0.7 and diagnosis.kinds == ["covariate"]


def test_a_changed_relation_is_named_concept_shift():
    X = batch(seed=3)
    prediction = truth(X)
    target = prediction + 1.5  # same inputs, the property moved by 1.5
    domain = domain_classifier_drift(REFERENCE, X, n_permutations=19)
    diagnosis = diagnose_shift(
        domain, batch_target=target, batch_lower=prediction - 0.5, batch_upper=prediction + 0.5
    )
    assert diagnosis.concept and not diagnosis.covariate
    unchanged = diagnose_shift(
        domain,
        batch_target=prediction + np.random.default_rng(4).normal(scale=0.2, size=len(X)),
        batch_lower=prediction - 0.5,
        batch_upper=prediction + 0.5,
    )
    assert unchanged.concept is False


def test_measuring_only_the_promising_samples_is_named_selection_bias():
    pool = batch(n=3000, seed=5)
    target = truth(pool) + np.random.default_rng(6).normal(scale=6.0, size=len(pool))
    # only samples whose (noisy) property came out high are reported: the inputs barely move
    chosen = target > np.quantile(target, 0.7)
    domain = domain_classifier_drift(REFERENCE, pool[chosen], n_permutations=19)
    diagnosis = diagnose_shift(
        domain,
        reference_target=truth(REFERENCE) + np.random.default_rng(7).normal(scale=3.0, size=len(REFERENCE)),
        batch_target=target[chosen],
    )
    assert diagnosis.selection and not diagnosis.covariate
    failures_gone = diagnose_shift(domain, reference_failure_rate=0.3, batch_failure_rate=0.0)
    assert failures_gone.selection and failures_gone.concept is None


def test_concept_shift_is_judged_against_the_in_distribution_miss_rate():
    """Intervals that miss 20% in distribution miss 20% on an unchanged batch: not a concept shift."""
    rng = np.random.default_rng(5)
    domain = {"auc": 0.5, "p_value": 0.6}
    target = rng.normal(size=400)
    half_width = 1.2816  # the 80% normal interval: 20% of targets fall outside
    lower, upper = np.full(400, -half_width), np.full(400, half_width)
    nominal = diagnose_shift(domain, batch_target=target, batch_lower=lower, batch_upper=upper)
    assert nominal.concept  # the nominal 10% calls an unchanged relation a shift
    calibration = rng.normal(size=1000)
    expected = in_distribution_miss_rate(calibration, np.full(1000, -half_width), np.full(1000, half_width))
    assert 0.15 < expected < 0.25
    judged = diagnose_shift(
        domain, batch_target=target, batch_lower=lower, batch_upper=upper, expected_miss_rate=expected
    )
    assert judged.concept is False and judged.evidence["expected_miss_rate_source"] == "in_distribution"
    moved = diagnose_shift(
        domain, batch_target=target + 2.0, batch_lower=lower, batch_upper=upper, expected_miss_rate=expected
    )
    assert moved.concept


def test_the_in_distribution_miss_rate_is_never_zero():
    assert in_distribution_miss_rate(np.zeros(9), -np.ones(9), np.ones(9)) == 0.1


def test_stopping_the_permutations_early_keeps_every_alarm_and_caps_the_batch():
    for shift, seed in [(0.0, 5), (0.0, 6), (0.3, 7), (1.0, 8)]:
        moved = batch(n=150, shift=shift, seed=seed)
        full = domain_classifier_drift(REFERENCE, moved, n_permutations=19, stop_after_exceedances=20)
        early = domain_classifier_drift(REFERENCE, moved, n_permutations=19)
        assert early["auc"] == full["auc"] and full["n_permutations_run"] == 19
        assert diagnose_shift(early).covariate == diagnose_shift(full).covariate, shift
        assert early["n_permutations_run"] <= 19 and 0 < early["p_value"] <= 1
    capped = domain_classifier_drift(
        REFERENCE, batch(n=3000, seed=9), n_permutations=9, max_reference_rows=500
    )
    assert capped["n_batch"] == 3000 and capped["n_batch_tested"] == capped["n_reference"] == 500


def test_a_one_row_batch_skips_the_domain_classifier_and_says_why():
    rng = np.random.default_rng(0)
    reference = pd.DataFrame(rng.normal(size=(50, 3)), columns=list("abc"))
    result = domain_classifier_drift(reference, reference.iloc[:1], n_permutations=9)
    assert np.isnan(result["auc"]) and result["p_value"] == 1.0
    assert "at least 2" in result["skipped"]


def test_the_permutation_aucs_are_those_of_a_ridge_classifier_refitted_per_fold():
    """One projection per fold scores every label set exactly as a ridge fit on that fold would."""
    from sklearn.linear_model import Ridge
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import KFold

    from matshift.monitoring.drift import RIDGE_PER_ROW, _cross_validated_aucs, _fold_projections

    rng = np.random.default_rng(11)
    X = rng.normal(size=(300, 5))
    labels = np.column_stack(
        [np.r_[np.zeros(260), np.ones(40)], rng.permutation(np.r_[np.zeros(260), np.ones(40)])]
    )
    X[260:, 0] += 0.8
    aucs = _cross_validated_aucs(_fold_projections(X, 3, random_state=4), labels)
    for column in range(labels.shape[1]):
        scores = np.empty(len(X))
        for fit_rows, held_out in KFold(3, shuffle=True, random_state=4).split(X):
            # sklearn's Ridge minimises ||y - Xw||^2 + alpha ||w||^2 with an unpenalised intercept
            ridge = Ridge(alpha=RIDGE_PER_ROW * len(fit_rows)).fit(X[fit_rows], labels[fit_rows, column])
            scores[held_out] = ridge.predict(X[held_out])
        assert aucs[column] == pytest.approx(roc_auc_score(labels[:, column], scores), abs=1e-9)
    assert aucs[0] > 0.65 and abs(aucs[1] - 0.5) < 0.15
