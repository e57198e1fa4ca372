"""Train: fit every declared model on every split and fold, and predict the fold's test rows with a 90%
interval, an OOD score and the ``uncertain`` flag (the robust stage's prediction contract)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.utils.validation import has_fit_parameter

from matshift.models import build_estimator, build_model
from matshift.models.design import model_inputs, sample_groups
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
    The declared ``physics_models`` (a domain module's, e.g. monotone-constrained trees or a VTF law)
    are fitted beside the baselines; a model that early-stops holds out whole leakage groups.
    """
    X, y = model_inputs(materials_table, features)
    table = materials_table.set_index("sample_id")
    groups = sample_groups(materials_table, declaration)
    valid_range = (declaration["target"]["min"], declaration["target"]["max"])
    settings = FoldConformalSettings.from_robust_params(robust_params)
    folds = calibrated_folds(scored_folds(splits, dataset), X, groups, settings)
    factories = model_factories(declaration, train_params)
    models: dict[str, Any] = {}
    predictions, holdout = [], []
    for fold in folds:
        split, fold_number, _ = fold.key
        for name, factory in factories.items():

            def fit_predict(fit_ids, query_ids, factory=factory):
                model = factory()
                grouped = (
                    {"groups": groups.loc[fit_ids].to_numpy()} if has_fit_parameter(model, "groups") else {}
                )
                model.fit(X.loc[fit_ids], y.loc[fit_ids].to_numpy(), **grouped)
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


def model_factories(declaration: dict[str, Any], train_params: dict[str, Any]) -> dict[str, Any]:
    """name -> unfitted estimator: the declared baselines, then the declared physics models (registered
    by the dataset's domain module, whose columns they read)."""
    factories = {
        name: (lambda name=name: build_model(name, train_params["models"].get(name)))
        for name in declaration["models"]
    }
    physics = declaration.get("physics_models") or []
    if physics:
        from matshift.casestudies import case_study_module

        module = case_study_module(declaration["case_study"])  # importing it registers its models
        for name in physics:
            if name not in module.PHYSICS_MODELS:  # another domain's model would misread the columns
                raise KeyError(f"{name!r}: not among {module.__name__}'s {list(module.PHYSICS_MODELS)}")
            params = (train_params.get("physics_models") or {}).get(name)
            factories[name] = lambda name=name, params=params: build_estimator("physics", name, params)
    return factories
