"""The split table: one row per (split, fold, fold_name, role, sample_id), ``role`` train or test.

Split builders write a fold's rows with :func:`fold_frame`; every stage that learns reads them back
fold by fold with :func:`split_folds` (or :func:`scored_folds`, which skips a fold with an empty side).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)


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


def split_folds(splits: pd.DataFrame) -> Iterator[tuple[str, int, str, np.ndarray, np.ndarray]]:
    """``(split, fold, fold_name, train sample ids, test sample ids)`` for every fold of every split."""
    for (split, fold, fold_name), rows in splits.groupby(["split", "fold", "fold_name"], sort=False):
        train_ids = rows.loc[rows["role"] == "train", "sample_id"].to_numpy()
        test_ids = rows.loc[rows["role"] == "test", "sample_id"].to_numpy()
        yield split, fold, fold_name, train_ids, test_ids


def scored_folds(
    splits: pd.DataFrame, dataset: str = "dataset"
) -> list[tuple[str, int, str, np.ndarray, np.ndarray]]:
    """The folds of :func:`split_folds` with both training and test rows; any other is skipped with a
    warning naming dataset, split and fold. Raises when no fold is left."""
    folds = []
    for split, fold, fold_name, train_ids, test_ids in split_folds(splits):
        if len(train_ids) == 0 or len(test_ids) == 0:
            logger.warning(
                "%s: split %s fold %s (%s) has %d training and %d test rows: skipped",
                dataset,
                split,
                fold,
                fold_name,
                len(train_ids),
                len(test_ids),
            )
            continue
        folds.append((split, fold, fold_name, train_ids, test_ids))
    if not folds:
        raise ValueError(f"{dataset}: no split has a fold with both training and test rows")
    return folds
