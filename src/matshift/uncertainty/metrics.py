"""Metrics of intervals, calibration and out-of-distribution flags (one test fold at a time).

Conventions: intervals are central 90% intervals (``lower``, ``upper``); a Gaussian predictive
distribution for NLL and calibration uses ``std`` when the model gives one, else the interval's
half-width / z(0.95); ``uncertainty`` is the score the flag thresholds (higher = less trusted).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

Z_90 = float(norm.ppf(0.95))  # half-width of a central 90% Gaussian interval, in standard deviations
MIN_STD = 1e-3  # eV: a zero predicted spread would make the NLL infinite


def coverage(target: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    return float(np.mean((target >= lower) & (target <= upper)))


def gaussian_std(lower: np.ndarray, upper: np.ndarray, std: np.ndarray | None = None) -> np.ndarray:
    spread = (np.asarray(upper) - np.asarray(lower)) / (2 * Z_90) if std is None else np.asarray(std)
    return np.maximum(spread, MIN_STD)


def gaussian_nll(target: np.ndarray, prediction: np.ndarray, std: np.ndarray) -> float:
    return float(-np.mean(norm.logpdf(target, loc=prediction, scale=std)))


def miscalibration_area(
    target: np.ndarray, prediction: np.ndarray, std: np.ndarray, n_levels: int = 99
) -> float:
    """Mean |observed - expected| fraction inside central Gaussian intervals over levels 1%..99%."""
    expected = np.linspace(0.01, 0.99, n_levels)
    z = np.abs(np.asarray(target) - np.asarray(prediction)) / std
    observed = np.array([np.mean(z <= norm.ppf(0.5 + level / 2)) for level in expected])
    return float(np.mean(np.abs(observed - expected)))


def flag_auroc(target: np.ndarray, prediction: np.ndarray, uncertainty: np.ndarray) -> float:
    """AUROC of the uncertainty score for "absolute error above twice the median absolute error"."""
    error = np.abs(np.asarray(target) - np.asarray(prediction))
    large = error > 2 * np.median(error)
    if large.all() or not large.any():
        return float("nan")
    return float(roc_auc_score(large, uncertainty))


def error_flag_auroc(target: np.ndarray, prediction: np.ndarray, uncertainty: np.ndarray) -> float:
    """AUROC of the uncertainty score for "absolute error above the median absolute error", among rows
    with a non-zero target only: with half the band gaps exactly 0 (metals, small errors) an AUROC over
    every row mostly measures whether the score separates metals from non-metals."""
    nonzero = np.asarray(target) != 0
    if nonzero.sum() < 2:
        return float("nan")
    error = np.abs(np.asarray(target)[nonzero] - np.asarray(prediction)[nonzero])
    large = error > np.median(error)
    if large.all() or not large.any():
        return float("nan")
    return float(roc_auc_score(large, np.asarray(uncertainty)[nonzero]))


def unflagged_miss_rate(
    target: np.ndarray, lower: np.ndarray, upper: np.ndarray, uncertain: np.ndarray
) -> float:
    """Fraction of the rows *not* flagged ``uncertain`` whose target falls outside the interval."""
    trusted = ~np.asarray(uncertain, dtype=bool)
    if not trusted.any():
        return float("nan")
    return 1.0 - coverage(np.asarray(target)[trusted], np.asarray(lower)[trusted], np.asarray(upper)[trusted])


def selective_mae(
    target: np.ndarray, prediction: np.ndarray, uncertainty: np.ndarray, keep: float = 0.8
) -> float:
    """MAE on the ``keep`` fraction of rows with the lowest uncertainty."""
    n_kept = max(1, int(round(keep * len(uncertainty))))
    kept = np.argsort(uncertainty, kind="stable")[:n_kept]
    return float(np.mean(np.abs(np.asarray(target)[kept] - np.asarray(prediction)[kept])))


def interval_metrics(
    target: np.ndarray,
    prediction: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    uncertainty: np.ndarray,
    groups: np.ndarray,
    min_group_size: int,
    std: np.ndarray | None = None,
    uncertain: np.ndarray | None = None,
) -> dict[str, float]:
    """Every interval / flag metric of one fold; ``uncertain`` (the flag) adds ``unflagged_miss_rate``
    and ``flag_rate``. ``*_nonzero``: rows with a non-zero target only."""
    sigma = gaussian_std(lower, upper, std)
    group_coverage = [
        coverage(target[groups == g], lower[groups == g], upper[groups == g])
        for g in np.unique(groups)
        if (groups == g).sum() >= min_group_size
    ]
    nonzero = np.asarray(target) != 0
    metrics = {
        "coverage_90": coverage(target, lower, upper),
        "width_90": float(np.mean(upper - lower)),
        "min_group_coverage_90": float(min(group_coverage)) if group_coverage else float("nan"),
        "nll": gaussian_nll(target, prediction, sigma),
        "miscalibration_area": miscalibration_area(target, prediction, sigma),
        "flag_auroc": flag_auroc(target, prediction, uncertainty),
        "selective_mae_80": selective_mae(target, prediction, uncertainty),
        "coverage_90_nonzero": (
            coverage(target[nonzero], lower[nonzero], upper[nonzero]) if nonzero.any() else float("nan")
        ),
        "coverage_90_min_group": float(min(group_coverage)) if group_coverage else float("nan"),
        "flag_auroc_nonzero": (
            flag_auroc(target[nonzero], prediction[nonzero], uncertainty[nonzero])
            if nonzero.any()
            else float("nan")
        ),
        "flag_auroc_error": error_flag_auroc(target, prediction, uncertainty),
    }
    if uncertain is not None:
        metrics["unflagged_miss_rate"] = unflagged_miss_rate(target, lower, upper, uncertain)
        metrics["flag_rate"] = float(np.mean(np.asarray(uncertain, dtype=bool)))
    return metrics
