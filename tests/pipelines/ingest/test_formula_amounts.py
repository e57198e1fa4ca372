"""Formula amounts that would change a compound are quarantined by ingest + validate, never dropped."""

from matshift.ingest.staging import stage_materials_table
from matshift.pipelines.validate.nodes import validate_materials
from tests.conftest import raw_frame

OVERFLOW = "Fe" + "9" * 400 + "O"


def test_bad_amounts_are_quarantined_with_their_reason(band_gap_declaration):
    declaration = {**band_gap_declaration, "min_atomic_fraction": 1e-3, "max_bad_fraction": 1.0}
    raw = raw_frame(
        [
            ("NaCl", "8.5"),
            (OVERFLOW, "1.0"),  # raised OverflowError and stopped the whole run before
            ("Fe0O", "1.0"),  # was scored as elemental oxygen
            ("Fe-1O", "1.0"),
            ("Fe0.0000000001O", "1.0"),
            ("Ga0.0001As1", "1.4"),  # fraction 1e-4: fine for the parser, below the declared 1e-3
            ("Ga0.01As1", "1.4"),
        ]
    )
    staged = stage_materials_table(raw, declaration, "demo")
    accepted, quarantine, summary, _ = validate_materials(staged, declaration, "demo")
    assert accepted["formula"].tolist() == ["NaCl", "Ga0.01As1"]
    assert dict(zip(quarantine["source_row"], quarantine["reason"], strict=True)) == {
        3: "invalid_amount",
        4: "invalid_amount",
        5: "invalid_amount",
        6: "negligible_amount",
        7: "negligible_amount",
    }
    assert summary["rows_in"] == summary["accepted"] + summary["quarantined"] == 7


def test_without_a_declared_minimum_the_canonical_precision_still_applies(band_gap_declaration):
    staged = stage_materials_table(
        raw_frame([("Ga0.0001As1", "1.4"), ("Fe0.0000000001O", "1")]), band_gap_declaration, "demo"
    )
    assert staged["composition_error"].fillna("").tolist() == ["", "negligible_amount"]
