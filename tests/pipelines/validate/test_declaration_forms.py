"""Validation of the declaration forms of issue 11: case-distinct process columns, categories, log10."""

import pandas as pd

from matshift.ingest.staging import stage_materials_table
from matshift.pipelines.validate.nodes import validate_materials


def _declaration() -> dict:
    return {
        "source": {"filepath": "data/01_raw/steel/steel.csv"},
        "columns": {"formula": "formula", "target": "YS"},
        "target": {"name": "yield_strength", "unit": "MPa", "min": 0.0, "max": 5000.0},
        "domain": "experiment",
        "group": {"derive": "n_elements"},
        "process_columns": {
            "THT": {"column": "THT", "unit": "K", "min": 300, "max": 1500},
            "THt": {"column": "THt", "unit": "h", "min": 0, "max": 100},
            "route": {"column": "route", "categories": ["cast", "wrought"]},
        },
        "metadata_columns": {"year": "Year"},
        "max_bad_fraction": 1.0,
        "splits": [],
        "models": [],
    }


def _raw(n_good: int = 8) -> pd.DataFrame:
    raw = pd.DataFrame(
        {
            "formula": [f"Fe{i + 2}Cr" for i in range(n_good)] + ["FeNi", "FeMo", "FeCo"],
            "YS": ["250"] * (n_good + 3),
            "THT": ["900"] * n_good + ["200", "900", "900"],  # 200 K below the THT range
            "THt": ["2"] * n_good + ["2", "200", "2"],  # 200 h above the THt range
            "route": ["cast"] * n_good + ["cast", "cast", "forged"],  # forged not allowed
            "Year": ["2019"] * (n_good + 3),
        }
    )
    raw["source_row"] = range(2, len(raw) + 2)
    return raw


def test_process_columns_differing_only_in_case_are_validated_separately():
    staged = stage_materials_table(_raw(), _declaration(), "steel")
    accepted, quarantine, summary, result = validate_materials(staged, _declaration(), "steel")
    # GX alone checked THt against THT's values and quarantined every good row
    assert len(accepted) == 8 and summary["quarantined"] == 3
    details = dict(zip(quarantine["source_row"], quarantine["detail"], strict=True))
    assert details[10] == "THT=200 outside [300, 1500]"
    assert details[11] == "THt=200 outside [0, 100]"
    assert details[12].startswith("route='forged'")
    assert set(quarantine["reason"]) == {"process_value_out_of_range"}
    assert accepted["THT"].tolist() == [900.0] * 8 and accepted["THt"].tolist() == [2.0] * 8
    # the result Data Docs render names the declared columns, not the internal process_<i> ones
    columns = {item["expectation_config"]["kwargs"].get("column") for item in result["results"]}
    assert {"THT", "THt", "route"} <= columns and not any(str(c).startswith("process_") for c in columns)


def test_categorical_columns_become_categoricals_and_metadata_is_kept():
    staged = stage_materials_table(_raw(), _declaration(), "steel")
    accepted, *_ = validate_materials(staged, _declaration(), "steel")
    assert list(accepted["route"].cat.categories) == ["cast", "wrought"]
    assert accepted["year"].tolist() == ["2019"] * 8


def test_log10_target_out_of_range_and_non_positive_are_quarantined():
    declaration = _declaration()
    declaration["process_columns"] = {}
    declaration["target"] = {"name": "sigma", "unit": "S/cm", "min": -12, "max": 2, "transform": "log10"}
    raw = pd.DataFrame({"formula": ["LiCl", "LiI", "LiF"], "YS": ["1e-3", "0", "1e5"], "Year": ["1"] * 3})
    raw["source_row"] = range(2, 5)
    accepted, quarantine, *_ = validate_materials(
        stage_materials_table(raw, declaration, "demo"), declaration, "demo"
    )
    assert accepted["target"].tolist() == [-3.0] and set(accepted["unit"]) == {"log10(S/cm)"}
    assert quarantine["reason"].tolist() == ["target_out_of_range"] * 2


def test_a_non_numeric_process_value_in_a_training_source_is_quarantined_not_read_as_missing():
    raw = _raw()
    raw.loc[2, "THT"], raw.loc[4, "THt"], raw.loc[5, "THt"] = "hot", "inf", ""  # "" is a missing value
    staged = stage_materials_table(raw, _declaration(), "steel")
    accepted, quarantine, summary, _ = validate_materials(staged, _declaration(), "steel")
    details = dict(zip(quarantine["source_row"], quarantine["detail"], strict=True))
    reasons = dict(zip(quarantine["source_row"], quarantine["reason"], strict=True))
    assert (reasons[4], details[4]) == ("non_numeric", "THT='hot' is not a finite number")
    assert (reasons[6], details[6]) == ("non_numeric", "THt='inf' is not a finite number")
    assert 7 in set(accepted["source_row"]) and accepted.set_index("source_row").loc[7, "THt"] != 2.0
    assert summary["reasons"]["non_numeric"] == 2 and summary["reasons"]["process_value_out_of_range"] == 3
    assert (
        summary["rows_in"]
        == len(raw)
        == summary["accepted"] + summary["quarantined"]
        == len(accepted) + len(quarantine)
    )
    assert quarantine["source_row"].is_monotonic_increasing
    assert "process_value_error" not in accepted
