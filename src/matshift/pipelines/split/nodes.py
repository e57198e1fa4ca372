"""Split: deterministic train/test assignments, saved as data, that keep compositions apart.

A split table is long: one row per (split, fold, role, sample_id). Every split except
``matbench_cv`` is built over unique compositions, so a composition never sits on both sides;
``audit_leakage`` checks that and fails the run otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler

from matshift.audit.leakage import LeakageError, audit_leakage
from matshift.casestudies.stages import audit_domain_leakage, split_domain
from matshift.chemistry.families import contains_any
from matshift.declarations import COLUMN_SPLITS, DeclarationError, split_kind_and_column
from matshift.splits import fold_frame

# the stage's nodes (audit_leakage lives with the other audits) and the error the audit raises
__all__ = ["LeakageError", "audit_domain_leakage", "audit_leakage", "make_splits", "split_domain"]

SPLIT_COLUMNS = ["split", "fold", "fold_name", "role", "sample_id"]
logger = logging.getLogger(__name__)


def matbench_cv_splits(table: pd.DataFrame, params: dict[str, Any], n_source_rows: int) -> pd.DataFrame:
    """Matbench's protocol: KFold over the file's rows in order (quarantined rows keep their slot)."""
    kfold = KFold(n_splits=params["n_splits"], shuffle=params["shuffle"], random_state=params["random_state"])
    position = table["source_row"].to_numpy() - 2  # line 2 of the file is row 0
    frames = []
    for fold, (_, test_positions) in enumerate(kfold.split(np.arange(n_source_rows))):
        is_test = np.isin(position, test_positions)
        frames.append(fold_frame("matbench_cv", fold, f"fold_{fold}", table, is_test, ~is_test))
    return pd.concat(frames, ignore_index=True)


def leave_cluster_out_splits(
    table: pd.DataFrame, features: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    """KMeans on standardised descriptors of the unique compositions; each cluster is a test fold."""
    compositions = pd.unique(table["composition"])
    descriptors = features.loc[compositions]
    # Descriptors missing for an element (rare in Magpie) take the column median before clustering.
    filled = descriptors.fillna(descriptors.median()).fillna(0.0)
    standardised = StandardScaler().fit_transform(filled.to_numpy())
    kmeans = KMeans(
        n_clusters=params["n_clusters"], random_state=params["random_state"], n_init=params["n_init"]
    )
    cluster_of = dict(zip(compositions, kmeans.fit_predict(standardised), strict=True))
    cluster = table["composition"].map(cluster_of).to_numpy()
    frames = [
        fold_frame("leave_cluster_out", fold, f"cluster_{fold}", table, cluster == fold, cluster != fold)
        for fold in range(params["n_clusters"])
    ]
    return pd.concat(frames, ignore_index=True)


def element_holdout_splits(table: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """Per element family: test on compositions containing it, train on compositions free of it."""
    compositions = pd.Series(pd.unique(table["composition"]))
    frames = []
    for fold, (family, elements) in enumerate(params["families"].items()):
        holding = set(compositions[compositions.map(lambda c, e=elements: contains_any(c, e))])
        is_test = table["composition"].isin(holding).to_numpy()
        frames.append(fold_frame("element_holdout", fold, family, table, is_test, ~is_test))
    return pd.concat(frames, ignore_index=True)


def target_extrapolation_splits(table: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """Test on the compositions whose median target is in the top (1 - quantile) of compositions."""
    median_target = table.groupby("composition")["target"].median()
    threshold = median_target.quantile(params["quantile"])
    is_test = table["composition"].map(median_target >= threshold).to_numpy(dtype=bool)
    return fold_frame("target_extrapolation", 0, f"target_ge_{threshold:.3g}", table, is_test, ~is_test)


SPLIT_BUILDERS: dict[str, Callable[..., pd.DataFrame]] = {
    "matbench_cv": lambda table, features, params, n_rows: matbench_cv_splits(table, params, n_rows),
    "leave_cluster_out": lambda table, features, params, n_rows: leave_cluster_out_splits(
        table, features, params
    ),
    "element_holdout": lambda table, features, params, n_rows: element_holdout_splits(table, params),
    "target_extrapolation": lambda table, features, params, n_rows: target_extrapolation_splits(
        table, params
    ),
}


def property_rows(materials_table: pd.DataFrame) -> pd.DataFrame:
    """Rows the property model learns from: failed experiments (no target) and censored targets stay in
    the materials table for the feasibility classifier and the selection-bias audit, not in the folds."""
    keep = materials_table["target"].notna()
    if "target_censored" in materials_table:
        keep &= ~materials_table["target_censored"].fillna(False).astype(bool)
    return materials_table[keep]


def declared_column(table: pd.DataFrame, column: str, dataset: str, split: str) -> pd.Series:
    """A split's declared column: ``group``, a process column or a metadata column."""
    if column in table.columns and column not in ("sample_id", "target", "composition"):
        return table[column]
    known = [c for c in table.columns if c not in ("sample_id", "target", "composition")]
    raise DeclarationError(
        f"{dataset}: split {split} names column {column!r}, which the materials table does not have; "
        f"declare it under process_columns or metadata_columns (available: {known})"
    )


def _train_without_test_compositions(
    table: pd.DataFrame, is_test: np.ndarray, is_train: np.ndarray
) -> np.ndarray:
    # a composition measured in two groups (or years) would otherwise sit on both sides of the fold
    shared = table["composition"].isin(set(table.loc[is_test, "composition"])).to_numpy()
    return is_train & ~shared


def _fold_per_value(split: str, table: pd.DataFrame, values: pd.Series) -> pd.DataFrame:
    """Each distinct value is a test fold once; training is every other value (rows without one: neither)."""
    labels = values.astype("string")
    given = labels.notna().to_numpy()
    frames = []
    for fold, value in enumerate(sorted(labels.dropna().unique())):
        is_test = (labels == value).fillna(False).to_numpy(dtype=bool)
        is_train = _train_without_test_compositions(table, is_test, given & ~is_test)
        frames.append(fold_frame(split, fold, str(value), table, is_test, is_train))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=SPLIT_COLUMNS)


def leave_group_out_splits(table: pd.DataFrame, column: pd.Series, split: str) -> pd.DataFrame:
    """Leave one value of a declared column out per fold (a lab, a processing route, a salt...)."""
    return _fold_per_value(split, table, column)


def predefined_splits(table: pd.DataFrame, column: pd.Series, split: str) -> pd.DataFrame:
    """A column that says where each row goes: ``train`` / ``test`` (one fold), or fold labels (each
    label is the test fold once). Training rows sharing a composition with the test rows are left out."""
    labels = column.astype("string").str.strip().str.lower()
    if set(labels.dropna().unique()) <= {"train", "test"}:
        is_test = (labels == "test").fillna(False).to_numpy(dtype=bool)
        is_train = _train_without_test_compositions(
            table, is_test, (labels == "train").fillna(False).to_numpy(dtype=bool)
        )
        return fold_frame(split, 0, "predefined", table, is_test, is_train)
    return _fold_per_value(split, table, column)


def time_splits(
    table: pd.DataFrame, column: pd.Series, split: str, params: dict[str, Any], dataset: str
) -> pd.DataFrame:
    """Train on rows before ``test_from``, test on the rest. Without ``test_from`` the cutoff is the
    ``1 - test_fraction`` quantile of the rows' times. Numbers (years) or dates."""
    times = pd.to_numeric(column, errors="coerce")
    if times.isna().all() and column.notna().any():
        times = pd.to_datetime(column, errors="coerce")
    if times.notna().sum() == 0:
        raise DeclarationError(f"{dataset}: split {split}: column {column.name!r} holds no number or date")
    cutoff = params.get("test_from")
    if cutoff is None:
        cutoff = times.quantile(1 - params["test_fraction"])
    elif pd.api.types.is_datetime64_any_dtype(times):
        cutoff = pd.Timestamp(cutoff)
    is_test = (times >= cutoff).fillna(False).to_numpy(dtype=bool)
    is_train = _train_without_test_compositions(
        table, is_test, (times < cutoff).fillna(False).to_numpy(dtype=bool)
    )
    label = int(cutoff) if isinstance(cutoff, float) and cutoff.is_integer() else cutoff
    return fold_frame(split, 0, f"from_{label}", table, is_test, is_train)


def column_split(
    kind: str,
    column: str,
    options: dict[str, Any],
    table: pd.DataFrame,
    split_params: dict[str, Any],
    dataset: str,
) -> pd.DataFrame:
    """A split on a declared column, named ``<kind>_<column>`` (e.g. ``leave_group_out_lab``)."""
    split = f"{kind}_{column}"
    values = declared_column(table, column, dataset, split)
    if kind == "leave_group_out":
        return leave_group_out_splits(table, values, split)
    if kind == "predefined":
        return predefined_splits(table, values, split)
    return time_splits(table, values, split, {**split_params.get("time", {}), **options}, dataset)


def drop_empty_folds(splits: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Folds without a training or a test row cannot be fitted or scored: skipped, with a warning."""
    keep = []
    for (split, fold, fold_name), rows in splits.groupby(["split", "fold", "fold_name"], sort=False):
        counts = rows["role"].value_counts()
        empty = [role for role in ("train", "test") if counts.get(role, 0) == 0]
        if empty:
            logger.warning(
                "%s: split %s fold %s (%s) has no %s rows: skipped",
                dataset,
                split,
                fold,
                fold_name,
                " or ".join(empty),
            )
            continue
        keep.append(rows)
    return pd.concat(keep, ignore_index=True) if keep else pd.DataFrame(columns=SPLIT_COLUMNS)


def make_splits(
    materials_table: pd.DataFrame,
    features: pd.DataFrame,
    validation_summary: dict[str, Any],
    declaration: dict[str, Any],
    split_params: dict[str, Any],
    dataset: str = "dataset",
) -> pd.DataFrame:
    """Every split the dataset declares, as one long table (folds with an empty side are skipped)."""
    entries = [split_kind_and_column(dataset, entry) for entry in declaration["splits"]]
    unknown = sorted(kind for kind, column, _ in entries if column is None and kind not in SPLIT_BUILDERS)
    if unknown:
        raise ValueError(
            f"{dataset}: unknown split(s) {unknown} in parameters_datasets.yml; known: "
            f"{sorted(SPLIT_BUILDERS)} and {{<kind>: <column>}} for kind in {list(COLUMN_SPLITS)}"
        )
    table = property_rows(materials_table)
    frames = [
        SPLIT_BUILDERS[kind](table, features, split_params[kind], validation_summary["rows_in"])
        if column is None
        else column_split(kind, column, options, table, split_params, dataset)
        for kind, column, options in entries
    ]
    if not frames:
        return pd.DataFrame(columns=SPLIT_COLUMNS)
    return drop_empty_folds(pd.concat(frames, ignore_index=True), dataset)
