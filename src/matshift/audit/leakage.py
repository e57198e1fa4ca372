"""Leakage of a split table: compositions on both sides of a fold, and near-duplicates across it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from matshift.audit.near_duplicates import (
    DEFAULT_TOLERANCE,
    RANDOM_SPLITS,
    near_duplicate_fractions,
    near_duplicate_pairs,
    random_split_warnings,
)


class LeakageError(RuntimeError):
    """An out-of-distribution split put one composition in both train and test."""


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
