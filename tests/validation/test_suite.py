import json

import pytest

from matshift.validation.suite import (
    DEFAULT_RULES,
    REASON_CODES,
    SUITES_DIR,
    expected_columns,
    suite_expectations,
    suite_json,
    validate_rules,
)
from tests.validation.staged import rules

REGENERATE = 'PYTHONPATH=src python -c "from matshift.validation.suite import write_suites; write_suites()"'


@pytest.mark.parametrize("dataset", ["expt_gap", "mp_gap"])
def test_committed_suite_matches_the_code(dataset):
    committed = json.loads((SUITES_DIR / f"{dataset}.json").read_text(encoding="utf-8"))
    assert committed == suite_json(dataset, DEFAULT_RULES[dataset]), f"stale suite file; run {REGENERATE}"


def test_default_rules():
    assert DEFAULT_RULES["expt_gap"]["duplicates"] == "quarantine"
    assert DEFAULT_RULES["mp_gap"]["duplicates"] == "keep"
    for dataset_rules in DEFAULT_RULES.values():
        assert (dataset_rules["target_min"], dataset_rules["target_max"]) == (0.0, 20.0)


def test_every_expectation_has_a_reason_and_every_reason_an_expectation():
    reasons = [item["meta"]["reason_code"] for item in suite_expectations(rules())]
    assert set(reasons) <= set(REASON_CODES)
    assert set(REASON_CODES) <= set(reasons)


def test_duplicate_policy_changes_only_the_occurrence_check():
    def occurrence_checks(policy):
        return [
            i
            for i in suite_expectations(rules(duplicates=policy))
            if i["kwargs"].get("column") == "occurrence"
        ]

    assert [i["type"] for i in occurrence_checks("quarantine")] == [
        "expect_column_values_to_be_in_type_list",
        "expect_column_values_to_be_in_set",
    ]
    assert [i["type"] for i in occurrence_checks("keep")] == ["expect_column_values_to_be_in_type_list"]


def test_expected_columns_include_process_and_required_columns():
    columns = expected_columns(rules(required_columns=["material_id", "formula"]))
    assert columns[-2:] == ["temperature_K", "material_id"]
    assert columns.count("formula") == 1


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"duplicates": "drop"}, "duplicates"),
        ({"max_bad_fraction": 1.5}, "max_bad_fraction"),
        ({"target_max": "20"}, "target_max"),
        ({"process_columns": {"temperature_K": {"max": "hot"}}}, "temperature_K"),
    ],
)
def test_malformed_rules_are_rejected_naming_the_dataset(bad, message):
    with pytest.raises(ValueError, match=f"expt_gap.*{message}"):
        validate_rules(rules(**bad), "expt_gap")


def test_categorical_process_columns_get_a_text_type_and_an_allowed_set():
    from matshift.validation.suite import suite_expectations

    rules = {
        "target_min": 0,
        "target_max": 1,
        "process_columns": {"route": {"categories": ["cast", "wrought"]}},
    }
    items = [item for item in suite_expectations(rules) if item["kwargs"].get("column") == "route"]
    kinds = {item["type"]: item for item in items}
    assert kinds["expect_column_values_to_be_in_type_list"]["kwargs"]["type_list"] == ["str", "StringDtype"]
    allowed = kinds["expect_column_values_to_be_in_set"]
    assert allowed["kwargs"]["value_set"] == ["cast", "wrought"]
    assert allowed["meta"]["reason_code"] == "process_value_out_of_range"
    assert "expect_column_values_to_be_between" not in kinds
