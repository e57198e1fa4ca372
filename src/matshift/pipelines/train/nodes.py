"""Train: fit every declared model on every split and fold, and predict the fold's test rows with a 90%
interval, an OOD score and the ``uncertain`` flag (the robust stage's prediction contract)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from matshift.featurizers.process import sample_design_matrix
from matshift.models import build_model
from matshift.uncertainty.fold_conformal import (
    FoldConformalSettings,
    conformalize_folds,
    folds_needing_holdout,
    held_out_distance,
    holdout_split,
)

logger = logging.getLogger(__name__)


def model_inputs(materials_table: pd.DataFrame, features: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Descriptor matrix (+ the declared process columns) and target, both indexed by sample_id.

    Every stage that learns (train, finetune, robust, audit, champion) builds its inputs here, so the
    process columns reach every model (``matshift.featurizers.process``).
    """
    X = sample_design_matrix(materials_table, features)
    return X, materials_table.set_index("sample_id")["target"]


def split_folds(splits: pd.DataFrame) -> Iterator[tuple[str, int, str, np.ndarray, np.ndarray]]:
    """``(split, fold, fold_name, train sample ids, test sample ids)`` for every fold of every split."""
    for (split, fold, fold_name), rows in splits.groupby(["split", "fold", "fold_name"], sort=False):
        train_ids = rows.loc[rows["role"] == "train", "sample_id"].to_numpy()
        test_ids = rows.loc[rows["role"] == "test", "sample_id"].to_numpy()
        yield split, fold, fold_name, train_ids, test_ids


def fold_predictions(
    fold: tuple[str, int, str],
    model: str,
    test_ids: np.ndarray,
    table: pd.DataFrame,
    prediction: np.ndarray,
    valid_range: tuple[float, float],
) -> pd.DataFrame:
    """The long prediction table's rows of one model on one fold's test set.

    ``table`` is indexed by sample_id with ``group`` and ``target``; predictions outside the declared
    physical range (e.g. a negative band gap) are clipped to it.
    """
    split, fold_number, fold_name = fold
    return pd.DataFrame(
        {
            "split": split,
            "fold": fold_number,
            "fold_name": fold_name,
            "model": model,
            "sample_id": test_ids,
            "group": table.loc[test_ids, "group"].to_numpy(),
            "target": table.loc[test_ids, "target"].to_numpy(),
            "prediction": np.clip(np.asarray(prediction, dtype=float), *valid_range),
        }
    )


def train_and_predict(
    materials_table: pd.DataFrame,
    features: pd.DataFrame,
    splits: pd.DataFrame,
    declaration: dict[str, Any],
    train_params: dict[str, Any],
    robust_params: dict[str, Any],
    dataset: str = "dataset",
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Fitted models keyed ``split/fold/model`` and the long table of test-set predictions, each with a
    90% interval, an OOD score and the ``uncertain`` flag, calibrated on the split's other folds
    (:mod:`matshift.uncertainty.fold_conformal`; a split of one fold refits each model on a grouped
    holdout of its training rows).

    A fold without training or test rows is skipped with a warning naming dataset, split and fold.
    """
    X, y = model_inputs(materials_table, features)
    table = materials_table.set_index("sample_id")
    valid_range = (declaration["target"]["min"], declaration["target"]["max"])
    settings = FoldConformalSettings.from_robust_params(robust_params)
    folds = scored_folds(splits, dataset)
    need_holdout = folds_needing_holdout((split, fold, test_ids) for split, fold, _, _, test_ids in folds)
    models: dict[str, Any] = {}
    predictions, holdout = [], []
    for split, fold, fold_name, train_ids, test_ids in folds:
        fold_key = (split, fold, fold_name)
        distance = held_out_distance(X, train_ids, test_ids, settings)
        if (split, fold) in need_holdout:
            fit_ids, cal_ids = holdout_split(train_ids, table["composition"], settings)
            cal_distance = held_out_distance(X, fit_ids, cal_ids, settings)
        for name in declaration["models"]:
            model = build_model(name, train_params["models"].get(name))
            model.fit(X.loc[train_ids], y.loc[train_ids].to_numpy())
            models[f"{split}/{fold}/{name}"] = model
            prediction = model.predict(X.loc[test_ids])
            predictions.append(
                fold_predictions(fold_key, name, test_ids, table, prediction, valid_range).assign(
                    distance=distance
                )
            )
            if (split, fold) in need_holdout:  # the one case of an extra fit: no other fold to calibrate on
                refit = build_model(name, train_params["models"].get(name))
                refit.fit(X.loc[fit_ids], y.loc[fit_ids].to_numpy())
                calibration = refit.predict(X.loc[cal_ids])
                holdout.append(
                    fold_predictions(fold_key, name, cal_ids, table, calibration, valid_range).assign(
                        distance=cal_distance
                    )
                )
    return models, conformalize_folds(
        pd.concat(predictions, ignore_index=True),
        pd.concat(holdout) if holdout else None,
        settings,
        valid_range,
    )


def scored_folds(
    splits: pd.DataFrame, dataset: str = "dataset"
) -> list[tuple[str, int, str, np.ndarray, np.ndarray]]:
    """The folds of :func:`split_folds` with both training and test rows; any other is skipped with a
    warning naming dataset, split and fold. Raises when no fold is left."""
    folds = []
    for split, fold, fold_name, train_ids, test_ids in split_folds(splits):
        if len(train_ids) == 0 or len(test_ids) == 0:
            logger.warning(
                "%s: split %s fold %s (%s) has %d training and %d test rows: skipped",
                dataset,
                split,
                fold,
                fold_name,
                len(train_ids),
                len(test_ids),
            )
            continue
        folds.append((split, fold, fold_name, train_ids, test_ids))
    if not folds:
        raise ValueError(f"{dataset}: no split has a fold with both training and test rows")
    return folds
