"""Train: fit every declared model on every split and fold, and predict the fold's test rows with a 90%
interval, an OOD score and the ``uncertain`` flag (the robust stage's prediction contract)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from matshift.models import build_model
from matshift.models.design import model_inputs
from matshift.splits import scored_folds
from matshift.uncertainty.fold_conformal import (
    FoldConformalSettings,
    calibrated_folds,
    conformalize_folds,
    model_fold_rows,
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
    folds = calibrated_folds(scored_folds(splits, dataset), X, table["composition"], settings)
    models: dict[str, Any] = {}
    predictions, holdout = [], []
    for fold in folds:
        split, fold_number, _ = fold.key
        for name in declaration["models"]:

            def fit_predict(fit_ids, query_ids, name=name):
                model = build_model(name, train_params["models"].get(name))
                model.fit(X.loc[fit_ids], y.loc[fit_ids].to_numpy())
                return model, model.predict(X.loc[query_ids])

            model, rows, held_out = model_fold_rows(fold, name, fit_predict, table, valid_range)
            models[f"{split}/{fold_number}/{name}"] = model
            predictions.append(rows)
            if held_out is not None:
                holdout.append(held_out)
    return models, conformalize_folds(
        pd.concat(predictions, ignore_index=True),
        pd.concat(holdout) if holdout else None,
        settings,
        valid_range,
    )
