"""Pretrain: source-domain models (CatBoost and the MLP backbone) on the source dataset's labels.

Besides the model on every source composition (``all``), one model per target ``matbench_cv`` fold k is
trained without that fold's test compositions (and the source compositions hashed to fold k). Those
fold models give every target composition a source prediction from a model that never saw it
(cross-fitting: training and test rows alike), and they are the pretraining set "MP without the fold's
test compositions" the protocol reports. One more model per pair of folds (j, k), trained without
both, rebuilds every source column of fold k's ``__mp_minus_test`` variant from models that never saw
a test composition of fold k (nested cross-fitting; see
:func:`matshift.transfer.source.source_features_minus_test`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from matshift.models.mlp import MLPRegressor
from matshift.transfer.source import (
    ALL_SOURCE,
    pair_key,
    polymorph_statistics,
    source_features_for_target,
    source_fold_assignment,
    tested_compositions,
)

# the stage's nodes (source_features_for_target is also how a plant batch gets its source columns)
__all__ = ["assign_source_folds", "pretrain_source_models", "source_features_for_target", "summarise_source"]


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
