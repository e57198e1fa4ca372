"""Vectorised composition featurizers equal to matminer's Magpie set.

``featurize_compositions`` parses each distinct formula once, builds one sparse composition matrix
and computes, with numpy over all rows at once:

- ``Stoichiometry()``: ``0-norm`` ... ``10-norm``;
- ``ElementProperty.from_preset("magpie")``: 22 Magpie properties x 6 statistics;
- ``ValenceOrbital()``: ``avg``/``frac`` ``s,p,d,f`` valence electrons.

Labels and values follow matminer 0.10.1 (``feature_sources()`` names each feature's data source).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from matshift.featurizers.composition_matrix import (
    CompositionFeaturizer,
    CompositionMatrix,
    build_composition_matrix,
)
from matshift.featurizers.magpie import MAGPIE_PROPERTIES, MAGPIE_STATS, ElementProperty, load_magpie_table
from matshift.featurizers.stoichiometry import Stoichiometry
from matshift.featurizers.valence_orbital import ValenceOrbital

__all__ = [
    "MAGPIE_PROPERTIES",
    "MAGPIE_STATS",
    "CompositionFeaturizer",
    "CompositionMatrix",
    "ElementProperty",
    "Stoichiometry",
    "ValenceOrbital",
    "build_composition_matrix",
    "default_featurizers",
    "feature_sources",
    "featurize_compositions",
    "featurize_materials",
    "load_magpie_table",
]


def default_featurizers(impute_nan: bool = True) -> list[CompositionFeaturizer]:
    """The Magpie composition set in its usual matminer order."""
    return [Stoichiometry(), ElementProperty.from_preset("magpie", impute_nan=impute_nan), ValenceOrbital()]


def featurize_compositions(
    formulas: Sequence[str],
    errors: Literal["raise", "nan"] = "raise",
    impute_nan: bool = True,
    featurizers: Sequence[CompositionFeaturizer] | None = None,
) -> pd.DataFrame:
    """Magpie-set features of each distinct formula.

    The index is the distinct formulas in order of first appearance (named ``formula``); columns are
    the features of all featurizers, float64. ``errors="nan"`` gives an all-NaN row for a formula that
    does not parse instead of raising ``FormulaError``. ``impute_nan`` (matminer's default) replaces
    missing elemental values by the property mean; it applies to ``ElementProperty`` only, since the
    valence tables have no gaps.
    """
    featurizers = default_featurizers(impute_nan) if featurizers is None else list(featurizers)
    matrix = build_composition_matrix(formulas, errors=errors)
    labels = [label for featurizer in featurizers for label in featurizer.feature_labels()]
    values = (
        np.hstack([featurizer.transform(matrix) for featurizer in featurizers])
        if featurizers
        else np.empty((matrix.n_rows, 0))
    )
    index = pd.Index(matrix.formulas, name="formula", dtype=object)
    return pd.DataFrame(values, index=index, columns=pd.Index(labels, dtype=object), dtype=np.float64)


def featurize_materials(materials_table: pd.DataFrame) -> pd.DataFrame:
    """Descriptor table indexed by composition (one row per unique composition)."""
    compositions = pd.unique(materials_table["composition"].dropna())
    features = featurize_compositions(list(compositions))
    features.index.name = "composition"
    return features


def feature_sources(featurizers: Sequence[CompositionFeaturizer] | None = None) -> pd.DataFrame:
    """One row per feature label: featurizer, elemental property, statistic, data source, citation."""
    featurizers = default_featurizers() if featurizers is None else list(featurizers)
    records = [record for featurizer in featurizers for record in featurizer.feature_sources()]
    columns = ["feature", "featurizer", "elemental_property", "statistic", "data_source", "citation"]
    return pd.DataFrame.from_records(records, columns=columns)
