"""Each declaration form of parameters_datasets.yml on a small fixture (issue 11)."""

import numpy as np
import pandas as pd
import pytest

from matshift.chemistry.formula import element_fractions
from matshift.declarations import DeclarationError, check_declaration
from matshift.ingest.staging import stage_materials_table


def _alloy_raw() -> pd.DataFrame:
    raw = pd.DataFrame(
        {
            "Cr": ["18", "", "abc", "60", "0"],
            "Ni": ["8", "10", "1", "50", "0"],
            "YS": ["250", "300", "1", "2", "3"],
            "THT": ["900", "950", "1000", "900", "900"],
            "THt": ["1", "2", "3", "4", "5"],
            "route": ["wrought", "cast", "cast", "cast", "cast"],
        }
    )
    raw["source_row"] = range(2, len(raw) + 2)
    return raw


def _alloy_declaration(basis: str = "wt%", balance: str | None = "Fe") -> dict:
    composition = {"basis": basis, "columns": {"Cr": "Cr", "Ni": "Ni"}}
    if balance:
        composition["balance"] = balance
    return {
        "source": {"filepath": "data/01_raw/steel/steel.csv"},
        "columns": {"target": "YS"},
        "composition": composition,
        "target": {"name": "yield_strength", "unit": "MPa", "min": 0.0, "max": 5000.0},
        "domain": "experiment",
        "group": {"column": "route"},
        "process_columns": {
            "THT": {"column": "THT", "unit": "K", "min": 300, "max": 1500},
            "THt": {"column": "THt", "unit": "h", "min": 0, "max": 100},
            "route": {"column": "route", "categories": ["cast", "wrought"]},
        },
        "splits": [{"leave_group_out": "route"}],
        "models": ["dummy"],
    }


def test_weight_percent_with_a_balance_element_becomes_atomic_fractions():
    staged = stage_materials_table(_alloy_raw(), _alloy_declaration(), "steel")
    # 18 Cr, 8 Ni, 74 Fe in wt% -> moles / atomic weight, normalised
    moles = {"Cr": 18 / 51.9961, "Ni": 8 / 58.6934, "Fe": 74 / 55.845}
    total = sum(moles.values())
    fractions = element_fractions(staged["formula"].iloc[0])
    for element, amount in moles.items():
        assert fractions[element] == pytest.approx(amount / total, abs=1e-5)
    # empty cell = element absent: 10 Ni + 90 Fe
    assert set(element_fractions(staged["formula"].iloc[1])) == {"Ni", "Fe"}
    errors = staged["composition_error"].fillna("").tolist()
    assert errors[2] == "unparseable_formula" and "Cr=abc" in staged["formula"].iloc[2]
    assert errors[3] == "unparseable_formula"  # 110 wt% leaves no balance
    assert errors[4] == "" and staged["composition"].iloc[4] == "Fe"  # all balance


def test_atomic_percent_without_balance_is_normalised():
    staged = stage_materials_table(_alloy_raw(), _alloy_declaration("at%", None), "steel")
    assert element_fractions(staged["formula"].iloc[0]) == pytest.approx({"Cr": 18 / 26, "Ni": 8 / 26})
    assert staged["composition_error"].iloc[4] == "missing_formula"


def test_mole_fraction_basis():
    raw = _alloy_raw()
    raw["Cr"], raw["Ni"] = ["0.2"] * 5, ["0.3"] * 5
    staged = stage_materials_table(raw, _alloy_declaration("mole_fraction", "Fe"), "steel")
    assert element_fractions(staged["formula"].iloc[0]) == pytest.approx({"Cr": 0.2, "Ni": 0.3, "Fe": 0.5})


def test_process_columns_numeric_and_categorical():
    staged = stage_materials_table(_alloy_raw(), _alloy_declaration(), "steel")
    assert staged["THT"].tolist() == [900, 950, 1000, 900, 900]
    assert staged["THt"].tolist() == [1, 2, 3, 4, 5]
    assert staged["route"].tolist() == ["wrought", "cast", "cast", "cast", "cast"]


def test_missing_composition_column_names_dataset_file_and_column():
    declaration = _alloy_declaration()
    declaration["composition"]["columns"]["Mo"] = "Mo (wt%)"
    with pytest.raises(DeclarationError, match=r"steel: source data/01_raw/steel/steel.csv.*Mo \(wt%\)"):
        stage_materials_table(_alloy_raw(), declaration, "steel")


def test_no_composition_declared_is_an_error_not_a_key_error():
    declaration = _alloy_declaration()
    del declaration["composition"]
    with pytest.raises(DeclarationError, match="steel: declare the composition once"):
        stage_materials_table(_alloy_raw(), declaration, "steel")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"proces_columns": {}}, r"steel: unknown key\(s\) \['proces_columns'\]"),
        ({"target": {"name": "x", "unit": "MPa", "min": 0, "max": 1, "scale": 2}}, r"steel.target: unknown"),
        ({"target": {"name": "x", "unit": "MPa", "min": 0, "max": 1, "transform": "ln"}}, "transform"),
        ({"splits": [{"leave_group_out": 3}]}, r"steel.splits"),
        (
            {"target": {"name": "x", "unit": "MPa", "min": 0, "max": 1, "learn_as": {"scale": 0}}},
            r"steel.target.learn_as",
        ),
        ({"process_columns": {"T": {"categories": ["a"], "min": 0}}}, r"steel.process_columns.T"),
    ],
)
def test_unknown_or_malformed_keys_name_dataset_and_key(change, message):
    with pytest.raises(DeclarationError, match=message):
        check_declaration("steel", {**_alloy_declaration(), **change})


def test_ignored_keys_are_warned_about():
    no_splits = {**_alloy_declaration(), "splits": [], "transfer": {"source_dataset": "mp_gap"}}
    assert check_declaration("steel", no_splits) == [
        "steel: `transfer` is ignored: the dataset declares no splits or no models"
    ]
    plain = {**_alloy_declaration(), "columns": {"formula": "f", "target": "YS"}, "process_columns": {}}
    del plain["composition"]
    warnings = check_declaration("steel", {**plain, "monitor": True})
    assert warnings == ["steel: `monitor: true` is ignored: scoring plant batches needs `robust: true`"]


def test_log10_target_with_censored_values(band_gap_declaration):
    raw = pd.DataFrame(
        {"formula": ["Li3PS4", "Li7La3Zr2O12", "LiCl", "LiI"], "target": ["1E-3", "<1E-10", "0", "abc"]}
    )
    raw["source_row"] = range(2, 6)
    band_gap_declaration["target"] = {
        "name": "ionic_conductivity",
        "unit": "S/cm",
        "min": -12.0,
        "max": 2.0,
        "transform": "log10",
        "censored": True,
    }
    staged = stage_materials_table(raw, band_gap_declaration, "electrolytes")
    assert staged["target"].iloc[0] == pytest.approx(-3.0)
    assert staged["target_censored"].tolist() == [False, True, False, False]
    assert staged["target_bound"].iloc[1] == pytest.approx(-10.0)
    assert staged["target"].iloc[2] == -np.inf  # non-positive: quarantined as out of range
    assert pd.isna(staged["target"].iloc[3])
    assert set(staged["unit"]) == {"log10(S/cm)"}
