"""Featurize: physical descriptors computed once per unique composition."""

from __future__ import annotations

import pandas as pd

from matshift.featurizers import featurize_compositions


def featurize_materials(materials_table: pd.DataFrame) -> pd.DataFrame:
    """Descriptor table indexed by composition (one row per unique composition)."""
    compositions = pd.unique(materials_table["composition"].dropna())
    features = featurize_compositions(list(compositions))
    features.index.name = "composition"
    return features
