"""Hand-checked values of the Magpie ElementProperty featurizer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matshift.featurizers import (
    MAGPIE_PROPERTIES,
    MAGPIE_STATS,
    ElementProperty,
    build_composition_matrix,
    load_magpie_table,
)


def magpie(formulas: list[str], impute_nan: bool = True) -> pd.DataFrame:
    featurizer = ElementProperty.from_preset("magpie", impute_nan=impute_nan)
    matrix = build_composition_matrix(formulas)
    return pd.DataFrame(
        featurizer.transform(matrix), index=list(matrix.formulas), columns=featurizer.feature_labels()
    )


def test_labels_are_matminers() -> None:
    labels = ElementProperty.from_preset("magpie").feature_labels()
    assert len(labels) == 22 * 6
    assert labels[:6] == [f"MagpieData {stat} Number" for stat in MAGPIE_STATS]
    assert labels[-1] == "MagpieData mode SpaceGroupNumber"
    assert "MagpieData mean Number" in labels


def test_element_table_is_complete() -> None:
    table = load_magpie_table()
    assert list(table.index) == list(range(1, 104))
    assert table.loc[11, "symbol"] == "Na" and table.loc[11, "Number"] == 11
    assert set(MAGPIE_PROPERTIES) <= set(table.columns)
    # The gaps the featurizer must impute: noble gases have no Pauling electronegativity.
    assert np.isnan(table.loc[2, "Electronegativity"])


def test_nacl_statistics() -> None:
    row = magpie(["NaCl"]).loc["NaCl"]
    assert row["MagpieData mean Number"] == 14
    assert row["MagpieData minimum Number"] == 11
    assert row["MagpieData maximum Number"] == 17
    assert row["MagpieData range Number"] == 6
    assert row["MagpieData avg_dev Number"] == 3
    # Equal amounts tie, and matminer's mode then takes the smallest value.
    assert row["MagpieData mode Number"] == 11


def test_fe2o3_weighted_statistics() -> None:
    row = magpie(["Fe2O3"]).loc["Fe2O3"]
    assert row["MagpieData mean Number"] == pytest.approx((2 * 26 + 3 * 8) / 5)
    assert row["MagpieData avg_dev Number"] == pytest.approx((2 * 10.8 + 3 * 7.2) / 5)
    assert row["MagpieData mode Number"] == 8  # O is the most abundant element


def test_amounts_scale_out() -> None:
    features = magpie(["Fe2O3", "Fe4O6", "Fe0.4O0.6"])
    np.testing.assert_allclose(features.iloc[1], features.iloc[0], rtol=1e-12)
    np.testing.assert_allclose(features.iloc[2], features.iloc[0], rtol=1e-12)


@pytest.mark.parametrize(
    ("formula", "mode"),
    [
        ("Na1.000001Cl", 11),  # amounts within np.isclose's rtol=1e-5: a tie, smallest value wins
        ("NaCl1.000001", 11),
        ("NaCl1.001", 17),  # clearly more Cl
        ("Na3Cl3K3", 11),  # three-way tie
    ],
)
def test_mode_tie_breaking(formula: str, mode: float) -> None:
    assert magpie([formula]).loc[formula, "MagpieData mode Number"] == mode


def test_missing_value_is_imputed_with_property_mean() -> None:
    mean_en = np.nanmean(load_magpie_table()["Electronegativity"].to_numpy())
    row = magpie(["He"]).loc["He"]
    assert row["MagpieData mean Electronegativity"] == pytest.approx(mean_en, rel=1e-15)
    assert not magpie(["HeH"]).isna().any().any()


def test_missing_value_without_imputation_is_nan() -> None:
    features = magpie(["HeH", "HeH2", "He2H"], impute_nan=False)
    for stat in ("minimum", "maximum", "range", "mean", "avg_dev"):
        assert features[f"MagpieData {stat} Electronegativity"].isna().all()
    # mode only sees the most abundant element(s): H alone in HeH2, a tie including He in HeH.
    assert features.loc["HeH2", "MagpieData mode Electronegativity"] == pytest.approx(2.2)
    assert np.isnan(features.loc["HeH", "MagpieData mode Electronegativity"])
    assert np.isnan(features.loc["He2H", "MagpieData mode Electronegativity"])
    # Other properties are unaffected.
    assert features.loc["HeH", "MagpieData mean Number"] == 1.5


def test_unknown_preset_rejected() -> None:
    with pytest.raises(ValueError):
        ElementProperty.from_preset("deml")
