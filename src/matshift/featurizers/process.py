"""Per-sample model inputs: composition descriptors plus the declared process columns.

Descriptors are computed once per composition (``features``, indexed by composition); process columns
(heat-treatment temperature, test type, ...) belong to the measurement, so they come from the materials
table. Numeric process columns are used as floats; a categorical one is one-hot encoded over its declared
categories (``route=cast``, ``route=wrought``), so every fold, every model and scoring see the same columns
whether or not a value occurs. Which columns are process columns: ``matshift.schema.process_feature_columns``.
"""

from __future__ import annotations

import pandas as pd

from matshift.schema import process_feature_columns


def process_feature_matrix(process: pd.DataFrame) -> pd.DataFrame:
    """Numeric process columns as floats, categorical ones one-hot over their declared categories."""
    parts = []
    for name, column in process.items():
        if isinstance(column.dtype, pd.CategoricalDtype):
            parts.append(pd.get_dummies(column, prefix=name, prefix_sep="=").astype(float))
        elif pd.api.types.is_numeric_dtype(column):
            parts.append(column.astype(float).to_frame(name))
        else:
            raise TypeError(
                f"process column {name!r} is {column.dtype}, neither numeric nor categorical: declare "
                "`categories:` for it in parameters_datasets.yml (validation then stores it as categorical)"
            )
    return pd.concat(parts, axis=1)


def descriptor_rows(table: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """The features of each row of ``table``, indexed by its sample_id: looked up by composition, or by
    sample_id where the features are per sample (a domain module's)."""
    key = "sample_id" if features.index.name == "sample_id" else "composition"
    return features.loc[table[key]].set_axis(pd.Index(table["sample_id"], name="sample_id"))


def sample_design_matrix(materials_table: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """Descriptors of each sample's composition (+ its process columns), indexed by sample_id.

    Features indexed by ``sample_id`` (a domain module's featurizer: composition and conditions together,
    e.g. an electrolyte at its temperature) are already per sample and are used as they are."""
    X = descriptor_rows(materials_table, features)
    if features.index.name == "sample_id":
        return X
    table = materials_table.set_index("sample_id")
    process = process_feature_columns(table)
    if process:
        X = pd.concat([X, process_feature_matrix(table[process])], axis=1)
    return X
