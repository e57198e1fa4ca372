"""Intervals and out-of-distribution flags for models scored fold by fold, calibrated on the split's
other folds (cross-fold conformal, "CV+ over shift-like folds").

A split's folds each hold out rows the way the split shifts (a composition cluster, an element family, a
random fifth...). For fold k, the conformal scores are the absolute residuals of the same model on the
other folds' test rows: each was predicted by a model that never saw it, under the same kind of shift as
fold k, and those predictions exist already, so no model is fitted again. Fold k's own test rows are left
out of its calibration even where another fold also tested them (element families overlap), so no row's
label calibrates that row's own interval.

A fold with no such rows (a split of one fold, e.g. ``target_extrapolation``) is calibrated on a grouped
holdout instead: the fold's training rows are split by composition into fit and calibration rows, the
model is refit on the fit rows and its residuals on the calibration rows are the scores. The
``interval_method`` column says which calibration a row got.

The ``ood_score`` is the distance signal of :mod:`matshift.uncertainty.ood` (mean distance to the k
nearest training rows, standardised descriptors) as its percentile among the calibration rows' distances
(each calibration row to the training rows of the model that predicted it), on the robust stage's [0, 1]
scale; ``uncertain`` is raised above the ``flag_quantile`` of the calibration rows' own scores, so the
threshold is set on held-out rows. The half-width is Mondrian over bins of that score
(:func:`~matshift.uncertainty.conformal.binned_conformal_half_widths`; a bin with too few calibration rows
uses the pooled quantile), so rows far from their training data get the wider intervals that far rows
needed elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from matshift.models.predictions import fold_predictions
from matshift.transfer.strategies import descriptor_columns, inner_split
from matshift.uncertainty.conformal import conformal_intervals
from matshift.uncertainty.ood import flag_threshold, knn_distance, ood_reasons, ood_scores

CROSS_FOLD = "cross_fold"  # calibrated on the split's other folds' test rows
GROUPED_HOLDOUT = "grouped_holdout"  # calibrated on training rows held out of the model (by composition)
# per-row inputs of the calibration: the row's held-out distance to its model's training rows
DISTANCE = "distance"


@dataclass(frozen=True)
class FoldConformalSettings:
    """What the calibration reads from ``parameters_robust.yml`` (the robust stage's own settings)."""

    confidence_level: float
    flag_quantile: float
    knn_neighbours: int
    n_ood_bins: int
    min_bin_size: int
    holdout_fraction: float
    random_state: int

    @classmethod
    def from_robust_params(cls, robust_params: dict[str, Any]) -> FoldConformalSettings:
        return cls(
            confidence_level=robust_params["confidence_level"],
            flag_quantile=robust_params["flag_quantile"],
            knn_neighbours=robust_params["knn_neighbours"],
            n_ood_bins=robust_params.get("n_ood_bins", 3),
            min_bin_size=robust_params["min_group_size"],
            holdout_fraction=robust_params["calibration_fraction"],
            random_state=robust_params["random_state"],
        )


def folds_needing_holdout(folds: Iterable[tuple[str, Any, np.ndarray]]) -> set[tuple[str, Any]]:
    """``(split, fold)`` of the folds whose split has no other fold's test rows outside their own test
    set, from ``(split, fold, test ids)`` of every fold that will be scored."""
    test_ids: dict[str, dict[Any, set]] = {}
    for split, fold, ids in folds:
        test_ids.setdefault(split, {})[fold] = set(ids)
    return {
        (split, fold)
        for split, per_fold in test_ids.items()
        for fold, own in per_fold.items()
        if not any(other - own for other_fold, other in per_fold.items() if other_fold != fold)
    }


def holdout_split(
    train_ids: np.ndarray, compositions: pd.Series, settings: FoldConformalSettings
) -> tuple[np.ndarray, np.ndarray]:
    """(fit ids, calibration ids) of a training fold, no composition on both sides."""
    fit_rows, calibration_rows = inner_split(
        len(train_ids),
        compositions.loc[train_ids].to_numpy(),
        settings.holdout_fraction,
        settings.random_state,
    )
    return train_ids[fit_rows], train_ids[calibration_rows]


def held_out_distance(
    X: pd.DataFrame, train_ids: np.ndarray, query_ids: np.ndarray, settings: FoldConformalSettings
) -> np.ndarray:
    """Mean distance of each query row to its k nearest training rows, on the descriptor columns (the
    robust stage's distance signal: source columns left out)."""
    columns = descriptor_columns(X)
    return knn_distance(X.loc[train_ids, columns], X.loc[query_ids, columns], settings.knn_neighbours)


@dataclass(frozen=True)
class CalibratedFold:
    """One fold as the calibration reads it: its rows and their held-out distances. ``fit_ids``,
    ``cal_ids`` and ``cal_distance`` only for a fold calibrated on a grouped holdout (its split has no
    other fold)."""

    key: tuple[str, Any, str]
    train_ids: np.ndarray
    test_ids: np.ndarray
    distance: np.ndarray
    fit_ids: np.ndarray | None = None
    cal_ids: np.ndarray | None = None
    cal_distance: np.ndarray | None = None


def calibrated_folds(
    folds: Iterable[tuple[str, Any, str, np.ndarray, np.ndarray]],
    X: pd.DataFrame,
    compositions: pd.Series,
    settings: FoldConformalSettings,
) -> list[CalibratedFold]:
    """The folds of :func:`matshift.splits.scored_folds` with their distances, and a grouped holdout for
    each fold with no other fold to calibrate on."""
    folds = list(folds)
    need_holdout = folds_needing_holdout((split, fold, test_ids) for split, fold, _, _, test_ids in folds)
    prepared = []
    for split, fold, fold_name, train_ids, test_ids in folds:
        holdout: dict[str, np.ndarray] = {}
        if (split, fold) in need_holdout:
            fit_ids, cal_ids = holdout_split(train_ids, compositions, settings)
            holdout = {
                "fit_ids": fit_ids,
                "cal_ids": cal_ids,
                "cal_distance": held_out_distance(X, fit_ids, cal_ids, settings),
            }
        distance = held_out_distance(X, train_ids, test_ids, settings)
        prepared.append(CalibratedFold((split, fold, fold_name), train_ids, test_ids, distance, **holdout))
    return prepared


def model_fold_rows(
    fold: CalibratedFold,
    name: str,
    fit_predict: Callable[[np.ndarray, np.ndarray], tuple[Any, np.ndarray]],
    table: pd.DataFrame,
    clip: tuple[float, float],
) -> tuple[Any, pd.DataFrame, pd.DataFrame | None]:
    """The model fitted on the fold's training rows, its test rows, and (a holdout-calibrated fold only:
    the one extra fit) the rows of a refit on the fit rows predicting the calibration rows.
    ``fit_predict(fit ids, query ids) -> (fitted model, predictions of the query rows)``."""
    model, prediction = fit_predict(fold.train_ids, fold.test_ids)
    test = fold_predictions(fold.key, name, fold.test_ids, table, prediction, clip)
    test[DISTANCE] = fold.distance
    if fold.fit_ids is None:
        return model, test, None
    _, calibration = fit_predict(fold.fit_ids, fold.cal_ids)
    held_out = fold_predictions(fold.key, name, fold.cal_ids, table, calibration, clip)
    held_out[DISTANCE] = fold.cal_distance
    return model, test, held_out


def calibrated_columns(
    calibration: pd.DataFrame,
    test: pd.DataFrame,
    settings: FoldConformalSettings,
    clip: tuple[float, float],
) -> dict[str, np.ndarray]:
    """``lower, upper, ood_score, uncertain, reason`` of the ``test`` rows (``prediction``, ``distance``)
    from the ``calibration`` rows (``target``, ``prediction``, ``distance``)."""
    cal_signals = {"distance": calibration[DISTANCE].to_numpy(dtype=float)}
    test_signals = {"distance": test[DISTANCE].to_numpy(dtype=float)}
    cal_score, test_score = ood_scores(cal_signals, test_signals)
    lower, upper = conformal_intervals(
        "mondrian_ood",
        1 - settings.confidence_level,
        {
            "prediction": calibration["prediction"].to_numpy(dtype=float),
            "target": calibration["target"].to_numpy(dtype=float),
            "ood": cal_score,
        },
        {"prediction": test["prediction"].to_numpy(dtype=float), "ood": test_score},
        min_group_size=settings.min_bin_size,
        n_ood_bins=settings.n_ood_bins,
    )
    uncertain = test_score > flag_threshold(cal_score, settings.flag_quantile)
    return {
        "lower": np.clip(lower, *clip),
        "upper": np.clip(upper, *clip),
        "ood_score": test_score,
        "uncertain": uncertain,
        "reason": np.where(uncertain, ood_reasons(cal_signals, test_signals), ""),
    }


def conformalize_folds(
    predictions: pd.DataFrame,
    holdout: pd.DataFrame | None,
    settings: FoldConformalSettings,
    clip: tuple[float, float],
) -> pd.DataFrame:
    """``predictions`` with ``lower, upper, ood_score, uncertain, reason, interval_method`` (its
    ``distance`` column dropped), row order kept (index reset).

    Both tables hold ``split, fold, model, sample_id, target, prediction, distance``: ``predictions`` the
    test rows of every fold, ``holdout`` the grouped-holdout calibration rows of the folds that need them
    (:func:`folds_needing_holdout`), predicted by the model refit without them. A fold with holdout rows
    is calibrated on them, any other on its split's other folds.
    """
    predictions = predictions.reset_index(drop=True)
    holdout_by_fold = (
        {key: rows for key, rows in holdout.groupby(["split", "fold", "model"], sort=False)}
        if holdout is not None and len(holdout)
        else {}
    )
    calibrated = []
    for (split, model), rows in predictions.groupby(["split", "model"], sort=False):
        for fold, test in rows.groupby("fold", sort=False):
            calibration = holdout_by_fold.get((split, fold, model))
            method = GROUPED_HOLDOUT
            if calibration is None:
                other_folds = (rows["fold"] != fold) & ~rows["sample_id"].isin(test["sample_id"])
                calibration, method = rows[other_folds], CROSS_FOLD
            if calibration.empty:
                raise ValueError(
                    f"split {split!r} fold {fold}, model {model!r}: no other fold's test rows to calibrate "
                    "its interval on and no grouped-holdout rows given (see folds_needing_holdout)"
                )
            columns = calibrated_columns(calibration, test, settings, clip)
            calibrated.append(test.assign(**columns, interval_method=method))
    return pd.concat(calibrated).loc[predictions.index].drop(columns=DISTANCE)
