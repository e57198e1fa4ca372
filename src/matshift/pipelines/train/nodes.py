"""Train: fit every declared model on every split and fold, and predict the fold's test rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from matshift.models import build_model


def model_inputs(materials_table: pd.DataFrame, features: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Descriptor matrix and target, both indexed by sample_id."""
    table = materials_table.set_index("sample_id")
    X = features.loc[table["composition"]].set_axis(table.index)
    return X, table["target"]


def train_and_predict(
    materials_table: pd.DataFrame,
    features: pd.DataFrame,
    splits: pd.DataFrame,
    declaration: dict[str, Any],
    train_params: dict[str, Any],
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Fitted models keyed ``split/fold/model`` and the long table of test-set predictions."""
    X, y = model_inputs(materials_table, features)
    group = materials_table.set_index("sample_id")["group"]
    models: dict[str, Any] = {}
    predictions = []
    for (split, fold, fold_name), rows in splits.groupby(["split", "fold", "fold_name"], sort=False):
        train_ids = rows.loc[rows["role"] == "train", "sample_id"].to_numpy()
        test_ids = rows.loc[rows["role"] == "test", "sample_id"].to_numpy()
        for name in declaration["models"]:
            model = build_model(name, train_params["models"].get(name))
            model.fit(X.loc[train_ids], y.loc[train_ids].to_numpy())
            models[f"{split}/{fold}/{name}"] = model
            predictions.append(
                pd.DataFrame(
                    {
                        "split": split,
                        "fold": fold,
                        "fold_name": fold_name,
                        "model": name,
                        "sample_id": test_ids,
                        "group": group.loc[test_ids].to_numpy(),
                        "target": y.loc[test_ids].to_numpy(),
                        "prediction": np.asarray(model.predict(X.loc[test_ids]), dtype=float),
                    }
                )
            )
    return models, pd.concat(predictions, ignore_index=True)
