"""The design matrix every learning step reads: descriptors, declared process columns and, for a dataset
with a transfer source, the source-domain columns of each sample's composition."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from matshift.featurizers.process import sample_design_matrix

# A domain table's column holding each row's declared leakage key (written by its validate stage)
LEAKAGE_GROUP = "leakage_group"


def design_matrix(
    materials_table: pd.DataFrame, features: pd.DataFrame, source_feature_table: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """``X``, the target and each sample's composition (a domain table: its leakage group), all indexed
    by sample_id. Without a source table ``X`` is the descriptors and process columns alone."""
    X = sample_design_matrix(materials_table, features)
    table = materials_table.set_index("sample_id")
    if LEAKAGE_GROUP in table:  # a domain table: its declared leakage key groups rows, not a formula
        return X, table["target"].loc[X.index], table[LEAKAGE_GROUP].loc[X.index]
    composition = table["composition"]
    if source_feature_table is not None:
        source = source_feature_table.loc[composition].set_axis(X.index).drop(columns="in_source")
        X = pd.concat([X, source], axis=1)
    return X, table["target"].loc[X.index], composition.loc[X.index]


def model_inputs(materials_table: pd.DataFrame, features: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Descriptor matrix (+ the declared process columns) and target, both indexed by sample_id.

    Every stage that learns (train, finetune, robust, audit, champion) builds its inputs here, so the
    process columns reach every model (``matshift.featurizers.process``).
    """
    X, y, _ = design_matrix(materials_table, features)
    return X, y


def transfer_design_matrix(
    materials_table: pd.DataFrame, features: pd.DataFrame, source_feature_table: pd.DataFrame
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Descriptors + source columns per sample, the target, and each sample's composition."""
    return design_matrix(materials_table, features, source_feature_table)


def sample_groups(materials_table: pd.DataFrame, declaration: Mapping[str, Any]) -> pd.Series:
    """What must never sit on both sides of a fold, per sample_id: the declared ``leakage_key`` column
    (an electrolyte's recipe at its temperature, an alloy's composition), else the composition, else the
    sample itself. Folds, calibration holdouts and early stopping all group by it."""
    column = declaration.get("leakage_key") or (
        "composition" if "composition" in materials_table else "sample_id"
    )
    return pd.Series(
        materials_table[column].astype(str).to_numpy(),
        index=materials_table["sample_id"].to_numpy(),
        name=column,
    )
