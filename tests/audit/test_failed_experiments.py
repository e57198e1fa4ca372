"""Failed experiments and censored targets through ingest and validation: kept, never dropped silently."""

import pandas as pd
import pytest

from matshift.declarations import DeclarationError
from matshift.ingest.staging import stage_materials_table
from matshift.validation.declared import validation_rules
from matshift.validation.quarantine import validate_staged_table


@pytest.fixture
def declaration(band_gap_declaration):
    return {
        **band_gap_declaration,
        "columns": {"formula": "formula", "target": "target", "outcome": "status"},
        "target": {**band_gap_declaration["target"], "censored": True},
    }


def raw_with_outcome(rows):
    raw = pd.DataFrame(rows, columns=["formula", "target", "status"])
    raw["source_row"] = range(2, len(raw) + 2)
    return raw


def test_failed_and_censored_rows_are_kept_and_bad_rows_still_quarantined(declaration):
    raw = raw_with_outcome(
        [
            ("NaCl", "8.5", "success"),
            ("ZnO", "", "failed"),  # synthesis failed: no target, kept
            ("GaAs", "<1e-10", "success"),  # censored: a flag and a bound, not a number
            ("CdTe", "below_detection", "Success"),
            ("ZnS", "", "success"),  # a success needs a target: quarantined
            ("MgO", "abc", "success"),  # not a number, not censored: quarantined
            ("SiC", "2.4", ""),  # no outcome given: a reported measurement
        ]
    )
    staged = stage_materials_table(raw, declaration, "demo")
    assert staged["outcome"].tolist() == [
        "success",
        "failed",
        "success",
        "success",
        "success",
        "success",
        "success",
    ]
    assert staged["target_censored"].tolist() == [False, False, True, True, False, False, False]
    assert staged["target_bound"].iloc[2] == 1e-10 and pd.isna(staged["target"].iloc[2])
    accepted, quarantine, summary, _ = validate_staged_table(staged, validation_rules(declaration), "demo")
    assert summary["reconciled"] and summary["rows_in"] == 7
    assert accepted["formula"].tolist() == ["NaCl", "ZnO", "GaAs", "CdTe", "SiC"]
    assert {"outcome", "target_censored", "target_bound"} <= set(accepted.columns)
    assert accepted.set_index("formula").loc["ZnO", "outcome"] == "failed"
    assert dict(zip(quarantine["formula"], quarantine["reason"], strict=True)) == {
        "ZnS": "missing_target",
        "MgO": "target_not_numeric",
    }


def test_unknown_outcome_names_the_rows(declaration):
    with pytest.raises(DeclarationError, match=r"must be one of .*'maybe'.*source rows \[3\]"):
        stage_materials_table(
            raw_with_outcome([("NaCl", "1", "success"), ("ZnO", "", "maybe")]), declaration, "demo"
        )


def test_datasets_without_outcome_are_unchanged(band_gap_declaration):
    staged = stage_materials_table(
        raw_with_outcome([("NaCl", "<1", "x"), ("ZnO", "3.3", "x")]).drop(columns="status"),
        band_gap_declaration,
        "demo",
    )
    assert "outcome" not in staged.columns and "target_censored" not in staged.columns
    _, quarantine, _, _ = validate_staged_table(staged, validation_rules(band_gap_declaration), "demo")
    assert quarantine["reason"].tolist() == ["target_not_numeric"]  # without `censored: true`, "<1" is bad
