"""Near-duplicate compositions across a split: same element set, every atomic fraction within a tolerance.

A random split of a composition dataset puts close relatives on both sides (``Fe2O3`` in training,
``Fe0.98O1.5`` in test): its score measures interpolation, not robustness. Pairs are only compared inside
one element set, so the work is a sum of small blocks instead of one n x n comparison.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from matshift.chemistry.formula import element_fractions

# Used when no parameters are given (the split stage); the audit stage reads parameters_audit.yml.
DEFAULT_TOLERANCE = 0.05  # absolute atomic fraction
RANDOM_SPLITS = ("matbench_cv",)  # KFold over rows: compositions' relatives fall on both sides


def fraction_table(compositions: Iterable[str]) -> pd.DataFrame:
    """Unique compositions as rows, elements as columns, atomic fractions (0 where absent)."""
    unique = pd.unique(pd.Series(list(compositions), dtype=object))
    return pd.DataFrame([element_fractions(c) for c in unique], index=unique).fillna(0.0)


def near_duplicate_pairs(compositions: Iterable[str], tolerance: float) -> pd.DataFrame:
    """Every ordered pair ``(composition, neighbour)`` with the same element set and max |fraction diff|
    <= ``tolerance``, each composition paired with itself included."""
    fractions = fraction_table(compositions)
    element_set = (fractions > 0).apply(lambda row: "-".join(row.index[row.to_numpy()]), axis=1)
    pairs = []
    for _, block in fractions.groupby(element_set, sort=False):
        values = block.loc[:, (block > 0).any()].to_numpy()
        distance = np.abs(values[:, None, :] - values[None, :, :]).max(axis=2)
        left, right = np.nonzero(distance <= tolerance + 1e-12)
        pairs.append(pd.DataFrame({"composition": block.index[left], "neighbour": block.index[right]}))
    return pd.concat(pairs, ignore_index=True)


def near_duplicate_fractions(
    pairs: pd.DataFrame, train_compositions: Iterable[str], test_compositions: pd.Series
) -> dict[str, float | int]:
    """Share of test rows and of unique test compositions with a near-duplicate (or the same
    composition) in training, and the share with a near-duplicate that is not the same composition."""
    train = set(train_compositions)
    in_train = pairs["neighbour"].isin(train)
    exact = pairs["composition"] == pairs["neighbour"]
    with_near = set(pairs.loc[in_train, "composition"])
    with_near_only = set(pairs.loc[in_train & ~exact, "composition"])
    unique_test = pd.unique(test_compositions)
    n_unique = max(len(unique_test), 1)
    return {
        "near_duplicate_fraction_rows": float(test_compositions.isin(with_near).mean())
        if len(test_compositions)
        else 0.0,
        "near_duplicate_fraction_compositions": float(np.isin(unique_test, list(with_near)).sum() / n_unique),
        "near_not_exact_fraction_compositions": float(
            np.isin(unique_test, list(with_near_only)).sum() / n_unique
        ),
        "n_test_compositions": len(unique_test),
    }


def random_split_warnings(
    fractions_by_split: dict[str, float], random_splits: Iterable[str], claim_split: str | None
) -> list[str]:
    """Warnings for every random split present (and louder when it is the split robustness is claimed on)."""
    warnings = []
    for split in random_splits:
        if split not in fractions_by_split:
            continue
        share = fractions_by_split[split]
        message = (
            f"{split} is a random split: {share:.1%} of its test compositions have a near-duplicate in "
            "training, so its error measures interpolation; do not use it to claim robustness "
            "(use an out-of-distribution split such as leave_cluster_out)"
        )
        if split == claim_split:
            message = f"robustness is claimed on {split}, a random split. " + message
        warnings.append(message)
    return warnings
