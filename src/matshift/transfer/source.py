"""The source domain as the target domain sees it: polymorph statistics, looked-up DFT values and
source-model predictions that are out-of-sample for every composition.

Polymorphs: the Materials Project lists one entry per calculated structure, so a composition can
carry several DFT gaps (TiO2: rutile, anatase, brookite...). Without energies we cannot pick the
ground state, so the source *label* of a composition is the **median** over its polymorphs (robust to
one odd structure, and each composition counts once in pretraining however often it was calculated);
the lookup features keep the spread: min, median, max and count.

Source models come per backbone as ``{"all": model, k: model without target fold k, (j, k): model
without folds j and k}``; :func:`source_features_for_target` and :func:`source_features_minus_test` turn
them into the source columns of every target composition.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd

LOOKUP_COLUMNS = ("source_gap_min", "source_gap_median", "source_gap_max", "source_polymorph_count")
ALL_SOURCE = "all"  # key of the source model trained on every source composition


def polymorph_statistics(source_table: pd.DataFrame) -> pd.DataFrame:
    """One row per source composition: median (the pretraining label), min, max and polymorph count."""
    stats = source_table.groupby("composition")["target"].agg(["median", "min", "max", "count"])
    stats.columns = ["label", "source_gap_min", "source_gap_max", "source_polymorph_count"]
    stats["source_gap_median"] = stats["label"]
    return stats


def tested_compositions(target_table: pd.DataFrame, splits: pd.DataFrame) -> dict[int, set[str]]:
    """Compositions measured in each target ``matbench_cv`` test fold (a duplicate may be in several)."""
    tested = splits[(splits["split"] == "matbench_cv") & (splits["role"] == "test")]
    composition_of = target_table.set_index("sample_id")["composition"]
    compositions = composition_of.loc[tested["sample_id"]].to_numpy()
    folds = tested["fold"].to_numpy()
    return {int(fold): set(compositions[folds == fold]) for fold in pd.unique(folds)}


def pair_key(fold_a: int, fold_b: int) -> tuple[int, int]:
    """Key of the source model trained without two folds (nested cross-fitting for ``__mp_minus_test``)."""
    return (min(int(fold_a), int(fold_b)), max(int(fold_a), int(fold_b)))


def source_fold_assignment(
    source_compositions: pd.Index, target_table: pd.DataFrame, splits: pd.DataFrame, n_folds: int
) -> pd.Series:
    """Fold of every source composition, aligned with the target's ``matbench_cv`` test folds.

    A source composition that is tested in target fold k gets fold k, so the source model trained
    without fold k has never seen the DFT gap of any fold-k test composition. Other compositions
    get a fold from a hash of their name (stable across runs and machines).
    """
    tested = splits[(splits["split"] == "matbench_cv") & (splits["role"] == "test")]
    composition_of = target_table.set_index("sample_id")["composition"]
    target_fold = (
        pd.Series(tested["fold"].to_numpy(), index=composition_of.loc[tested["sample_id"]].to_numpy())
        .groupby(level=0)
        .min()  # a composition measured in two folds (Matbench's few duplicates) keeps the first
    )
    hashed = pd.Series(
        [int(hashlib.sha256(c.encode()).hexdigest()[:8], 16) % n_folds for c in source_compositions],
        index=source_compositions,
    )
    return target_fold.reindex(source_compositions).fillna(hashed).astype(int).rename("source_fold")


def lookup_features(compositions: pd.Index, polymorphs: pd.DataFrame) -> pd.DataFrame:
    """Source DFT values of each composition (missing where the source lacks it) and a coverage flag."""
    looked_up = polymorphs.reindex(compositions)[list(LOOKUP_COLUMNS)]
    looked_up["source_polymorph_count"] = looked_up["source_polymorph_count"].fillna(0.0)
    looked_up["in_source"] = looked_up["source_polymorph_count"] > 0
    return looked_up


def fold_models(models: dict) -> dict[int, object]:
    """The single-fold models of one backbone (not the ``all`` model, not the fold-pair models)."""
    return {k: m for k, m in models.items() if isinstance(k, int | np.integer)}


def minus_test_fold_models(models: dict, fold: int) -> dict[int, object]:
    """Fold models of the source without fold ``fold``'s test compositions, for that fold's
    ``__mp_minus_test`` variant: slot ``fold`` is the model without fold ``fold``, slot ``j`` the model
    without folds ``j`` and ``fold``. None of them saw a test composition of ``fold``."""
    n_folds = len(fold_models(models))
    missing = [pair_key(j, fold) for j in range(n_folds) if j != fold and pair_key(j, fold) not in models]
    if missing:
        raise KeyError(
            f"source models lack the fold-pair models {missing} needed by the __mp_minus_test variant "
            f"of matbench_cv fold {fold}; re-run the pretrain pipeline"
        )
    return {j: models[fold] if j == fold else models[pair_key(j, fold)] for j in range(n_folds)}


def cross_fitted_predictions(
    compositions: pd.Index,
    features: pd.DataFrame,
    fold_models: dict[int, object],
    folds: pd.Series,
    predict,
) -> pd.DataFrame:
    """Source-model outputs for target compositions, each from a model that never saw that composition.

    A composition in the source uses the model of its own fold; one absent from the source may use
    any model, and gets the mean over all fold models (the same expectation for train and test rows).
    """
    X = features.loc[compositions]
    outputs = {fold: predict(model, X) for fold, model in fold_models.items()}
    columns = next(iter(outputs.values())).columns
    stacked = np.stack([outputs[fold].to_numpy() for fold in sorted(outputs)])  # fold x row x column
    own_fold = folds.reindex(compositions).to_numpy()
    result = stacked.mean(axis=0)
    for fold_position, fold in enumerate(sorted(outputs)):
        rows = own_fold == fold
        result[rows] = stacked[fold_position, rows]
    return pd.DataFrame(result, index=compositions, columns=columns)


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
