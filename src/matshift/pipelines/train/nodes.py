"""Train: fit every declared model on every split and fold, and predict the fold's test rows with a 90%
interval, an OOD score and the ``uncertain`` flag (the robust stage's prediction contract)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from matshift.models import build_model
from matshift.models.design import model_inputs
from matshift.models.predictions import fold_predictions
from matshift.splits import scored_folds
from matshift.uncertainty.fold_conformal import (
    FoldConformalSettings,
    conformalize_folds,
    folds_needing_holdout,
    held_out_distance,
    holdout_split,
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
