"""Hand-checked Stoichiometry and ValenceOrbital values, and the package-level API."""

from __future__ import annotations

import numpy as np
import pytest

from matshift.chemistry.formula import FormulaError
from matshift.featurizers import (
    Stoichiometry,
    ValenceOrbital,
    build_composition_matrix,
    feature_sources,
    featurize_compositions,
)


def test_stoichiometry_fe2o3() -> None:
    featurizer = Stoichiometry()
    assert featurizer.feature_labels() == ["0-norm", "2-norm", "3-norm", "5-norm", "7-norm", "10-norm"]
    row = featurizer.transform(build_composition_matrix(["Fe2O3"]))[0]
    expected = [2] + [(0.4**p + 0.6**p) ** (1 / p) for p in (2, 3, 5, 7, 10)]
    np.testing.assert_allclose(row, expected, rtol=1e-14)


def test_valence_orbital_nacl() -> None:
    featurizer = ValenceOrbital()
    assert featurizer.feature_labels()[0] == "avg s valence electrons"
    assert featurizer.feature_labels()[-1] == "frac f valence electrons"
    row = featurizer.transform(build_composition_matrix(["NaCl"]))[0]
    # Na: 3s1; Cl: 3s2 3p5 -> 4 valence electrons on average.
    np.testing.assert_allclose(row, [1.5, 2.5, 0, 0, 1.5 / 4, 2.5 / 4, 0, 0], atol=1e-15)


def test_featurize_compositions_deduplicates_and_keeps_order() -> None:
    features = featurize_compositions(["NaCl", "Fe2O3", "NaCl", "MgO"])
    assert list(features.index) == ["NaCl", "Fe2O3", "MgO"]
    assert features.shape == (3, 6 + 132 + 8)
    assert (features.dtypes == np.float64).all()
    assert features.loc["NaCl", "MagpieData mean Number"] == 14


def test_unparseable_formula() -> None:
    with pytest.raises(FormulaError):
        featurize_compositions(["NaCl", "Xx2O"])
    features = featurize_compositions(["NaCl", "Xx2O", "MgO"], errors="nan")
    assert features.loc["Xx2O"].isna().all()
    assert not features.loc[["NaCl", "MgO"]].isna().any().any()


def test_single_string_rejected() -> None:
    with pytest.raises(TypeError):
        featurize_compositions("NaCl")


def test_feature_sources_cover_every_feature() -> None:
    sources = feature_sources()
    features = featurize_compositions(["NaCl"])
    assert list(sources["feature"]) == list(features.columns)
    assert list(sources.columns) == [
        "feature",
        "featurizer",
        "elemental_property",
        "statistic",
        "data_source",
        "citation",
    ]
    magpie = sources.set_index("feature").loc["MagpieData avg_dev GSbandgap"]
    assert (magpie["featurizer"], magpie["elemental_property"], magpie["statistic"]) == (
        "ElementProperty",
        "GSbandgap",
        "avg_dev",
    )
    assert sources["data_source"].str.len().gt(0).all()
    assert sources["citation"].str.contains("Ward").all()
