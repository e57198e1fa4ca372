import pandas as pd
import pytest

from matshift.declarations import DeclarationError
from matshift.ingest.staging import stage_materials_table
from matshift.pipelines.ingest.nodes import combine_materials_tables
from matshift.schema import MATERIALS_COLUMNS, STAGED_DIAGNOSTIC_COLUMNS
from tests.conftest import raw_frame


def test_every_raw_row_is_staged_with_diagnostics(band_gap_declaration):
    raw = raw_frame(
        [
            ("NaCl", "8.5"),
            ("Xx2O", "1.0"),
            ("Fe(O", "2"),
            ("", "1.1"),
            ("GaAs", "abc"),
            ("NaCl", "8.5"),
            ("ZnO", ""),
        ]
    )
    staged = stage_materials_table(raw, band_gap_declaration, "demo")
    assert len(staged) == len(raw)
    assert list(staged.columns[: len(MATERIALS_COLUMNS) + len(STAGED_DIAGNOSTIC_COLUMNS)]) == [
        *MATERIALS_COLUMNS,
        *STAGED_DIAGNOSTIC_COLUMNS,
    ]
    assert staged["composition_error"].fillna("").tolist() == [
        "",
        "unknown_element",
        "unparseable_formula",
        "missing_formula",
        "",
        "",
        "",
    ]
    assert staged["composition"].iloc[0] == "NaCl" and staged["group"].iloc[0] == "halide"
    assert pd.isna(staged["target"].iloc[4]) and staged["target_raw"].iloc[4] == "abc"
    assert staged["occurrence"].tolist() == [0, 0, 0, 0, 0, 1, 0]
    assert staged["sample_id"].is_unique
    assert staged["source_row"].tolist() == list(range(2, 9))
    assert set(staged["domain"]) == {"experiment"} and set(staged["unit"]) == {"eV"}


def test_sample_id_is_stable_and_depends_on_content(band_gap_declaration):
    first = stage_materials_table(raw_frame([("NaCl", "8.5"), ("ZnO", "3.3")]), band_gap_declaration, "demo")
    reordered = stage_materials_table(
        raw_frame([("ZnO", "3.3"), ("NaCl", "8.5")]), band_gap_declaration, "demo"
    )
    assert set(first["sample_id"]) == set(reordered["sample_id"])
    other_source = stage_materials_table(raw_frame([("NaCl", "8.5")]), band_gap_declaration, "other")
    assert other_source["sample_id"].iloc[0] not in set(first["sample_id"])


def test_declared_column_missing_names_file_and_column(band_gap_declaration):
    band_gap_declaration["columns"]["target"] = "gap_eV"
    with pytest.raises(DeclarationError, match=r"data/01_raw/test.csv.*gap_eV"):
        stage_materials_table(raw_frame([("NaCl", "8.5")]), band_gap_declaration, "demo")


def test_group_from_a_declared_column_and_process_columns(band_gap_declaration):
    raw = raw_frame([("NaCl", "8.5"), ("ZnO", "3.3")])
    raw["lab"] = ["A", "B"]
    raw["T"] = ["300", "x"]
    band_gap_declaration["group"] = {"column": "lab"}
    band_gap_declaration["process_columns"] = {"temperature_K": {"column": "T", "min": 0, "max": 2000}}
    staged = stage_materials_table(raw, band_gap_declaration, "demo")
    assert staged["group"].tolist() == ["A", "B"]
    assert staged["temperature_K"].iloc[0] == 300 and pd.isna(staged["temperature_K"].iloc[1])


def test_combine_materials_tables_keeps_every_row():
    a = pd.DataFrame({"sample_id": ["1"], "domain": ["dft"]})
    b = pd.DataFrame({"sample_id": ["2", "3"], "domain": ["experiment"] * 2})
    assert combine_materials_tables(a, b)["domain"].tolist() == ["dft", "experiment", "experiment"]
