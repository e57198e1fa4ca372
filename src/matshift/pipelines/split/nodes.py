"""Split: deterministic train/test assignments, saved as data, that keep compositions apart.

A split table is long: one row per (split, fold, role, sample_id). Every split except
``matbench_cv`` is built over unique compositions, so a composition never sits on both sides;
``audit_leakage`` checks that and fails the run otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler

from matshift.audit.near_duplicates import (
    DEFAULT_TOLERANCE,
    RANDOM_SPLITS,
    near_duplicate_fractions,
    near_duplicate_pairs,
    random_split_warnings,
)
from matshift.chemistry.families import contains_any

SPLIT_COLUMNS = ["split", "fold", "fold_name", "role", "sample_id"]


class LeakageError(RuntimeError):
    """An out-of-distribution split put one composition in both train and test."""


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


def fold_frame(
    split: str, fold: int, fold_name: str, table: pd.DataFrame, is_test: np.ndarray, is_train: np.ndarray
) -> pd.DataFrame:
    parts = [
        pd.DataFrame({"role": role, "sample_id": table.loc[mask, "sample_id"].to_numpy()})
        for role, mask in (("train", is_train), ("test", is_test))
    ]
    frame = pd.concat(parts, ignore_index=True)
    frame.insert(0, "fold_name", fold_name)
    frame.insert(0, "fold", fold)
    frame.insert(0, "split", split)
    return frame


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


def make_splits(
    materials_table: pd.DataFrame,
    features: pd.DataFrame,
    validation_summary: dict[str, Any],
    declaration: dict[str, Any],
    split_params: dict[str, Any],
) -> pd.DataFrame:
    """Every split the dataset declares, as one long table."""
    unknown = sorted(set(declaration["splits"]) - set(SPLIT_BUILDERS))
    if unknown:
        raise ValueError(
            f"unknown split(s) {unknown} in parameters_datasets.yml; known: {sorted(SPLIT_BUILDERS)}"
        )
    table = property_rows(materials_table)
    frames = [
        SPLIT_BUILDERS[name](table, features, split_params[name], validation_summary["rows_in"])
        for name in declaration["splits"]
    ]
    if not frames:
        return pd.DataFrame(columns=SPLIT_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def audit_leakage(
    materials_table: pd.DataFrame,
    splits: pd.DataFrame,
    dataset: str,
    tolerance: float = DEFAULT_TOLERANCE,
    claim_split: str | None = None,
    random_splits: tuple[str, ...] = RANDOM_SPLITS,
) -> dict[str, Any]:
    """Compositions on both sides of a fold. Fatal for OOD splits; reported for the fixed matbench_cv.

    Every fold also reports the share of test compositions with a near-duplicate in training (same
    elements, every fraction within ``tolerance``), and random splits get a warning entry.
    """
    composition_of = materials_table.set_index("sample_id")["composition"]
    pairs = near_duplicate_pairs(materials_table["composition"], tolerance)
    report: dict[str, Any] = {}
    leaks = []
    near_by_split: dict[str, list[float]] = {}
    for (split, fold, fold_name), rows in splits.groupby(["split", "fold", "fold_name"], sort=False):
        train = set(composition_of.loc[rows.loc[rows["role"] == "train", "sample_id"]])
        test_compositions = composition_of.loc[rows.loc[rows["role"] == "test", "sample_id"]]
        shared = sorted(train.intersection(test_compositions))
        entry = {
            "fold_name": fold_name,
            "n_train": int((rows["role"] == "train").sum()),
            "n_test": int(len(test_compositions)),
            "test_rows_with_composition_in_train": int(test_compositions.isin(shared).sum()),
            "shared_compositions": shared[:50],
            **near_duplicate_fractions(pairs, train, test_compositions),
        }
        near_by_split.setdefault(split, []).append(entry["near_duplicate_fraction_compositions"])
        report.setdefault(split, {})[str(fold)] = entry
        if shared and split != "matbench_cv":
            leaks.append(
                f"{split} fold {fold} ({fold_name}): {len(shared)} composition(s), e.g. {shared[:5]}"
            )
    if leaks:
        raise LeakageError(f"{dataset}: compositions in both train and test: " + "; ".join(leaks))
    if "matbench_cv" in report:
        report["matbench_cv_cross_fold_duplicates"] = sum(
            fold["test_rows_with_composition_in_train"] for fold in report["matbench_cv"].values()
        )
    mean_near = {split: float(np.mean(values)) for split, values in near_by_split.items()}
    report["near_duplicates"] = {
        "tolerance": tolerance,
        "mean_fraction_of_test_compositions": mean_near,
        "warnings": random_split_warnings(mean_near, random_splits, claim_split),
    }
    return report
