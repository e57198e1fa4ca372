"""Conformal prediction intervals around any point model.

Split conformal (Vovk et al. 2005; Lei et al. 2018): residuals on a calibration set the model never
trained on give an interval with marginal coverage >= 1 - alpha when calibration and test rows are
exchangeable. Variants here:

- **normalised** scores ``|y - f(x)| / s(x)`` with a difficulty estimate ``s`` (e.g. an ensemble's
  spread), so intervals widen where the model is unsure;
- **Mondrian** (Vovk 2003): one quantile per group (anion class, process route...), so every group,
  not only the average, gets its coverage; a group with too few calibration rows falls back to the
  pooled quantile;
- **weighted** (Tibshirani, Barber, Candès, Ramdas 2019, "Conformal prediction under covariate
  shift"): calibration scores weighted by the density ratio w(x) = p_test(x) / p_train(x) from a domain
  classifier. MAPIE lacks it, so it is written here.

CV+ (Barber et al. 2021) comes from MAPIE (``CrossConformalRegressor(method="plus")``), see
:func:`cv_plus_intervals`.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def conformal_quantile(scores: np.ndarray, alpha: float) -> float:
    """The ceil((n + 1)(1 - alpha)) / n empirical quantile: infinite when n is too small for alpha."""
    scores = np.sort(np.asarray(scores, dtype=float))
    n = len(scores)
    rank = int(np.ceil((n + 1) * (1 - alpha)))
    return float(scores[rank - 1]) if 1 <= rank <= n else float("inf")


def weighted_conformal_quantiles(
    scores: np.ndarray, calibration_weights: np.ndarray, test_weights: np.ndarray, alpha: float
) -> np.ndarray:
    """Per test point, the 1 - alpha quantile of sum_i p_i delta(s_i) + p_test delta(+inf).

    p_i = w_i / (sum_j w_j + w_test) (Tibshirani et al. 2019, eq. 7): a test point far from the
    calibration data (large w_test) puts more mass on +inf, so its interval widens, to infinity if
    the calibration set cannot vouch for it.
    """
    order = np.argsort(scores)
    sorted_scores = np.asarray(scores, dtype=float)[order]
    cumulative = np.cumsum(np.asarray(calibration_weights, dtype=float)[order])
    total = cumulative[-1] + np.asarray(test_weights, dtype=float)
    # smallest calibration score whose cumulative normalised weight reaches 1 - alpha
    needed = (1 - alpha) * total
    position = np.searchsorted(cumulative, needed, side="left")
    quantiles = np.full(len(total), np.inf)
    inside = position < len(sorted_scores)
    quantiles[inside] = sorted_scores[position[inside]]
    return quantiles


def split_conformal_intervals(
    calibration_prediction: np.ndarray,
    calibration_target: np.ndarray,
    test_prediction: np.ndarray,
    alpha: float,
    calibration_scale: np.ndarray | None = None,
    test_scale: np.ndarray | None = None,
    calibration_groups: np.ndarray | None = None,
    test_groups: np.ndarray | None = None,
    min_group_size: int = 30,
    calibration_weights: np.ndarray | None = None,
    test_weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) for the test rows; Mondrian with groups, weighted with weights, normalised with scales.

    Groups and weights are not combined (a weighted quantile per group would have too few rows).
    """
    if calibration_groups is not None and calibration_weights is not None:
        raise ValueError("choose Mondrian (groups) or weighted (weights) conformal, not both")
    scale_cal = (
        np.ones(len(calibration_target)) if calibration_scale is None else np.asarray(calibration_scale)
    )
    scale_test = np.ones(len(test_prediction)) if test_scale is None else np.asarray(test_scale)
    scores = np.abs(np.asarray(calibration_target) - np.asarray(calibration_prediction)) / scale_cal
    if calibration_weights is not None:
        half_width = weighted_conformal_quantiles(scores, calibration_weights, test_weights, alpha)
    else:
        half_width = np.full(len(test_prediction), conformal_quantile(scores, alpha))
        if calibration_groups is not None:
            calibration_groups = np.asarray(calibration_groups)
            test_groups = np.asarray(test_groups)
            for group in np.unique(test_groups):
                in_group = calibration_groups == group
                if in_group.sum() >= min_group_size:
                    half_width[test_groups == group] = conformal_quantile(scores[in_group], alpha)
    half_width = half_width * scale_test
    test_prediction = np.asarray(test_prediction, dtype=float)
    return test_prediction - half_width, test_prediction + half_width


def cv_plus_intervals(
    estimator: Any,
    X_train: Any,
    y_train: np.ndarray,
    X_test: Any,
    alpha: float,
    groups: np.ndarray | None = None,
    n_folds: int = 5,
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CV+ (jackknife+ with K folds) through MAPIE: (point prediction, lower, upper).

    ``groups`` makes the folds group-aware (no composition in two folds) via GroupKFold.
    """
    from mapie.regression import CrossConformalRegressor
    from sklearn.model_selection import GroupKFold, KFold

    cv = (
        GroupKFold(n_splits=n_folds)
        if groups is not None
        else KFold(n_folds, shuffle=True, random_state=random_state)
    )
    regressor = CrossConformalRegressor(
        estimator, confidence_level=1 - alpha, method="plus", cv=cv, random_state=random_state
    )
    regressor.fit_conformalize(X_train, y_train, groups=groups)
    prediction, intervals = regressor.predict_interval(X_test)
    return np.asarray(prediction, dtype=float), intervals[:, 0, 0], intervals[:, 1, 0]
