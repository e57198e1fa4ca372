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
    if len(scores) != len(calibration_weights):
        raise ValueError(f"{len(scores)} calibration scores but {len(calibration_weights)} weights")
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


def cqr_intervals(
    calibration_low: np.ndarray,
    calibration_high: np.ndarray,
    calibration_target: np.ndarray,
    test_low: np.ndarray,
    test_high: np.ndarray,
    alpha: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Conformalized quantile regression (Romano, Patterson, Candès 2019): the score
    max(q_low - y, y - q_high) widens (or narrows) the model's own quantile band by one constant."""
    target = np.asarray(calibration_target, dtype=float)
    scores = np.maximum(np.asarray(calibration_low) - target, target - np.asarray(calibration_high))
    correction = conformal_quantile(scores, alpha)
    return np.asarray(test_low, dtype=float) - correction, np.asarray(test_high, dtype=float) + correction


def worst_fold_half_width(scores: np.ndarray, folds: np.ndarray, alpha: float, min_rows: int) -> float:
    """The largest per-fold conformal quantile of the scores: a half-width that would have covered
    1 - alpha of every held-out fold (with at least ``min_rows`` rows), not only of them pooled. When the
    test rows are shifted like one of the inner folds, pooled quantiles under-cover that fold; this
    covers whichever it resembles, at the price of width (Mondrian over unknown groups, worst case)."""
    scores, folds = np.asarray(scores, dtype=float), np.asarray(folds)
    per_fold = [
        conformal_quantile(scores[folds == fold], alpha)
        for fold in np.unique(folds)
        if (folds == fold).sum() >= min_rows
    ]
    return max(per_fold) if per_fold else conformal_quantile(scores, alpha)


def binned_conformal_half_widths(
    scores: np.ndarray,
    calibration_score_of_bin: np.ndarray,
    test_score_of_bin: np.ndarray,
    alpha: float,
    n_bins: int,
    min_bin_size: int,
) -> np.ndarray:
    """Mondrian conformal over bins of a continuous score (e.g. the OOD score): bin edges are the
    calibration rows' quantiles, one conformal quantile per bin; a small bin uses the pooled one.
    Rows beyond the last edge fall in the last bin (the most out-of-distribution one)."""
    edges = np.quantile(calibration_score_of_bin, np.linspace(0, 1, n_bins + 1)[1:-1])
    calibration_bin = np.searchsorted(edges, calibration_score_of_bin, side="right")
    test_bin = np.searchsorted(edges, test_score_of_bin, side="right")
    half_width = np.full(len(test_bin), conformal_quantile(scores, alpha))
    for bin_index in np.unique(test_bin):
        in_bin = calibration_bin == bin_index
        if in_bin.sum() >= min_bin_size:
            half_width[test_bin == bin_index] = conformal_quantile(scores[in_bin], alpha)
    return half_width


def bounded_weighted_half_widths(
    scores: np.ndarray,
    calibration_weights: np.ndarray,
    test_weights: np.ndarray,
    alpha: float,
    max_width_factor: float,
) -> np.ndarray:
    """Weighted conformal (Tibshirani et al. 2019) with each half-width capped at ``max_width_factor``
    times the unweighted one: where the calibration rows cannot vouch for a test row the weighted
    quantile is infinite, and an interval spanning the whole target range informs nobody."""
    weighted = weighted_conformal_quantiles(scores, calibration_weights, test_weights, alpha)
    pooled = conformal_quantile(scores, alpha)
    return np.minimum(weighted, max_width_factor * pooled)


# every interval a robust model can report, by name; the shift-aware calibration chooses among them
INTERVAL_METHODS = (
    "split",
    "normalised",
    "mondrian",
    "weighted",
    "gaussian",
    "cqr",
    "mondrian_ood",
    "weighted_bounded",
    "worst_fold",
)


def _ood_bin_scores(cal: dict[str, Any], test: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The binning score of Mondrian-by-OOD: the rows' own ``ood`` when given, else the mean
    calibration percentile of their distance and domain signals."""
    if cal.get("ood") is not None and test.get("ood") is not None:
        return np.asarray(cal["ood"], dtype=float), np.asarray(test["ood"], dtype=float)
    from matshift.uncertainty.ood import ood_scores

    signals = [{n: part.get(n) for n in ("distance", "domain")} for part in (cal, test)]
    return ood_scores(*signals)


def conformal_intervals(
    method: str,
    alpha: float,
    cal: dict[str, Any],
    test: dict[str, Any],
    min_group_size: int,
    n_ood_bins: int = 3,
    max_width_factor: float = 2.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) of the test rows by one of INTERVAL_METHODS.

    ``cal`` and ``test`` hold per-row arrays: ``prediction`` (both), ``target`` (cal), and as the method
    needs: ``std``, ``group``, ``weight`` (density ratio), ``q_low``/``q_high`` (a quantile band),
    ``ood`` (or ``distance`` and ``domain``, from which an OOD score is made), ``fold`` (cal: the inner
    fold each calibration score was held out in).
    """
    from matshift.uncertainty.metrics import MIN_STD, Z_90

    prediction = np.asarray(test["prediction"], dtype=float)
    if method == "gaussian":  # the model's own spread, no conformal correction: shows why one is needed
        return prediction - Z_90 * test["std"], prediction + Z_90 * test["std"]
    if method == "cqr":
        if cal.get("q_low") is None or test.get("q_low") is None:
            raise ValueError("cqr intervals need a model with a quantile band (q_low, q_high)")
        return cqr_intervals(cal["q_low"], cal["q_high"], cal["target"], test["q_low"], test["q_high"], alpha)
    common = {
        "calibration_prediction": cal["prediction"],
        "calibration_target": cal["target"],
        "test_prediction": prediction,
        "alpha": alpha,
    }
    if method == "split":
        return split_conformal_intervals(**common)
    if method == "normalised":
        return split_conformal_intervals(
            **common,
            calibration_scale=np.maximum(cal["std"], MIN_STD),
            test_scale=np.maximum(test["std"], MIN_STD),
        )
    if method == "mondrian":
        return split_conformal_intervals(
            **common,
            calibration_groups=cal["group"],
            test_groups=test["group"],
            min_group_size=min_group_size,
        )
    if method == "weighted":
        return split_conformal_intervals(
            **common, calibration_weights=cal["weight"], test_weights=test["weight"]
        )
    scores = np.abs(np.asarray(cal["target"], dtype=float) - np.asarray(cal["prediction"], dtype=float))
    if method == "mondrian_ood":
        cal_ood, test_ood = _ood_bin_scores(cal, test)
        half_width = binned_conformal_half_widths(
            scores, cal_ood, test_ood, alpha, n_ood_bins, min_group_size
        )
    elif method == "worst_fold":
        if cal.get("fold") is None:
            raise ValueError("worst_fold intervals need the calibration rows' inner folds (cal['fold'])")
        half_width = np.full(
            len(prediction), worst_fold_half_width(scores, cal["fold"], alpha, min_group_size)
        )
    elif method == "weighted_bounded":
        half_width = bounded_weighted_half_widths(
            scores, cal["weight"], test["weight"], alpha, max_width_factor
        )
    else:
        raise KeyError(f"unknown interval method {method!r}; choose one of {INTERVAL_METHODS}")
    return prediction - half_width, prediction + half_width
