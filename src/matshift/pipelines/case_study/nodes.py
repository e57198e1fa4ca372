"""Case studies: any domain module of ``matshift.casestudies`` cleaned, featurized, split, modelled and
evaluated the way the band gaps are, with the same prediction table and metric keys.

Per fold, the training rows are split (grouped by the declared ``leakage_key``) into *fit* rows and
*calibration* rows, exactly as the robust stage does; every model — ``dummy``, ``erm``, the physics-
informed models and the robust models — learns on the fit rows, so their errors compare like with like,
and each gets a 90% interval calibrated on the calibration rows (conformal per OOD-score bin for the
baselines and physics models, the configured method for robust models). The out-of-distribution score and the
``uncertain`` flag describe a test row, not a model: the robust stage computes them once per fold and
the evaluate stage attaches them to every model's rows, so ``flag_auroc`` is comparable across models.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import has_fit_parameter

from matshift.audit.leakage import LeakageError
from matshift.audit.shortcuts import ShortcutThresholds, audit_shortcuts
from matshift.casestudies import case_study_module
from matshift.models import build_estimator
from matshift.models.predictions import fold_predictions
from matshift.robust.fold_scoring import calibration_split, robust_fold_predictions_in_target_units
from matshift.splits import split_folds
from matshift.uncertainty.fold_conformal import FoldConformalSettings, conformalize_folds, held_out_distance
from matshift.validation.quarantine import DataQualityError

QUARANTINE_COLUMNS = ["source_row", "column", "value", "reason"]
REQUIRED_COLUMNS = ("sample_id", "source_row", "target", "group")
FLAG_COLUMNS = ["ood_score", "uncertain", "reason"]
_EXAMPLES = 5  # source rows quoted in an error message


def _module(declaration: dict[str, Any]):
    return case_study_module(declaration["case_study"])


def _clip(declaration: dict[str, Any]) -> tuple[float, float]:
    return declaration["target"]["min"], declaration["target"]["max"]


@contextmanager
def _torch_threads(n_threads: int | None) -> Iterator[None]:
    """Torch's thread count for a block: small networks on a few hundred rows run faster on one
    thread than on several that compete with CatBoost's."""
    import torch

    previous = torch.get_num_threads()
    if n_threads:
        torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _leakage_key(table: pd.DataFrame, declaration: dict[str, Any]) -> pd.Series:
    """What must never sit on both sides of a fold (``leakage_key``, default the sample itself)."""
    column = declaration.get("leakage_key") or "sample_id"
    return pd.Series(table[column].astype(str).to_numpy(), index=table["sample_id"].to_numpy(), name=column)


def clean_case_study(
    raw: pd.DataFrame, declaration: dict[str, Any], dataset: str
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """(accepted table, quarantine, validation summary); fails if the counts do not reconcile or the
    accepted table breaks its expectations."""
    # the domain module numbers rows itself (0-based data row); the file's line numbers are dropped
    raw = raw.drop(columns="source_row", errors="ignore").reset_index(drop=True)
    accepted, quarantine = _module(declaration).clean(raw, declaration)
    quarantine = quarantine[QUARANTINE_COLUMNS].astype({"column": str, "value": str, "reason": str})
    missing = [column for column in REQUIRED_COLUMNS if column not in accepted]
    if missing:
        raise DataQualityError(f"{dataset}: the cleaned table lacks the contract's columns {missing}")
    quarantined = int(quarantine["source_row"].nunique())
    overlap = set(accepted["source_row"]) & set(quarantine["source_row"])
    reconciled = len(raw) == len(accepted) + quarantined and not overlap
    if not reconciled:
        raise DataQualityError(
            f"{dataset}: {len(raw)} raw rows != {len(accepted)} accepted + {quarantined} quarantined"
            + (f"; rows both accepted and quarantined: {sorted(overlap)[:_EXAMPLES]}" if overlap else "")
        )
    gx_result = check_accepted_table(accepted, declaration, dataset)
    summary = {
        "dataset": dataset,
        "case_study": declaration["case_study"],
        "rows_in": len(raw),
        "accepted": len(accepted),
        "quarantined": quarantined,
        "bad_fraction": quarantined / len(raw) if len(raw) else 0.0,
        "reasons": {k: int(v) for k, v in quarantine.groupby("reason")["source_row"].nunique().items()},
        "reconciled": reconciled,
        "expectations": gx_result,
    }
    return accepted, quarantine, summary


def accepted_table_expectations(declaration: dict[str, Any]) -> list[Any]:
    """Great Expectations of every case study's accepted table (the contract, plus the target range)."""
    import great_expectations.expectations as gxe

    target = declaration["target"]
    return [
        *(gxe.ExpectColumnToExist(column=column) for column in REQUIRED_COLUMNS),
        gxe.ExpectColumnValuesToBeUnique(column="sample_id"),
        gxe.ExpectColumnValuesToBeUnique(column="source_row"),
        *(gxe.ExpectColumnValuesToNotBeNull(column=column) for column in REQUIRED_COLUMNS),
        gxe.ExpectColumnValuesToBeBetween(column="target", min_value=target["min"], max_value=target["max"]),
    ]


def check_accepted_table(accepted: pd.DataFrame, declaration: dict[str, Any], dataset: str) -> dict[str, Any]:
    """Run :func:`accepted_table_expectations` in an ephemeral GX context; raise naming what failed."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas(dataset)
        .add_dataframe_asset("accepted")
        .add_batch_definition_whole_dataframe("all")
    )
    suite = context.suites.add(gx.ExpectationSuite(name=f"{dataset}_accepted"))
    for expectation in accepted_table_expectations(declaration):
        suite.add_expectation(expectation)
    result = batch.get_batch(batch_parameters={"dataframe": accepted}).validate(suite)
    failed = [r.expectation_config.type for r in result.results if not r.success]
    if failed:
        raise DataQualityError(f"{dataset}: the accepted table fails the expectations {failed}")
    return {"success": True, "evaluated": len(result.results)}


def featurize_case_study(table: pd.DataFrame, declaration: dict[str, Any], dataset: str) -> pd.DataFrame:
    """The module's numeric features, one row per accepted sample, in table order."""
    features = _module(declaration).featurize(table, declaration.get("features") or {})
    if "target" in features.columns:
        raise ValueError(f"{dataset}: featurize returned the target as a feature")
    if not features.index.equals(pd.Index(table["sample_id"])):
        raise ValueError(f"{dataset}: features must be indexed by the accepted table's sample_id, in order")
    features.index.name = "sample_id"
    return features.astype(float).replace([np.inf, -np.inf], np.nan)


def split_case_study(
    table: pd.DataFrame, declaration: dict[str, Any], split_params: dict[str, Any]
) -> pd.DataFrame:
    params = {name: split_params.get(name) or {} for name in declaration["splits"]}
    return _module(declaration).make_splits(table, {"splits": declaration["splits"], **params})


def audit_case_study_leakage(
    table: pd.DataFrame, splits: pd.DataFrame, declaration: dict[str, Any], dataset: str
) -> dict[str, Any]:
    """Per fold: rows on each side, rows left out, and no ``leakage_key`` value on both sides.

    ``n_left_out_sharing_test_key`` counts the rows on neither side whose key is a test row's: the train
    rows a module dropped for sharing a test composition, plus rows outside the split's design that
    happen to share it (e.g. a composition's other processing routes in ``process_shift``)."""
    key = _leakage_key(table, declaration)
    folds, leaks = [], []
    for split, fold, fold_name, train_ids, test_ids in split_folds(splits):
        test_keys = set(key.loc[test_ids])
        shared = test_keys & set(key.loc[train_ids])
        # rows neither trained on nor tested, e.g. train rows dropped for sharing a test composition
        unused = key.drop(index=np.r_[train_ids, test_ids])
        folds.append(
            {
                "split": split,
                "fold": int(fold),
                "fold_name": fold_name,
                "n_train": len(train_ids),
                "n_test": len(test_ids),
                "n_left_out": len(unused),
                "n_left_out_sharing_test_key": int(unused.isin(test_keys).sum()),
                "shared_keys": len(shared),
            }
        )
        if shared:
            leaks.append(f"{split}/{fold_name}: {len(shared)} (e.g. {sorted(shared)[:3]})")
    if leaks:
        raise LeakageError(
            f"{dataset}: {declaration.get('leakage_key', 'sample_id')} values on both sides of a fold: "
            + "; ".join(leaks)
        )
    return {"dataset": dataset, "leakage_key": declaration.get("leakage_key", "sample_id"), "folds": folds}


def _model_factories(declaration: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """name -> unfitted estimator of the one registry: the baselines and the domain module's physics
    models (each takes ``fit(X, y, groups=)`` and passes the groups on where the model early-stops)."""
    module = _module(declaration)  # importing it registers its physics models
    factories = {
        name: (lambda n=name: build_estimator("baseline", n, params["models"].get(n)))
        for name in declaration["models"]
    }
    for name in declaration.get("physics_models") or []:
        if name not in module.PHYSICS_MODELS:  # another domain's physics model would misread the columns
            raise KeyError(f"{name!r}: not among {module.__name__}'s {list(module.PHYSICS_MODELS)}")
        factories[name] = lambda n=name: build_estimator("physics", n, params["physics_models"].get(n))
    return factories


def train_case_study(
    table: pd.DataFrame,
    features: pd.DataFrame,
    splits: pd.DataFrame,
    declaration: dict[str, Any],
    params: dict[str, Any],
) -> pd.DataFrame:
    """Baselines and physics-informed models: fit rows, 90% intervals and OOD flags calibrated on the
    calibration rows (:mod:`matshift.uncertainty.fold_conformal`, ``grouped_holdout``), test predictions."""
    robust = params["robust"]
    settings = FoldConformalSettings.from_robust_params(robust)
    indexed = table.set_index("sample_id")
    y = indexed["target"]
    key = _leakage_key(table, declaration)
    clip = _clip(declaration)
    rows, calibration_rows = [], []
    for split, fold, fold_name, train_ids, test_ids in split_folds(splits):
        fit_ids, cal_ids = calibration_split(
            train_ids, key, robust["calibration_fraction"], robust["random_state"]
        )
        distance = held_out_distance(features, fit_ids, test_ids, settings)
        cal_distance = held_out_distance(features, fit_ids, cal_ids, settings)
        for name, factory in _model_factories(declaration, params).items():
            model = factory()
            # a model that early-stops holds out whole leakage-key groups, as the splits do
            grouped = {"groups": key.loc[fit_ids].to_numpy()} if has_fit_parameter(model, "groups") else {}
            model.fit(features.loc[fit_ids], y.loc[fit_ids].to_numpy(), **grouped)
            fold_key = (split, fold, fold_name)
            test_prediction, cal_prediction = (
                model.predict(features.loc[test_ids]),
                model.predict(features.loc[cal_ids]),
            )
            rows.append(
                fold_predictions(fold_key, name, test_ids, indexed, test_prediction, clip).assign(
                    distance=distance
                )
            )
            calibration_rows.append(
                fold_predictions(fold_key, name, cal_ids, indexed, cal_prediction, clip).assign(
                    distance=cal_distance
                )
            )
    return conformalize_folds(pd.concat(rows, ignore_index=True), pd.concat(calibration_rows), settings, clip)


def robust_case_study(
    table: pd.DataFrame,
    features: pd.DataFrame,
    splits: pd.DataFrame,
    declaration: dict[str, Any],
    params: dict[str, Any],
) -> pd.DataFrame:
    """Every robust model on the plain features (the case studies have no transfer source).

    The robust MLPs regress the raw target; for targets of hundreds of HV or MPa they learn
    ``(target - offset) / scale`` (declared ``target.learn_as``: constants, not fitted, so no test label
    leaks into the scaling) and predictions, intervals and spreads are mapped back.
    """
    indexed = table.set_index("sample_id")
    with _torch_threads(params.get("torch_threads")):
        return robust_fold_predictions_in_target_units(
            features,
            indexed["target"],
            indexed["group"],
            _leakage_key(table, declaration),
            splits,
            declaration,
            {**params["robust"], "max_fit_rows": declaration.get("robust_max_fit_rows")},
        )


def collect_case_study_predictions(
    predictions: pd.DataFrame, robust_predictions: pd.DataFrame
) -> pd.DataFrame:
    """Every model's predictions in one table, each row with its fold's OOD score and flag."""
    keys = ["split", "fold", "sample_id"]
    flags = robust_predictions[keys + FLAG_COLUMNS].drop_duplicates(subset=keys)
    with_flags = predictions.drop(columns=FLAG_COLUMNS, errors="ignore").merge(flags, on=keys, how="left")
    return pd.concat([with_flags, robust_predictions], ignore_index=True)


def audit_case_study_shortcuts(
    table: pd.DataFrame, features: pd.DataFrame, declaration: dict[str, Any], audit_params: dict[str, Any]
) -> dict[str, Any]:
    """The Clever-Hans audit over the domain module's metadata columns (source paper, year...): can they
    stand in for the descriptors? Folds keep the leakage key (e.g. a composition) on one side."""
    params = audit_params["shortcuts"]
    present = [c for c in _module(declaration).METADATA_COLUMNS if c in table.columns]
    report = audit_shortcuts(
        features.loc[table["sample_id"]],
        table["target"].to_numpy(),
        table[present],
        groups=_leakage_key(table, declaration).to_numpy(),
        model_factory=lambda: build_estimator("baseline", "erm", audit_params["model"]),
        thresholds=ShortcutThresholds(**params["thresholds"]),
        n_splits=params["n_splits"],
        max_classes=params["max_classes"],
        fail_on_shortcut=params["fail_on_shortcut"],
    )
    return {"shortcuts_audit": {"metadata_columns": present, **report}}
