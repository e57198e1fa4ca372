"""Scoring a plant batch with the champion: prediction, 90% interval, ``uncertain`` and why.

The champion (:class:`~matshift.monitoring.champion_model.ChampionModel`) was fitted by the evaluate
stage on every labelled row of the dataset and is loaded from the MLflow registry (alias ``champion``)
or its local artefact. Source columns for batch compositions come from the pretrained source models as
for the training rows (a composition MP knows gets the fold model that never saw it, any other the
mean of the fold models).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from matshift.models.design import design_matrix
from matshift.monitoring.champion_model import ChampionModel
from matshift.transfer.source import source_features_for_target

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


def batch_design_matrix(
    batch_table: pd.DataFrame,
    batch_features: pd.DataFrame,
    source_polymorphs: pd.DataFrame | None,
    source_models: dict[str, dict[Any, Any]] | None,
    source_folds: pd.DataFrame | None,
    batch_source: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """The batch's design matrix, target (NaN where unlabelled) and compositions: descriptors, process
    columns and, when the dataset has a transfer source (``source_models`` not None), source columns.

    ``batch_source``: the source columns (:func:`source_features`) of at least the batch's compositions,
    computed once for every batch of a run; by default computed for this batch."""
    batch_table = batch_table if "target" in batch_table else batch_table.assign(target=np.nan)
    if batch_source is None:  # None again without a transfer source: descriptors and process columns
        batch_source = source_features(
            batch_table, batch_features, source_polymorphs, source_models, source_folds
        )
    return design_matrix(batch_table, batch_features, batch_source)


def source_features(
    batch_table: pd.DataFrame,
    batch_features: pd.DataFrame,
    source_polymorphs: pd.DataFrame | None,
    source_models: dict[str, dict[Any, Any]] | None,
    source_folds: pd.DataFrame | None,
) -> pd.DataFrame | None:
    """Per composition of ``batch_table`` (one batch, or every batch of a run with their features):
    looked-up source values and cross-fitted source-model outputs; None without a transfer source.
    Each is a function of the composition alone, and the fold models cost ~0.15 s a call whatever its
    size, so a run makes one call for all its batches."""
    if source_models is None:
        return None
    return source_features_for_target(
        batch_table, batch_features, source_polymorphs, source_models, source_folds
    )


def score_batch(
    batch_table: pd.DataFrame,
    batch_features: pd.DataFrame,
    source_polymorphs: pd.DataFrame | None,
    source_models: dict[str, dict[Any, Any]] | None,
    source_folds: pd.DataFrame | None,
    champion: ChampionModel,
    batch_source: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per batch sample with ``PREDICTION_COLUMNS`` (and ``target`` where the batch has one);
    ``batch_source`` as for :func:`batch_design_matrix`."""
    X_batch, y_batch, batch_composition = batch_design_matrix(
        batch_table, batch_features, source_polymorphs, source_models, source_folds, batch_source
    )
    batch_group = batch_table.set_index("sample_id")["group"].loc[X_batch.index].to_numpy()
    # its fits, products and neighbour searches are small: BLAS and OpenMP threads only contend
    # (5-10x slower on a busy 2-core machine)
    with threadpool_limits(limits=1):
        predicted = champion.predict_with_uncertainty(X_batch, batch_group)
    scored = pd.DataFrame(
        {
            "sample_id": X_batch.index,
            "composition": batch_composition.to_numpy(),
            **{k: v for k, v in predicted.items() if v is not None},
        }
    )
    if y_batch.notna().any():
        scored["target"] = y_batch.to_numpy()
    return scored[[c for c in [*PREDICTION_COLUMNS, "std", "target"] if c in scored]]
