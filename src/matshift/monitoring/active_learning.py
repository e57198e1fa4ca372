"""Which unlabelled samples to measure next: uncertain ones, but not ten copies of the same one.

Batch-mode greedy selection: each pick maximises ``uncertainty + diversity_weight * distance``,
each divided by its maximum, where ``distance`` is a candidate's distance (standardised descriptors) to the
nearest sample already labelled or already picked in this batch (k-center greedy, Sener & Savarese
2018, mixed with uncertainty sampling). ``diversity_weight=0`` is pure uncertainty sampling.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits


def _scaled(values: np.ndarray) -> np.ndarray:
    """Non-negative values over their maximum (a min-max scale would turn 0.6 vs 1.0 into 0 vs 1)."""
    top = values.max()
    return values / top if top > 0 else np.zeros_like(values)


def _median_standardiser(reference: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Impute each column's median (0 for an all-missing column), then centre and scale to unit
    variance (a constant column keeps scale 1), all learned on ``reference``."""
    reference = np.asarray(reference, dtype=float)
    missing = np.isnan(reference)
    has_values = ~missing.all(axis=0)
    medians = np.zeros(reference.shape[1])
    medians[has_values] = np.nanmedian(reference[:, has_values], axis=0)
    filled = np.where(missing, medians, reference)
    mean, std = filled.mean(axis=0), filled.std(axis=0)
    std[std < 10 * np.finfo(float).eps * np.maximum(np.abs(mean), 1.0)] = 1.0

    def transform(values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        return (np.where(np.isnan(values), medians, values) - mean) / std

    return transform


def select_batch(
    candidates: np.ndarray,
    uncertainty: np.ndarray,
    k: int,
    labelled: np.ndarray | None = None,
    diversity_weight: float = 0.5,
) -> np.ndarray:
    """Indices of ``k`` candidates, in the order they were picked."""
    # a median-imputing standard scaler like SimpleImputer + StandardScaler, without their masked-array
    # median (8 s on a 50,000-row pool); the distances are the same to rounding
    reference = candidates if labelled is None or len(labelled) == 0 else np.vstack([labelled, candidates])
    transform = _median_standardiser(reference)
    pool = transform(candidates)
    # one thread: on 2 busy cores, BLAS/OpenMP threads of these products only contend
    with threadpool_limits(limits=1):
        if labelled is not None and len(labelled):
            # a tree search, not a pool x labelled distance matrix (300 x 4,600 x 146 floats is 1.6 GB)
            nearest = NearestNeighbors(n_neighbors=1).fit(transform(labelled)).kneighbors(pool)[0][:, 0]
        else:
            nearest = np.full(len(pool), np.inf)
        uncertainty_score = _scaled(np.asarray(uncertainty, dtype=float))
        picked: list[int] = []
        for _ in range(min(k, len(pool))):
            distance = np.where(np.isfinite(nearest), nearest, 0.0)
            score = uncertainty_score + diversity_weight * _scaled(distance)
            score[picked] = -np.inf
            choice = int(np.argmax(score))
            picked.append(choice)
            nearest = np.minimum(nearest, np.linalg.norm(pool - pool[choice], axis=1))
    return np.array(picked, dtype=int)


def next_experiments_table(
    sample_ids: np.ndarray,
    candidates: np.ndarray,
    prediction: np.ndarray,
    uncertainty: np.ndarray,
    k: int,
    labelled: np.ndarray | None = None,
    diversity_weight: float = 0.5,
) -> pd.DataFrame:
    """The CSV a plant engineer gets: rank, sample, prediction and uncertainty of what to measure next."""
    order = select_batch(candidates, uncertainty, k, labelled, diversity_weight)
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(order) + 1),
            "sample_id": np.asarray(sample_ids)[order],
            "prediction": np.asarray(prediction)[order],
            "uncertainty": np.asarray(uncertainty)[order],
        }
    )
