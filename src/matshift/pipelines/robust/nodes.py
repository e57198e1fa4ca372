"""Robust training with honest uncertainty: every robust model on every split and fold, each
prediction with a 90% interval, an out-of-distribution score and an ``uncertain`` flag.

How one fold is fitted, calibrated and flagged: :mod:`matshift.robust.fold_scoring`. All models read
the transfer design matrix (descriptors + looked-up and cross-fitted source columns), so what they add
is measured beyond transfer learning.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from matshift.models.design import model_inputs, sample_groups, transfer_design_matrix
from matshift.models.threads import torch_threads
from matshift.robust.fold_scoring import (
    robust_fold_predictions,
    robust_fold_predictions_in_target_units,
    with_declared_shift_variants,
)
from matshift.transfer.strategies import without_source_inputs


def robust_train_and_predict(
    materials_table: pd.DataFrame,
    features: pd.DataFrame,
    source_feature_table: pd.DataFrame,
    splits: pd.DataFrame,
    declaration: dict[str, Any],
    robust_params: dict[str, Any],
) -> pd.DataFrame:
    """Test-set predictions with ``prediction, lower, upper, std, ood_score, uncertain`` per model."""
    X, y, composition = transfer_design_matrix(materials_table, features, source_feature_table)
    table = materials_table.set_index("sample_id")
    clip = (declaration["target"]["min"], declaration["target"]["max"])
    params = with_declared_shift_variants(robust_params, declaration)
    return robust_fold_predictions(X, y, table["group"], composition, splits, clip, params, table)


def robust_on_descriptors(
    materials_table: pd.DataFrame,
    features: pd.DataFrame,
    splits: pd.DataFrame,
    declaration: dict[str, Any],
    robust_params: dict[str, Any],
) -> pd.DataFrame:
    """``robust_train_and_predict`` for a dataset without a transfer source: the same models on the
    descriptors and declared process columns (or a domain module's per-sample features), every model
    told not to read source-domain columns. Folds' calibration and early stopping group by the dataset's
    leakage key; ``robust_max_fit_rows`` (declaration) caps each fold's fit rows for dense series."""
    X, y = model_inputs(materials_table, features)
    table = materials_table.set_index("sample_id")
    params = with_declared_shift_variants(without_source_inputs(robust_params), declaration)
    if declaration.get("robust_max_fit_rows"):
        params = {**params, "max_fit_rows": declaration["robust_max_fit_rows"]}
    with torch_threads(robust_params.get("torch_threads")):
        return robust_fold_predictions_in_target_units(
            X,
            y,
            table["group"],
            sample_groups(materials_table, declaration),
            splits,
            declaration,
            params,
            table,
        )
