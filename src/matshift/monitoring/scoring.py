"""Scoring a plant batch with the champion: prediction, 90% interval, ``uncertain`` and why.

The champion is refitted on every labelled row of the dataset (its robust-stage key names the model
and the interval method), with the batch's inputs as the unlabelled target domain — exactly one fold
of the robust stage, whose per-fold logic this reuses (``predict_with_uncertainty``). Source columns
for batch compositions come from the pretrained source models as for the training rows (a composition
MP knows gets the fold model that never saw it, any other the mean of the fold models).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from matshift.pipelines.finetune.nodes import transfer_design_matrix
from matshift.pipelines.pretrain.nodes import source_features_for_target
from matshift.pipelines.robust.nodes import calibration_split, predict_with_uncertainty

PREDICTION_COLUMNS = [
    "sample_id",
    "composition",
    "prediction",
    "lower",
    "upper",
    "uncertain",
    "reason",
    "ood_score",
]


def score_batch(
    batch_table: pd.DataFrame,
    batch_features: pd.DataFrame,
    training_table: pd.DataFrame,
    training_features: pd.DataFrame,
    training_source_table: pd.DataFrame,
    source_polymorphs: pd.DataFrame,
    source_models: dict[str, dict[Any, Any]],
    source_folds: pd.DataFrame,
    champion: str,
    robust_params: dict[str, Any],
    clip: tuple[float, float],
) -> pd.DataFrame:
    """One row per batch sample with ``PREDICTION_COLUMNS`` (and ``target`` where the batch has one).

    ``training_source_table`` is the pretrain stage's ``source_feature_table`` of the training rows.
    """
    spec = robust_params["reported"].get(champion)
    if spec is None:
        raise KeyError(
            f"champion {champion!r} is not a robust-stage model; known: {sorted(robust_params['reported'])}"
        )
    batch_table = batch_table if "target" in batch_table else batch_table.assign(target=np.nan)
    # the training rows' source columns were saved by the pretrain stage; only the batch needs them made
    X, y, composition = transfer_design_matrix(training_table, training_features, training_source_table)
    group = training_table.set_index("sample_id")["group"]
    batch_source = source_features_for_target(
        batch_table, batch_features, source_polymorphs, source_models, source_folds
    )
    X_batch, y_batch, batch_composition = transfer_design_matrix(batch_table, batch_features, batch_source)
    batch_group = batch_table.set_index("sample_id")["group"]
    fit_ids, cal_ids = calibration_split(
        X.index.to_numpy(), composition, robust_params["calibration_fraction"], robust_params["random_state"]
    )

    def part(ids):
        return {"X": X.loc[ids], "y": y.loc[ids].to_numpy(), "group": group.loc[ids].to_numpy()}

    target = {
        "X": X_batch,
        "y": np.full(len(X_batch), np.nan),
        "group": batch_group.loc[X_batch.index].to_numpy(),
    }
    predicted, _ = predict_with_uncertainty(
        part(fit_ids), part(cal_ids), target, robust_params, clip, models=[spec["model"]]
    )
    scored = pd.DataFrame(
        {
            "sample_id": X_batch.index,
            "composition": batch_composition.to_numpy(),
            **{k: v for k, v in predicted[champion].items() if v is not None},
        }
    )
    if y_batch.notna().any():
        scored["target"] = y_batch.to_numpy()
    return scored[[c for c in [*PREDICTION_COLUMNS, "std", "target"] if c in scored]]
