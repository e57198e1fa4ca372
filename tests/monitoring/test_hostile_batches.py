"""A folder of malformed and hostile batch files next to a clean one, through the monitor's reading and
staging nodes: nothing crashes, every file is listed, every count reconciles, nothing is silently wrong.

The scoring node needs a trained champion; its part (the summary's ``files`` / ``bad_files`` /
``skipped_files``) is built from the same ``plant_file_ledger`` this test checks. That the champion does
not move in a monitor run is tested in ``tests/pipelines/monitor/test_promotion.py``.
"""

import json
from pathlib import Path

import pandas as pd
import pytest
from kedro_datasets.partitions import PartitionedDataset

from matshift.io.plant_batches import PlantBatchesDataset
from matshift.io.safe_csv import SpreadsheetSafeCSVDataset
from matshift.monitoring.batches import MAX_BATCH_ID_LENGTH
from matshift.pipelines.monitor.nodes import (
    BadBatchFileError,
    check_bad_files,
    plant_file_ledger,
    stage_plant_batches,
)

HEADER = "formula,target,T\n"
CLEAN = HEADER + "NaCl,8.5,300\nGaAs,1.4,300\nZnO,3.3,290\n"
LONG_NAME = "x" * 247 + ".csv"  # 251 characters: its outputs would exceed the file-name limit
ODD_NAME = "my batch (Bändlücke ✓).csv"

# file name -> (status, file-level reason, rows_in, scored, row reasons)
EXPECTED = {
    ".hidden.csv": ("skipped", "hidden_file", 0, 0, {}),
    "all_bad.csv": ("quarantined", "every_row_quarantined", 2, 0, {"unknown_element": 2}),
    "amounts.csv": (
        "scored",
        "",
        5,
        1,
        {"invalid_amount": 3, "negligible_amount": 1},
    ),
    "binary.csv": ("quarantined", "binary_file", 0, 0, {}),
    "book.xlsx": ("quarantined", "spreadsheet", 0, 0, {}),
    "clean.csv": ("scored", "", 3, 3, {}),
    "clean_copy_crlf.csv": ("skipped", "duplicate_content", 0, 0, {}),
    "clean_copy_bom.csv": ("skipped", "duplicate_content", 0, 0, {}),
    "empty.csv": ("quarantined", "empty_file", 0, 0, {}),
    "formula_text.csv": (
        "quarantined",
        "every_row_quarantined",
        4,
        0,
        {"unparseable_formula": 3, "target_not_numeric": 1},
    ),
    "no_process_column.csv": ("quarantined", "missing_column", 2, 0, {}),
    "non_numeric.csv": ("scored", "", 4, 2, {"non_numeric": 2}),
    LONG_NAME: ("scored", "", 1, 1, {}),
    ODD_NAME: ("scored", "", 1, 1, {}),
}


DECLARATION = {
    "source": {"filepath": "data/01_raw/test.csv"},
    "columns": {"formula": "formula", "target": "target"},
    "target": {"name": "band_gap", "unit": "eV", "min": 0.0, "max": 20.0},
    "domain": "experiment",
    "group": {"derive": "anion_class"},
    "process_columns": {"temperature_K": {"column": "T", "min": 0, "max": 2000}},
    "duplicates": "quarantine",
    "max_bad_fraction": 0.5,
    "min_atomic_fraction": 1e-5,
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Built once: staging runs one GX validation per batch."""
    folder = tmp_path_factory.mktemp("plant")
    files = {
        ".hidden.csv": CLEAN,
        "all_bad.csv": HEADER + "Xx2O,1,300\nQq,2,300\n",
        "amounts.csv": HEADER
        + f"NaCl,8.5,300\nFe{'9' * 400}O,1,300\nFe0O,1,300\nFe-1O,1,300\nFe0.0000000001O,1,300\n",
        "clean.csv": CLEAN,
        "clean_copy_crlf.csv": CLEAN.replace("\n", "\r\n"),
        "empty.csv": "",
        "formula_text.csv": HEADER
        + '"=cmd|\' /C calc\'!A0",1,300\n@SUM(1+1),1,300\n"+HYPERLINK(""http://x"")",1,300\n'
        + "GaN,=1+1,300\n",
        "no_process_column.csv": "formula,target\nNaCl,8.5\nGaAs,1.4\n",
        "non_numeric.csv": HEADER + "NaCl,8.5,300\nGaAs,1.4,hot\nZnO,3.3,inf\nGaN,3.4,\n",
        LONG_NAME: HEADER + "SiC,2.4,300\n",
        ODD_NAME: HEADER + "CdTe,1.5,300\n",
    }
    for name, text in files.items():
        (folder / name).write_bytes(text.encode())
    (folder / "clean_copy_bom.csv").write_bytes(b"\xef\xbb\xbf" + CLEAN.encode())
    (folder / "binary.csv").write_bytes(b"formula,target\x00\x01\x02\xff\n")
    (folder / "book.xlsx").write_bytes(b"PK\x03\x04\x14\x00xl/workbook.xml" + b"\x00" * 32)
    return folder


@pytest.fixture(scope="module")
def staged(folder):
    dataset = PlantBatchesDataset(str(folder), required={"formula": None}, optional={"target": "eV"})
    return stage_plant_batches(dataset.load(), DECLARATION, "demo")


def test_every_file_is_listed_and_every_count_reconciles(folder, staged):
    table, quarantine, counts = staged
    ledger = {Path(entry["file"]).name: entry for entry in plant_file_ledger(counts)}
    assert sorted(ledger) == sorted(path.name for path in folder.iterdir()) == sorted(EXPECTED)
    for name, (status, reason, rows_in, scored, _) in EXPECTED.items():
        entry = ledger[name]
        assert (entry["status"], entry["reason"], entry["rows_in"], entry["scored"]) == (
            status,
            reason,
            rows_in,
            scored,
        ), name
        assert entry["rows_in"] == entry["scored"] + entry["quarantined"], name
    json.dumps(counts)  # the summary is JSON
    # the table and the quarantine hold exactly the rows the ledger counts
    assert len(table) == sum(e["scored"] for e in ledger.values())
    row_level = quarantine[quarantine["batch"] != ""]
    assert len(row_level) == sum(e["quarantined"] for e in ledger.values() if e["batch"])


def test_each_bad_row_has_its_reason_and_nothing_is_scored_as_another_compound(staged):
    table, quarantine, counts = staged
    for name, (*_, reasons) in EXPECTED.items():
        batch = next(
            (b for b, c in counts.items() if not b.startswith("file:") and c["file"].endswith(name)), None
        )
        if batch is not None:
            assert counts[batch]["reasons"] == reasons, name
    assert "O" not in set(table["composition"])  # Fe0O was elemental oxygen before
    assert table["temperature_K"].notna().sum() == len(table) - 1  # the blank T is missing, not "hot"
    non_numeric = quarantine[quarantine["reason"] == "non_numeric"]
    assert non_numeric["source_row"].tolist() == [3, 4] and quarantine["source_row"].dtype == "Int64"
    assert sorted(non_numeric["detail"]) == [
        "T='hot' is not a finite number",
        "T='inf' is not a finite number",
    ]


def test_batch_ids_are_safe_and_outputs_can_be_written(tmp_path, staged):
    table, _, counts = staged
    batches = sorted(set(table["batch"]))
    assert all(len(b) <= MAX_BATCH_ID_LENGTH and b.isascii() and " " not in b for b in batches)
    assert {"clean", "amounts", "non_numeric"} <= set(batches)  # plain names kept
    reports = PartitionedDataset(
        path=str(tmp_path / "reports"), dataset="text.TextDataset", filename_suffix=".html"
    )
    reports.save({batch: "<html></html>" for batch in batches})
    assert len(list((tmp_path / "reports").iterdir())) == len(batches)


def test_bad_files_fail_the_run_and_skipped_files_do_not(staged):
    _, _, counts = staged
    files = plant_file_ledger(counts)
    bad = [f for f in files if f["status"] == "quarantined" and not f["batch"]]
    assert sorted(Path(f["file"]).name for f in bad) == [
        "binary.csv",
        "book.xlsx",
        "empty.csv",
        "no_process_column.csv",
    ]
    with pytest.raises(BadBatchFileError, match="book.xlsx: spreadsheet .*export it as CSV"):
        check_bad_files({"bad_files": bad}, {"on_bad_file": "fail"})
    check_bad_files({"bad_files": bad}, {"on_bad_file": "warn"})


def test_the_quarantine_csv_neutralises_formula_text(tmp_path, staged):
    _, quarantine, _ = staged
    path = tmp_path / "quarantine.csv"
    SpreadsheetSafeCSVDataset(filepath=str(path), save_args={"index": False}).save(quarantine)
    cells = pd.read_csv(path, dtype=str, keep_default_na=False).to_numpy().ravel()
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "@", "\t", "\r")]
    assert {"'=cmd|' /C calc'!A0", "'@SUM(1+1)", "'=1+1"} <= set(cells)
    assert "-1" not in "".join(c for c in cells if c.startswith("-"))  # Fe-1O is inside a cell, not leading


def test_the_report_names_the_file_escaped():
    from matshift.monitoring.report import batch_report_html

    entry = {
        "file": "plant/<script>alert(1)</script>.csv",
        "sha256": "ab",
        "rows_in": 1,
        "scored": 1,
        "quarantined": 0,
        "reasons": {},
        "uncertain_fraction": 0.0,
        "drift": {"kinds": [], "auc": 0.5, "p_value": 0.5, "evidence": {}},
    }
    champion = {
        "model": "m",
        "metric": "mae",
        "split": "s",
        "value": 1.0,
        "coverage_90": 0.9,
        "coverage_ok": True,
    }
    predictions = pd.DataFrame(
        {"formula": ["NaCl"], "prediction": [1.0], "uncertain": [False], "ood_score": [0.0]}
    )
    page = batch_report_html(
        "demo", "script_alert_1-0a1b2c3d", entry, champion, predictions, pd.DataFrame(), predictions
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.csv" in page and "<script>" not in page


def test_the_scripts_hostile_files_are_each_listed_with_their_reason(tmp_path):
    import importlib.util

    from matshift.monitoring.batches import read_batches
    from tests.conftest import PROJECT_ROOT

    spec = importlib.util.spec_from_file_location(
        "examples", PROJECT_ROOT / "scripts/make_example_batches.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    (tmp_path / "clean.csv").write_bytes(CLEAN.encode())
    for name, data in script.hostile_batches(CLEAN.encode()).items():
        (tmp_path / name).write_bytes(data)
    files = read_batches(tmp_path.iterdir(), {"formula": None}, {"target": "eV"}).files
    assert len(files) == len(list(tmp_path.iterdir())) == 9
    reasons = dict(zip(files["file"].map(lambda f: Path(f).name), files["reason"], strict=True))
    assert (reasons[".hidden.csv"], reasons["clean_crlf_copy.csv"]) == ("hidden_file", "duplicate_content")
    assert (reasons["binary.csv"], reasons["book.xlsx"]) == ("binary_file", "spreadsheet")
    assert files.loc[files["status"] == "read", "batch"].str.len().max() <= MAX_BATCH_ID_LENGTH
