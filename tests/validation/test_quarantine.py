import json

import numpy as np
import pandas as pd
import pytest

import matshift.validation.quarantine as quarantine_module
from matshift.schema import MATERIALS_COLUMNS, QUARANTINE_COLUMNS
from matshift.validation import (
    DataQualityError,
    SchemaMismatchError,
    ValidationRunError,
    validate_staged_table,
    validate_staged_tables,
)
from matshift.validation.quarantine import row_failures, run_suite
from matshift.validation.suite import REASON_CODES
from tests.validation.staged import make_staged, rules

# One planted problem per row (sample_id -> expected reason); every other row is clean.
PLANTED = {
    "s001": (
        "missing_formula",
        {"formula": pd.NA, "composition": pd.NA, "composition_error": "missing_formula"},
    ),
    "s002": (
        "unparseable_formula",
        {"formula": "Na(Cl", "composition": pd.NA, "composition_error": "unparseable_formula"},
    ),
    "s003": (
        "unknown_element",
        {"formula": "Xq2O", "composition": pd.NA, "composition_error": "unknown_element"},
    ),
    "s004": ("missing_target", {"target_raw": pd.NA, "target": np.nan}),
    "s005": ("target_not_numeric", {"target_raw": "n/a", "target": np.nan}),
    "s006": ("target_out_of_range", {"target_raw": "-1.2", "target": -1.2}),
    "s007": ("process_value_out_of_range", {"temperature_K": 5000.0}),
    "s008": ("duplicate_row", {"occurrence": 1}),
    "s009": ("schema_mismatch", {"group": pd.NA}),
    # Several failures: the priority order picks the reason, the detail lists them all.
    "s010": ("target_not_numeric", {"target_raw": "abc", "target": np.nan, "occurrence": 1}),
    # Amounts that would change the compound: quarantined, never parsed as another composition.
    "s011": (
        "invalid_amount",
        {"formula": "Fe0O", "composition": pd.NA, "composition_error": "invalid_amount"},
    ),
    "s012": (
        "negligible_amount",
        {"formula": "Fe0.0000000001O", "composition": pd.NA, "composition_error": "negligible_amount"},
    ),
}
N_ROWS = 16  # rows s000, s013..s015 are clean


def planted_table() -> pd.DataFrame:
    changes = [PLANTED[f"s{i:03d}"][1] if f"s{i:03d}" in PLANTED else {} for i in range(N_ROWS)]
    return make_staged(changes)


@pytest.fixture(scope="module")
def validated():
    """One GX run shared by the tests below (a run costs ~0.3 s, the first GX import ~3 s)."""
    return validate_staged_table(planted_table(), rules(), "expt_gap")


@pytest.mark.parametrize("sample_id", sorted(PLANTED))
def test_each_planted_problem_quarantines_exactly_that_row_with_its_reason(validated, sample_id):
    _, quarantine, _, _ = validated
    row = quarantine.loc[quarantine["sample_id"] == sample_id]
    assert len(row) == 1
    assert row["reason"].item() == PLANTED[sample_id][0]


def test_only_planted_rows_are_quarantined_and_the_rest_accepted_in_order(validated):
    accepted, quarantine, _, _ = validated
    assert quarantine["sample_id"].tolist() == sorted(PLANTED)
    assert accepted["sample_id"].tolist() == ["s000", "s013", "s014", "s015"]
    assert list(accepted.columns) == [*MATERIALS_COLUMNS, "temperature_K"]
    assert list(quarantine.columns) == list(QUARANTINE_COLUMNS)
    assert quarantine["source_row"].tolist() == [int(s[1:]) + 2 for s in sorted(PLANTED)]


def test_detail_names_column_and_value_and_lists_every_failure(validated):
    _, quarantine, _, _ = validated
    detail = quarantine.set_index("sample_id")["detail"]
    assert detail["s006"] == "target=-1.2 outside [0, 20]"
    assert detail["s007"] == "temperature_K=5000 outside [0, 3000]"
    assert detail["s003"].startswith("formula='Xq2O': unknown_element")
    assert (
        detail["s010"] == "target_raw='abc' is not a number; occurrence=1: repeats an identical earlier row"
    )


def test_summary_counts_reconcile_and_serialise(validated):
    accepted, quarantine, summary, result_json = validated
    assert summary["rows_in"] == N_ROWS == summary["accepted"] + summary["quarantined"]
    assert (summary["accepted"], summary["quarantined"]) == (len(accepted), len(quarantine))
    assert summary["reconciled"] is True
    assert summary["bad_fraction"] == pytest.approx(len(PLANTED) / N_ROWS)
    expected = {code: 0 for code in REASON_CODES}
    for reason, _ in PLANTED.values():
        expected[reason] += 1
    assert summary["reasons"] == expected
    assert summary["flagged"]["duplicate_row"] == 2  # s008 and, behind its primary reason, s010
    json.dumps(summary)
    json.dumps(result_json)
    assert result_json["suite_name"] == "expt_gap"


def test_keep_policy_accepts_repeated_rows():
    staged = make_staged([{}, {"occurrence": 1}, {"occurrence": 2}])
    accepted, quarantine, summary, _ = validate_staged_table(staged, rules(duplicates="keep"), "mp_gap")
    assert len(accepted) == 3 and quarantine.empty
    assert summary["reconciled"]

    accepted, quarantine, _, _ = validate_staged_table(staged, rules(duplicates="quarantine"), "mp_gap")
    assert accepted["sample_id"].tolist() == ["s000"]
    assert quarantine["reason"].tolist() == ["duplicate_row", "duplicate_row"]


def test_colliding_sample_ids_are_duplicates_under_either_policy():
    staged = make_staged([{"sample_id": "same"}, {"sample_id": "same"}, {}])
    _, quarantine, _, _ = validate_staged_table(staged, rules(duplicates="keep"), "mp_gap")
    assert quarantine["sample_id"].tolist() == ["same", "same"]
    assert set(quarantine["reason"]) == {"duplicate_row"}


def test_bad_fraction_above_threshold_raises_naming_dataset_rows_and_reasons():
    changes = [{}] * 10
    changes[1] = {"target": 25.0, "target_raw": "25"}
    changes[5] = {"target": -3.0, "target_raw": "-3"}
    changes[7] = {"target_raw": pd.NA, "target": np.nan}
    with pytest.raises(DataQualityError) as raised:
        validate_staged_table(make_staged(changes), rules(max_bad_fraction=0.05), "expt_gap")
    assert str(raised.value) == (
        "expt_gap: 3 of 10 rows (30.0%) failed validation, above max_bad_fraction 0.05: "
        "target_out_of_range 2 (rows 3, 7), missing_target 1 (rows 9)"
    )


def test_bad_fraction_at_threshold_passes():
    changes = [{}] * 20
    changes[4] = {"target": 25.0, "target_raw": "25"}
    _, quarantine, summary, _ = validate_staged_table(make_staged(changes), rules(max_bad_fraction=0.05), "x")
    assert len(quarantine) == 1 and summary["bad_fraction"] == 0.05


def test_missing_required_column_raises_naming_dataset_and_column():
    staged = make_staged([{}, {}]).drop(columns="target_raw")
    with pytest.raises(SchemaMismatchError, match=r"expt_gap: .*missing required column.*'target_raw'"):
        validate_staged_table(staged, rules(), "expt_gap")


def test_missing_declared_process_column_raises():
    staged = make_staged([{}]).drop(columns="temperature_K")
    with pytest.raises(SchemaMismatchError, match="temperature_K"):
        validate_staged_table(staged, rules(), "expt_gap")


def test_wrong_column_dtype_raises_naming_the_column():
    staged = make_staged([{}, {}])
    staged["source_row"] = staged["source_row"].astype(float)
    with pytest.raises(SchemaMismatchError, match=r"expt_gap: column 'source_row'.*float64"):
        validate_staged_table(staged, rules(), "expt_gap")


def test_non_string_value_in_text_column_is_a_row_level_schema_mismatch():
    staged = make_staged([{}, {}])
    staged["unit"] = pd.Series(["eV", 3], dtype=object)
    _, quarantine, _, _ = validate_staged_table(staged, rules(), "expt_gap")
    assert quarantine["sample_id"].tolist() == ["s001"]
    assert quarantine["reason"].item() == "schema_mismatch"
    assert "unit=3 is int" in quarantine["detail"].item()


def test_empty_table_validates_to_empty_outputs():
    staged = make_staged([{}]).iloc[0:0]
    accepted, quarantine, summary, _ = validate_staged_table(staged, rules(), "expt_gap")
    assert accepted.empty and quarantine.empty
    assert summary["rows_in"] == 0 and summary["bad_fraction"] == 0.0 and summary["reconciled"]


def test_input_index_is_irrelevant_and_untouched():
    staged = make_staged([{}, {"target": 99.0, "target_raw": "99"}, {}])
    staged.index = [10, 10, 3]  # duplicate labels must not confuse the row mapping
    staged.loc[:, "source_row"] = [5, 5, 6]  # nor duplicate source lines
    before = staged.copy()
    accepted, quarantine, _, _ = validate_staged_table(staged, rules(), "expt_gap")
    assert accepted["sample_id"].tolist() == ["s000", "s002"]
    assert quarantine["sample_id"].tolist() == ["s001"]
    pd.testing.assert_frame_equal(staged, before)


def test_an_expectation_that_raised_is_an_error_not_a_pass():
    # GX catches exceptions per expectation and nests them per metric; none may read as "no bad rows".
    result = {
        "results": [
            {
                "success": False,
                "expectation_config": {
                    "type": "expect_column_values_to_be_between",
                    "kwargs": {"column": "t"},
                },
                "result": {},
                "exception_info": {
                    "MetricConfigurationID(...)": {"raised_exception": True, "exception_message": "boom"}
                },
            }
        ]
    }
    with pytest.raises(ValidationRunError, match="expt_gap: 1 expectation.*'t': boom"):
        row_failures(result, make_staged([{}]), "expt_gap")


def _prefixed(staged: pd.DataFrame, prefix: str) -> pd.DataFrame:
    return staged.assign(sample_id=prefix + staged["sample_id"])


def _assert_same_as_one_by_one(tables: dict[str, pd.DataFrame], table_rules: dict, monkeypatch) -> None:
    names = {key: f"expt_gap batch {key}" for key in tables}
    runs = []
    monkeypatch.setattr(quarantine_module, "run_suite", lambda *args: runs.append(args) or run_suite(*args))
    together = validate_staged_tables(tables, table_rules, names)
    assert len(runs) == 1  # all of them in one GX run
    monkeypatch.undo()
    assert list(together) == list(tables)
    for key, table in tables.items():
        alone = validate_staged_table(table, table_rules, names[key])[:3]
        pd.testing.assert_frame_equal(together[key][0], alone[0])
        pd.testing.assert_frame_equal(together[key][1], alone[1])
        assert together[key][2] == alone[2]


def test_tables_validated_together_match_each_validated_alone(monkeypatch):
    # the same source lines in every table, problems in different rows, one table with a text-typed
    # value (a row-level type check) and one empty table
    mixed_unit = make_staged([{}, {"occurrence": 1}, {}])
    mixed_unit["unit"] = pd.Series(["eV", "eV", 3], dtype=object)
    tables = {
        "a": _prefixed(planted_table(), "a"),
        "b": _prefixed(make_staged([{"target": 25.0, "target_raw": "25"}, {}, {"occurrence": 1}]), "b"),
        "c": _prefixed(planted_table().iloc[::-1], "c"),
        "empty": _prefixed(make_staged([{}]).iloc[0:0], "e"),
        "unit": _prefixed(mixed_unit, "u"),
    }
    _assert_same_as_one_by_one(tables, rules(), monkeypatch)


def test_tables_sharing_sample_ids_are_not_judged_duplicates_of_each_other():
    # one GX run would call the shared ids duplicates: such tables are validated one by one
    tables = {"a": make_staged([{}, {}]), "b": make_staged([{}, {"target": 25.0, "target_raw": "25"}])}
    together = validate_staged_tables(tables, rules(), {"a": "a", "b": "b"})
    assert together["a"][2]["quarantined"] == 0
    assert together["b"][1]["reason"].tolist() == ["target_out_of_range"]


def test_a_broken_table_among_others_raises_naming_that_table():
    broken = _prefixed(make_staged([{}, {}]), "b")
    broken["source_row"] = broken["source_row"].astype(float)
    tables = {"a": _prefixed(make_staged([{}]), "a"), "b": broken}
    with pytest.raises(SchemaMismatchError, match=r"batch b: column 'source_row'.*float64"):
        validate_staged_tables(tables, rules(), {"a": "batch a", "b": "batch b"})
    missing = _prefixed(make_staged([{}]), "c").drop(columns="temperature_K")
    with pytest.raises(SchemaMismatchError, match="batch c: .*temperature_K"):
        validate_staged_tables(
            {
                "a": tables["a"],
                "c": missing,
                "d": _prefixed(make_staged([{}]), "d").drop(columns="temperature_K"),
            },
            rules(),
            {"a": "batch a", "c": "batch c", "d": "batch d"},
        )
