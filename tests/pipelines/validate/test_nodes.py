import yaml

from matshift.ingest.staging import stage_materials_table
from matshift.pipelines.validate.nodes import summarise_validation, validate_materials
from matshift.validation.declared import validation_rules
from matshift.validation.suite import DEFAULT_RULES
from tests.conftest import PROJECT_ROOT, raw_frame


def test_committed_suites_follow_the_declared_rules():
    declarations = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_datasets.yml").read_text())[
        "datasets"
    ]
    for dataset, rules in DEFAULT_RULES.items():
        expected = {"process_columns": {}, **rules}
        assert validation_rules(declarations[dataset]) == expected, dataset


def test_validate_node_quarantines_and_reconciles(band_gap_declaration):
    band_gap_declaration["max_bad_fraction"] = 0.9
    raw = raw_frame([("NaCl", "8.5"), ("ZnO", "-1"), ("Xx", "1"), ("GaAs", "1.4"), ("GaAs", "1.4")])
    staged = stage_materials_table(raw, band_gap_declaration, "demo")
    accepted, quarantine, summary, _ = validate_materials(staged, band_gap_declaration, "demo")
    assert accepted["formula"].tolist() == ["NaCl", "GaAs"]
    assert dict(zip(quarantine["source_row"], quarantine["reason"], strict=True)) == {
        3: "target_out_of_range",
        4: "unknown_element",
        6: "duplicate_row",
    }
    assert summary["rows_in"] == summary["accepted"] + summary["quarantined"] == 5
    assert summarise_validation(summary) == {"demo": summary}
