import numpy as np
import pytest

from matshift.uncertainty.ood import flag_threshold, knn_distance, ood_scores, percentile_of


def test_far_rows_score_high_and_get_flagged_near_rows_do_not():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(500, 4))
    calibration, near, far = (
        rng.normal(size=(200, 4)),
        rng.normal(size=(200, 4)),
        rng.normal(loc=4, size=(200, 4)),
    )
    signals = lambda X: {"distance": knn_distance(train, X), "spread": None}  # noqa: E731
    cal_scores, near_scores = ood_scores(signals(calibration), signals(near))
    _, far_scores = ood_scores(signals(calibration), signals(far))
    threshold = flag_threshold(cal_scores, 0.9)
    assert (near_scores > threshold).mean() < 0.2
    assert (far_scores > threshold).mean() > 0.95


def test_percentile_and_missing_signals():
    assert np.allclose(percentile_of(np.arange(10), np.array([-1, 4.5, 100])), [0.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="no out-of-distribution signal"):
        ood_scores({"spread": None}, {"spread": None})


def test_knn_distance_in_chunks_equals_one_search(monkeypatch):
    import pandas as pd
    from sklearn.neighbors import NearestNeighbors
    from sklearn.preprocessing import StandardScaler

    from matshift.uncertainty import ood

    rng = np.random.default_rng(3)
    train, query = pd.DataFrame(rng.normal(size=(300, 4))), pd.DataFrame(rng.normal(size=(1000, 4)))
    monkeypatch.setattr(ood, "QUERY_CHUNK_ROWS", 64)
    scaler = StandardScaler().fit(train)
    expected, _ = (
        NearestNeighbors(n_neighbors=5).fit(scaler.transform(train)).kneighbors(scaler.transform(query))
    )
    assert np.allclose(ood.knn_distance(train, query, 5), expected.mean(axis=1))
    assert np.allclose(ood.knn_distance(train, query.to_numpy(), 5), expected.mean(axis=1))
    # only the named columns count: a column far apart in the query changes nothing
    widened = ood.knn_distance(train.assign(z=0.0), query.assign(z=9.0), 5, columns=[0, 1, 2, 3])
    assert np.allclose(widened, expected.mean(axis=1))
