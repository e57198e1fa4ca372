"""Pretrain: source-domain models (CatBoost and the MLP backbone) on the source dataset's labels.

Besides the model on every source composition (``all``), one model per target ``matbench_cv`` fold is
trained without that fold's test compositions. Those fold models give every target composition a
source prediction from a model that never saw it (cross-fitting: training and test rows alike), and
they are the pretraining set "MP without the fold's test compositions" the protocol reports.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from matshift.models.mlp import MLPRegressor
from matshift.transfer.source import (
    cross_fitted_predictions,
    lookup_features,
    polymorph_statistics,
    source_fold_assignment,
)

ALL_SOURCE = "all"


def summarise_source(source_table: pd.DataFrame) -> pd.DataFrame:
    """Polymorph statistics per source composition (the label is the median; see transfer.source)."""
    return polymorph_statistics(source_table)


def assign_source_folds(
    source_polymorphs: pd.DataFrame,
    materials_table: pd.DataFrame,
    splits: pd.DataFrame,
    transfer_params: dict[str, Any],
) -> pd.DataFrame:
    folds = source_fold_assignment(
        source_polymorphs.index, materials_table, splits, transfer_params["n_folds"]
    )
    return folds.to_frame()


def _catboost(params: dict[str, Any]):
    from catboost import CatBoostRegressor

    return CatBoostRegressor(**params)


def pretrain_source_models(
    source_polymorphs: pd.DataFrame,
    source_features: pd.DataFrame,
    source_folds: pd.DataFrame,
    transfer_params: dict[str, Any],
) -> dict[str, dict[Any, Any]]:
    """``{"catboost": {"all": model, 0: model, ...}, "mlp": {...}}`` trained on median source labels."""
    X = source_features.loc[source_polymorphs.index]
    y = source_polymorphs["label"].to_numpy(dtype=float)
    fold = source_folds["source_fold"].reindex(source_polymorphs.index).to_numpy()
    subsets = {ALL_SOURCE: np.ones(len(X), dtype=bool)}
    subsets.update({k: fold != k for k in range(transfer_params["n_folds"])})
    builders = {
        "catboost": lambda: _catboost(transfer_params["source_catboost"]),
        "mlp": lambda: MLPRegressor(**transfer_params["source_mlp"]),
    }
    return {
        backbone: {name: build().fit(X[rows], y[rows]) for name, rows in subsets.items()}
        for backbone, build in builders.items()
    }


def _predict_catboost(model: Any, X: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"source_model_catboost": model.predict(X)}, index=X.index)


def _predict_mlp(model: Any, X: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"source_model_mlp": model.predict(X)}, index=X.index)


def source_features_for_target(
    materials_table: pd.DataFrame,
    features: pd.DataFrame,
    source_polymorphs: pd.DataFrame,
    source_models: dict[str, dict[Any, Any]],
    source_folds: pd.DataFrame,
) -> pd.DataFrame:
    """Per target composition: looked-up source values and cross-fitted source-model outputs."""
    compositions = pd.Index(pd.unique(materials_table["composition"]), name="composition")
    folds = source_folds["source_fold"]
    fold_catboost = {k: m for k, m in source_models["catboost"].items() if k != ALL_SOURCE}
    fold_mlp = {k: m for k, m in source_models["mlp"].items() if k != ALL_SOURCE}
    catboost = cross_fitted_predictions(compositions, features, fold_catboost, folds, _predict_catboost)
    # Disagreement between the fold models: the source model's (epistemic) uncertainty.
    X = features.loc[compositions]
    catboost["source_model_catboost_std"] = np.std([m.predict(X) for m in fold_catboost.values()], axis=0)
    mlp = cross_fitted_predictions(compositions, features, fold_mlp, folds, _predict_mlp)
    return pd.concat([lookup_features(compositions, source_polymorphs), catboost, mlp], axis=1)
