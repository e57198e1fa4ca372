"""The design matrix every learning step reads: descriptors, declared process columns and, for a dataset
with a transfer source, the source-domain columns of each sample's composition."""

from __future__ import annotations

import pandas as pd

from matshift.featurizers.process import sample_design_matrix


def design_matrix(
    materials_table: pd.DataFrame, features: pd.DataFrame, source_feature_table: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """``X``, the target and each sample's composition, all indexed by sample_id. Without a source
    table ``X`` is the descriptors and process columns alone."""
    X = sample_design_matrix(materials_table, features)
    table = materials_table.set_index("sample_id")
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
