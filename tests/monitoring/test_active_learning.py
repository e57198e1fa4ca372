import numpy as np

from matshift.monitoring.active_learning import next_experiments_table, select_batch


def test_pure_uncertainty_takes_the_most_uncertain_first():
    X = np.random.default_rng(0).normal(size=(50, 3))
    uncertainty = np.arange(50.0)
    assert select_batch(X, uncertainty, 5, diversity_weight=0.0).tolist() == [49, 48, 47, 46, 45]


def test_diversity_avoids_near_copies_of_a_pick():
    rng = np.random.default_rng(1)
    cluster = rng.normal(scale=0.01, size=(10, 2)) + 5.0  # ten near-identical, very uncertain samples
    spread = rng.normal(size=(40, 2))
    X = np.vstack([cluster, spread])
    uncertainty = np.r_[np.full(10, 1.0), np.full(40, 0.6)]
    pure = select_batch(X, uncertainty, 4, diversity_weight=0.0)
    diverse = select_batch(X, uncertainty, 4, diversity_weight=1.0)
    assert (pure < 10).all()  # all four from the same spot
    assert (diverse < 10).sum() == 1  # one from it, then elsewhere


def test_samples_near_labelled_data_are_less_attractive():
    X = np.array([[0.0, 0.0], [10.0, 10.0]])
    labelled = np.array([[0.1, 0.0]])
    assert select_batch(X, np.array([1.0, 1.0]), 1, labelled=labelled, diversity_weight=1.0).tolist() == [1]


def test_table_ranks_each_sample_once():
    X = np.random.default_rng(2).normal(size=(30, 2))
    table = next_experiments_table(np.arange(30).astype(str), X, np.zeros(30), np.linspace(0, 1, 30), k=10)
    assert table["rank"].tolist() == list(range(1, 11)) and table["sample_id"].is_unique


def test_the_median_standardiser_is_simple_imputer_and_standard_scaler():
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from matshift.monitoring.active_learning import _median_standardiser

    rng = np.random.default_rng(3)
    reference = rng.normal(size=(40, 5)) * [1.0, 10.0, 0.1, 1.0, 1.0]
    reference[rng.random((40, 5)) < 0.2] = np.nan
    reference[:, 3] = np.nan  # all missing
    reference[:, 4] = 2.5  # constant
    query = rng.normal(size=(7, 5))
    query[0, :] = np.nan
    sklearn = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler())
    expected = sklearn.fit(reference).transform(query)
    np.testing.assert_allclose(_median_standardiser(reference)(query), expected, rtol=1e-12, atol=1e-12)
