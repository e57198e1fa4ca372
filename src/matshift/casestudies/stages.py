"""What the stage pipelines do for a dataset that names a domain module (``case_study: <module>``):
its cleaning (validate stage), per-sample features (featurize), splits and leakage audit (split), and
the shortcut audit over its metadata columns (audit). Training, robust models, intervals, flags and
metrics are the stage nodes every dataset runs; only the domain's own knowledge lives here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from matshift.audit.leakage import LeakageError
from matshift.audit.shortcuts import ShortcutThresholds, audit_shortcuts
from matshift.casestudies import case_study_module
from matshift.models import build_estimator
from matshift.models.design import LEAKAGE_GROUP, sample_groups
from matshift.splits import split_folds
from matshift.validation.quarantine import DataQualityError

QUARANTINE_COLUMNS = ["source_row", "column", "value", "reason"]
REQUIRED_COLUMNS = ("sample_id", "source_row", "target", "group")
_EXAMPLES = 5  # source rows quoted in an error message


def _module(declaration: dict[str, Any]):
    return case_study_module(declaration["case_study"])


def clean_reconciled(
    raw: pd.DataFrame, declaration: dict[str, Any], where: str, target_required: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """(accepted, quarantine, counts, GX result as JSON) from the domain module's ``clean``: every raw
    row in exactly one of them (else :class:`DataQualityError`), the accepted rows checked by
    :func:`accepted_table_expectations` and given their ``leakage_group``. ``target_required=False``
    (plant batches): a row without a target is accepted, unlabelled."""
    # the domain module numbers rows itself (0-based data row); the file's line numbers are dropped
    raw = raw.drop(columns="source_row", errors="ignore").reset_index(drop=True)
    accepted, quarantine = _module(declaration).clean(raw, declaration, target_required=target_required)
    quarantine = quarantine[QUARANTINE_COLUMNS].astype({"column": str, "value": str, "reason": str})
    missing = [column for column in REQUIRED_COLUMNS if column not in accepted]
    if missing:
        raise DataQualityError(f"{where}: the cleaned table lacks the contract's columns {missing}")
    quarantined = int(quarantine["source_row"].nunique())
    overlap = set(accepted["source_row"]) & set(quarantine["source_row"])
    reconciled = len(raw) == len(accepted) + quarantined and not overlap
    if not reconciled:
        raise DataQualityError(
            f"{where}: {len(raw)} raw rows != {len(accepted)} accepted + {quarantined} quarantined"
            + (f"; rows both accepted and quarantined: {sorted(overlap)[:_EXAMPLES]}" if overlap else "")
        )
    gx_result, gx_json = check_accepted_table(accepted, declaration, where, target_required)
    accepted[LEAKAGE_GROUP] = sample_groups(accepted, declaration).to_numpy()
    counts = {
        "rows_in": len(raw),
        "accepted": len(accepted),
        "quarantined": quarantined,
        "bad_fraction": quarantined / len(raw) if len(raw) else 0.0,
        "reasons": {k: int(v) for k, v in quarantine.groupby("reason")["source_row"].nunique().items()},
        "reconciled": reconciled,
        "expectations": gx_result,
    }
    return accepted, quarantine, counts, gx_json


def clean_domain_table(
    raw: pd.DataFrame, declaration: dict[str, Any], dataset: str
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """(accepted table, quarantine, validation summary, GX result for Data Docs) of the validate stage
    (:func:`clean_reconciled`)."""
    accepted, quarantine, counts, gx_json = clean_reconciled(raw, declaration, dataset)
    summary = {"dataset": dataset, "case_study": declaration["case_study"], **counts}
    return accepted, quarantine, summary, gx_json


def clean_plant_batch(
    raw: pd.DataFrame, declaration: dict[str, Any], where: str, batch: str
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """A plant batch in the raw file's layout, cleaned by the domain module like the training file (the
    target optional): (accepted rows, quarantined rows with the file's line numbers, counts). Sample ids
    are prefixed with the batch so they never collide with a training row's. A batch the module cannot
    read at all (a column missing) raises ``ValueError`` naming the file's problem."""
    target = declaration["target"]["column"]
    raw = raw if target in raw else raw.assign(**{target: ""})
    accepted, quarantine, counts, _ = clean_reconciled(raw, declaration, where, target_required=False)
    accepted["sample_id"] = f"{batch}:" + accepted["sample_id"].astype(str)
    # the file's line numbers (header = line 1), as the quarantine of every other plant batch gives them
    accepted["source_row"] = accepted["source_row"] + 2
    quarantine = quarantine.assign(source_row=quarantine["source_row"] + 2)
    return accepted, quarantine, counts


def accepted_table_expectations(declaration: dict[str, Any], target_required: bool = True) -> list[Any]:
    """Great Expectations of every case study's accepted table (the contract, plus the target range;
    the target may be missing in a plant batch)."""
    import great_expectations.expectations as gxe

    target = declaration["target"]
    not_null = [c for c in REQUIRED_COLUMNS if target_required or c != "target"]
    return [
        *(gxe.ExpectColumnToExist(column=column) for column in REQUIRED_COLUMNS),
        gxe.ExpectColumnValuesToBeUnique(column="sample_id"),
        gxe.ExpectColumnValuesToBeUnique(column="source_row"),
        *(gxe.ExpectColumnValuesToNotBeNull(column=column) for column in not_null),
        gxe.ExpectColumnValuesToBeBetween(column="target", min_value=target["min"], max_value=target["max"]),
    ]


def check_accepted_table(
    accepted: pd.DataFrame, declaration: dict[str, Any], dataset: str, target_required: bool = True
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run :func:`accepted_table_expectations` in an ephemeral GX context; raise naming what failed.
    Returns the summary and the GX result as JSON (rendered as Data Docs by the catalog)."""
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
    for expectation in accepted_table_expectations(declaration, target_required):
        suite.add_expectation(expectation)
    result = batch.get_batch(batch_parameters={"dataframe": accepted}).validate(suite)
    failed = [r.expectation_config.type for r in result.results if not r.success]
    if failed:
        raise DataQualityError(f"{dataset}: the accepted table fails the expectations {failed}")
    return {"success": True, "evaluated": len(result.results)}, result.to_json_dict()


def featurize_domain(table: pd.DataFrame, declaration: dict[str, Any], dataset: str) -> pd.DataFrame:
    """The module's numeric features, one row per accepted sample, in table order."""
    features = _module(declaration).featurize(table, declaration.get("features") or {})
    if "target" in features.columns:
        raise ValueError(f"{dataset}: featurize returned the target as a feature")
    if not features.index.equals(pd.Index(table["sample_id"])):
        raise ValueError(f"{dataset}: features must be indexed by the accepted table's sample_id, in order")
    features.index.name = "sample_id"
    return features.astype(float).replace([np.inf, -np.inf], np.nan)


def split_domain(
    table: pd.DataFrame, declaration: dict[str, Any], split_params: dict[str, Any]
) -> pd.DataFrame:
    params = {name: split_params.get(name) or {} for name in declaration["splits"]}
    return _module(declaration).make_splits(table, {"splits": declaration["splits"], **params})


def audit_domain_leakage(
    table: pd.DataFrame, splits: pd.DataFrame, declaration: dict[str, Any], dataset: str
) -> dict[str, Any]:
    """Per fold: rows on each side, rows left out, and no ``leakage_key`` value on both sides.

    ``n_left_out_sharing_test_key`` counts the rows on neither side whose key is a test row's: the train
    rows a module dropped for sharing a test composition, plus rows outside the split's design that
    happen to share it (e.g. a composition's other processing routes in ``process_shift``)."""
    key = sample_groups(table, declaration)
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


def audit_domain_shortcuts(
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
        groups=sample_groups(table, declaration).to_numpy(),
        model_factory=lambda: build_estimator("baseline", "erm", audit_params["model"]),
        thresholds=ShortcutThresholds(**params["thresholds"]),
        n_splits=params["n_splits"],
        max_classes=params["max_classes"],
        fail_on_shortcut=params["fail_on_shortcut"],
    )
    return {"shortcuts_audit": {"metadata_columns": present, **report}}
