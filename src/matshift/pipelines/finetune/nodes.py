"""Fine-tune: every transfer strategy on every split and fold of the target dataset.

On ``matbench_cv`` each strategy that reads a source column or model also runs a second time with the
fold's test compositions removed from the source (key suffix ``__mp_minus_test``): every source column
of every row — looked-up DFT values, source-model predictions and their spread — is rebuilt without
the test compositions' entries, and the source models are fold models that never saw them. The
difference between the two shows how much of the gain comes from compositions the source already
contains.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from matshift.models.design import transfer_design_matrix
from matshift.models.predictions import fold_predictions
from matshift.splits import scored_folds
from matshift.transfer.source import ALL_SOURCE, source_features_minus_test
from matshift.transfer.strategies import USES_SOURCE_ENTRIES, build_strategy
from matshift.uncertainty.fold_conformal import (
    FoldConformalSettings,
    conformalize_folds,
    folds_needing_holdout,
    held_out_distance,
    holdout_split,
)

SOURCE_MINUS_TEST_SUFFIX = "__mp_minus_test"


def mp_minus_test_design_matrix(
    materials_table: pd.DataFrame,
    features: pd.DataFrame,
    source_polymorphs: pd.DataFrame,
    source_models: dict[str, dict[Any, Any]],
    source_folds: pd.DataFrame,
    fold: int,
    test_ids: np.ndarray,
) -> pd.DataFrame:
    """The design matrix of fold ``fold``'s ``__mp_minus_test`` variant: no column of any row carries
    information from a source entry of the fold's test compositions."""
    composition = materials_table.set_index("sample_id")["composition"]
    test_compositions = pd.Index(pd.unique(composition.loc[test_ids]))
    minus_test = source_features_minus_test(
        materials_table, features, source_polymorphs, source_models, source_folds, fold, test_compositions
    )
    return transfer_design_matrix(materials_table, features, minus_test)[0]


def finetune_and_predict(
    materials_table: pd.DataFrame,
    features: pd.DataFrame,
    source_feature_table: pd.DataFrame,
    splits: pd.DataFrame,
    source_polymorphs: pd.DataFrame,
    source_models: dict[str, dict[Any, Any]],
    source_folds: pd.DataFrame,
    declaration: dict[str, Any],
    transfer_params: dict[str, Any],
    robust_params: dict[str, Any],
    dataset: str = "dataset",
) -> pd.DataFrame:
    """Test-set predictions of every strategy (and source variant) on every split and fold, each with a
    90% interval, an OOD score and the ``uncertain`` flag calibrated on the split's other folds
    (:mod:`matshift.uncertainty.fold_conformal`; a split of one fold refits each strategy on a grouped
    holdout of its training rows)."""
    X, y, composition = transfer_design_matrix(materials_table, features, source_feature_table)
    table = materials_table.set_index("sample_id")
    clip = (declaration["target"]["min"], declaration["target"]["max"])
    settings = FoldConformalSettings.from_robust_params(robust_params)
    strategies = transfer_params["strategies"]
    folds = scored_folds(splits, dataset)
    need_holdout = folds_needing_holdout((split, fold, test_ids) for split, fold, _, _, test_ids in folds)
    predictions, holdout = [], []
    for split, fold, fold_name, train_ids, test_ids in folds:
        fold_key = (split, fold, fold_name)
        distance = held_out_distance(X, train_ids, test_ids, settings)
        if (split, fold) in need_holdout:
            fit_ids, cal_ids = holdout_split(train_ids, composition, settings)
            cal_distance = held_out_distance(X, fit_ids, cal_ids, settings)
        variants = [("", X, {b: models[ALL_SOURCE] for b, models in source_models.items()}, strategies)]
        if split == "matbench_cv":
            fold_sources = {b: models[fold] for b, models in source_models.items()}
            minus_test = [s for s in strategies if s in USES_SOURCE_ENTRIES]
            design = mp_minus_test_design_matrix(
                materials_table, features, source_polymorphs, source_models, source_folds, fold, test_ids
            )
            variants.append((SOURCE_MINUS_TEST_SUFFIX, design, fold_sources, minus_test))
        for suffix, design, sources, names in variants:
            for name in names:
                params = transfer_params["strategy_params"].get(name, {})
                model = build_strategy(name, sources, params, clip)
                model.fit(
                    design.loc[train_ids], y.loc[train_ids].to_numpy(), groups=composition.loc[train_ids]
                )
                prediction = model.predict(design.loc[test_ids])
                predictions.append(
                    fold_predictions(fold_key, name + suffix, test_ids, table, prediction, clip).assign(
                        distance=distance
                    )
                )
                if (split, fold) in need_holdout:  # the one extra fit: no other fold to calibrate on
                    refit = build_strategy(name, sources, params, clip)
                    refit.fit(design.loc[fit_ids], y.loc[fit_ids].to_numpy(), groups=composition.loc[fit_ids])
                    calibration = refit.predict(design.loc[cal_ids])
                    holdout.append(
                        fold_predictions(fold_key, name + suffix, cal_ids, table, calibration, clip).assign(
                            distance=cal_distance
                        )
                    )
    return conformalize_folds(
        pd.concat(predictions, ignore_index=True),
        pd.concat(holdout) if holdout else None,
        settings,
        clip,
    )
