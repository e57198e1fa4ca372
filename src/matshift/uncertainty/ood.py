"""An out-of-distribution score and flag on every prediction.

Three signals, each telling a different way a row can be outside the model's experience:

- ``spread``: disagreement of an ensemble (or a model's own predicted spread) — the model is unsure;
- ``distance``: mean distance to the k nearest training rows in standardised descriptor space —
  nothing like this row was trained on;
- ``domain``: P(target | x) of the domain classifier — the row looks like the shifted data, not
  like the training data.

Each signal becomes its percentile among the calibration rows (held out of training, in
distribution), and the score is their mean, in [0, 1]. The flag ``uncertain`` is raised above the
``flag_quantile`` of the calibration rows' scores: the threshold is set on validation data only, so
about 1 - flag_quantile of in-distribution rows are flagged and a shifted batch shows many more.
"""

from __future__ import annotations

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

# query rows standardised and searched at a time: a large plant batch costs the memory of a small one
QUERY_CHUNK_ROWS = 4096


def knn_distance(train_X, query_X, k: int = 5, columns: list[str] | None = None) -> np.ndarray:
    """Mean Euclidean distance to the k nearest training rows (standardised, NaN imputed), on
    ``columns`` of both DataFrames when given (selected a chunk at a time, not copied whole)."""
    scaler = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler())
    train = scaler.fit_transform(train_X if columns is None else train_X[columns])
    neighbours = NearestNeighbors(n_neighbors=min(k, len(train))).fit(train)
    distances = np.empty(len(query_X))
    for start in range(0, len(query_X), QUERY_CHUNK_ROWS):
        rows = slice(start, start + QUERY_CHUNK_ROWS)
        chunk = query_X.iloc[rows] if hasattr(query_X, "iloc") else query_X[rows]
        chunk = chunk if columns is None else chunk[columns]
        found, _ = neighbours.kneighbors(scaler.transform(chunk))
        distances[start : start + len(found)] = found.mean(axis=1)
    return distances


def percentile_of(reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Fraction of the reference values at or below each value (the reference's empirical CDF)."""
    reference = np.sort(np.asarray(reference, dtype=float))
    return np.searchsorted(reference, values, side="right") / len(reference)


def ood_scores(
    calibration_signals: dict[str, np.ndarray], test_signals: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Scores of the calibration and test rows from the signals both have (None signals skipped)."""
    names = [
        n
        for n, values in calibration_signals.items()
        if values is not None and test_signals.get(n) is not None
    ]
    if not names:
        raise ValueError("no out-of-distribution signal given")
    calibration = np.mean(
        [percentile_of(calibration_signals[n], calibration_signals[n]) for n in names], axis=0
    )
    test = np.mean([percentile_of(calibration_signals[n], test_signals[n]) for n in names], axis=0)
    return calibration, test


def flag_threshold(calibration_scores: np.ndarray, flag_quantile: float) -> float:
    return float(np.quantile(calibration_scores, flag_quantile))


SIGNAL_REASONS = {
    "spread": "the ensemble members disagree",
    "distance": "far from every training composition",
    "domain": "looks like the shifted data, not the training data",
}


def ood_reasons(
    calibration_signals: dict[str, np.ndarray], test_signals: dict[str, np.ndarray]
) -> np.ndarray:
    """Per test row, the signal that stands out most (highest percentile among calibration rows), in words."""
    names = [
        n
        for n, values in calibration_signals.items()
        if values is not None and test_signals.get(n) is not None
    ]
    percentiles = np.column_stack([percentile_of(calibration_signals[n], test_signals[n]) for n in names])
    return np.array(
        [SIGNAL_REASONS.get(names[i], names[i]) for i in percentiles.argmax(axis=1)], dtype=object
    )
