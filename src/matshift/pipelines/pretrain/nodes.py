"""Pretrain: source-domain models (CatBoost and the MLP backbone) on the source dataset's labels.

Besides the model on every source composition (``all``), one model per target ``matbench_cv`` fold k is
trained without that fold's test compositions (and the source compositions hashed to fold k). Those
fold models give every target composition a source prediction from a model that never saw it
(cross-fitting: training and test rows alike), and they are the pretraining set "MP without the fold's
test compositions" the protocol reports. One more model per pair of folds (j, k), trained without
both, rebuilds every source column of fold k's ``__mp_minus_test`` variant from models that never saw
a test composition of fold k (nested cross-fitting; see :func:`source_features_minus_test`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from matshift.models.mlp import MLPRegressor
from matshift.transfer.source import (
    cross_fitted_predictions,
    fold_models,
    lookup_features,
    minus_test_fold_models,
    pair_key,
    polymorph_statistics,
    source_fold_assignment,
    tested_compositions,
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
    materials_table: pd.DataFrame,
    splits: pd.DataFrame,
    transfer_params: dict[str, Any],
) -> dict[str, dict[Any, Any]]:
    """``{"catboost": {"all": m, 0: m, ..., (0, 1): m, ...}, "mlp": {...}}`` on median source labels.

    Fold model k never sees a composition tested in target fold k (a duplicate tested in two folds
    is held out of both); the pair model (j, k) sees neither fold.
    """
    X = source_features.loc[source_polymorphs.index]
    y = source_polymorphs["label"].to_numpy(dtype=float)
    fold = source_folds["source_fold"].reindex(source_polymorphs.index).to_numpy()
    tested = tested_compositions(materials_table, splits)
    n_folds = transfer_params["n_folds"]
    held_out = {
        k: (fold == k) | source_polymorphs.index.isin(list(tested.get(k, ()))) for k in range(n_folds)
    }
    subsets: dict[Any, np.ndarray] = {ALL_SOURCE: np.ones(len(X), dtype=bool)}
    subsets.update({k: ~held_out[k] for k in range(n_folds)})
    subsets.update(
        {pair_key(j, k): ~(held_out[j] | held_out[k]) for j in range(n_folds) for k in range(j + 1, n_folds)}
    )
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


def _source_columns(
    compositions: pd.Index,
    features: pd.DataFrame,
    source_polymorphs: pd.DataFrame,
    models: dict[str, dict[int, Any]],
    folds: pd.Series,
) -> pd.DataFrame:
    """Lookup columns and cross-fitted outputs of the given fold models (one dict per backbone)."""
    catboost = cross_fitted_predictions(compositions, features, models["catboost"], folds, _predict_catboost)
    # Disagreement between the fold models: the source model's (epistemic) uncertainty.
    X = features.loc[compositions]
    spread = np.std([m.predict(X) for m in models["catboost"].values()], axis=0)
    catboost["source_model_catboost_std"] = spread
    mlp = cross_fitted_predictions(compositions, features, models["mlp"], folds, _predict_mlp)
    return pd.concat([lookup_features(compositions, source_polymorphs), catboost, mlp], axis=1)


def _target_compositions(materials_table: pd.DataFrame) -> pd.Index:
    return pd.Index(pd.unique(materials_table["composition"]), name="composition")


def source_features_for_target(
    materials_table: pd.DataFrame,
    features: pd.DataFrame,
    source_polymorphs: pd.DataFrame,
    source_models: dict[str, dict[Any, Any]],
    source_folds: pd.DataFrame,
) -> pd.DataFrame:
    """Per target composition: looked-up source values and cross-fitted source-model outputs."""
    models = {backbone: fold_models(per_fold) for backbone, per_fold in source_models.items()}
    compositions = _target_compositions(materials_table)
    return _source_columns(compositions, features, source_polymorphs, models, source_folds["source_fold"])


def source_features_minus_test(
    materials_table: pd.DataFrame,
    features: pd.DataFrame,
    source_polymorphs: pd.DataFrame,
    source_models: dict[str, dict[Any, Any]],
    source_folds: pd.DataFrame,
    fold: int,
    test_compositions: pd.Index,
) -> pd.DataFrame:
    """The source columns of :func:`source_features_for_target` as if the source had no entry for
    ``test_compositions``, for every row (training rows included).

    Lookups of those compositions are missing; every source-model column (predictions and their
    spread) comes from fold models that never saw them (:func:`minus_test_fold_models`), and the test
    compositions, no longer in the source, get the mean of those models as any composition absent
    from the source does. Nothing here depends on a test composition's source label.
    """
    models = {backbone: minus_test_fold_models(models, fold) for backbone, models in source_models.items()}
    return _source_columns(
        _target_compositions(materials_table),
        features,
        source_polymorphs.drop(index=test_compositions, errors="ignore"),
        models,
        source_folds["source_fold"].drop(index=test_compositions, errors="ignore"),
    )
