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
from matshift.models.registry import build_estimator
from matshift.splits import scored_folds
from matshift.transfer.source import ALL_SOURCE, source_features_minus_test
from matshift.transfer.strategies import USES_SOURCE_ENTRIES
from matshift.uncertainty.fold_conformal import (
    FoldConformalSettings,
    calibrated_folds,
    conformalize_folds,
    model_fold_rows,
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
    folds = calibrated_folds(scored_folds(splits, dataset), X, composition, settings)
    predictions, holdout = [], []
    for fold in folds:
        split, fold_number, _ = fold.key
        variants = [("", X, {b: models[ALL_SOURCE] for b, models in source_models.items()}, strategies)]
        if split == "matbench_cv":
            fold_sources = {b: models[fold_number] for b, models in source_models.items()}
            minus_test = [s for s in strategies if s in USES_SOURCE_ENTRIES]
            design = mp_minus_test_design_matrix(
                materials_table,
                features,
                source_polymorphs,
                source_models,
                source_folds,
                fold_number,
                fold.test_ids,
            )
            variants.append((SOURCE_MINUS_TEST_SUFFIX, design, fold_sources, minus_test))
        for suffix, design, sources, names in variants:
            for name in names:
                params = transfer_params["strategy_params"].get(name, {})

                def fit_predict(fit_ids, query_ids, name=name, design=design, sources=sources, params=params):
                    model = build_estimator("transfer", name, params, clip=clip, source=sources)
                    model.fit(design.loc[fit_ids], y.loc[fit_ids].to_numpy(), groups=composition.loc[fit_ids])
                    return model, model.predict(design.loc[query_ids])

                _, rows, held_out = model_fold_rows(fold, name + suffix, fit_predict, table, clip)
                predictions.append(rows)
                if held_out is not None:
                    holdout.append(held_out)
    return conformalize_folds(
        pd.concat(predictions, ignore_index=True),
        pd.concat(holdout) if holdout else None,
        settings,
        clip,
    )
