"""The long prediction table every learning stage writes: one row per split, fold, model and test sample."""

from __future__ import annotations

import numpy as np
import pandas as pd


def fold_predictions(
    fold: tuple[str, int, str],
    model: str,
    test_ids: np.ndarray,
    table: pd.DataFrame,
    prediction: np.ndarray,
    valid_range: tuple[float, float],
) -> pd.DataFrame:
    """The long prediction table's rows of one model on one fold's test set.

    ``table`` is indexed by sample_id with ``group`` and ``target``; predictions outside the declared
    physical range (e.g. a negative band gap) are clipped to it.
    """
    split, fold_number, fold_name = fold
    return pd.DataFrame(
        {
            "split": split,
            "fold": fold_number,
            "fold_name": fold_name,
            "model": model,
            "sample_id": test_ids,
            "group": table.loc[test_ids, "group"].to_numpy(),
            "target": table.loc[test_ids, "target"].to_numpy(),
            "prediction": np.clip(np.asarray(prediction, dtype=float), *valid_range),
        }
    )
