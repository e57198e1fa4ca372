import pandas as pd
import pytest

from matshift.monitoring.batches import QUARANTINE_COLUMNS
from matshift.pipelines.monitor.nodes import BadBatchFileError, check_bad_files, stage_plant_batches


def raw(rows):
    frame = pd.DataFrame(rows, columns=["formula", "target"])
    frame["source_row"] = range(2, len(frame) + 2)
    return frame


def test_stage_plant_batches_reconciles_rows_and_keeps_unlabelled_rows(band_gap_declaration):
    batches = {
        "labelled": raw([("NaCl", "8.5"), ("Xx2O", "1.0"), ("GaAs", "-1"), ("ZnO", "")]),
        "unlabelled": raw([("SiC", ""), ("GaN", "")]).drop(columns="target"),
    }
    files = pd.DataFrame([["bad.csv", "abc", "empty_file", "the file is empty"]], columns=QUARANTINE_COLUMNS)
    plant = {"batches": batches, "quarantine": files, "hashes": {"labelled": "h1", "unlabelled": "h2"}}
    table, quarantine, counts = stage_plant_batches(plant, band_gap_declaration, "demo")
    assert (
        counts["labelled"]["rows_in"] == counts["labelled"]["scored"] + counts["labelled"]["quarantined"] == 4
    )
    assert counts["labelled"]["reasons"] == {"unknown_element": 1, "target_out_of_range": 1}
    assert counts["unlabelled"]["scored"] == 2 and not counts["unlabelled"]["labelled"]
    assert set(table["domain"]) == {"plant"} and set(table["batch"]) == {"labelled", "unlabelled"}
    assert counts["file:bad.csv"]["reason"] == "empty_file"
    assert set(quarantine["reason"]) == {"unknown_element", "target_out_of_range", "empty_file"}


def test_batches_staged_together_match_each_staged_alone(band_gap_declaration):
    # one GX run validates every batch: each batch's rows, reasons and counts are its own run's
    declaration = {**band_gap_declaration, "process_columns": {"T": {"min": 0, "max": 2000}}}

    def with_temperature(rows, temperatures):
        return raw(rows).assign(T=temperatures)

    batches = {
        "a": with_temperature([("NaCl", "8.5"), ("NaCl", "8.5"), ("GaAs", "-1"), ("ZnO", "")], ["300"] * 4),
        "b": with_temperature([("Xx2O", "1.0"), ("NaCl", "8.5"), ("SiC", "2.3")], ["300", "hot", "5000"]),
        "c": with_temperature([("GaN", ""), ("Fe0O", "1")], ["", "300"]),
        "d": raw([("MgO", "7.8")]),  # no process column: quarantined as a file
    }
    plant = {"batches": batches, "quarantine": pd.DataFrame(columns=QUARANTINE_COLUMNS)}
    plant["hashes"] = {batch: f"h{batch}" for batch in batches}
    table, quarantine, counts = stage_plant_batches(plant, declaration, "demo")
    alone = [
        stage_plant_batches({**plant, "batches": {batch: rows}}, declaration, "demo")
        for batch, rows in batches.items()
    ]
    assert counts == {key: value for _, _, part in alone for key, value in part.items()}
    assert counts["b"]["reasons"] == {"unknown_element": 1, "non_numeric": 1, "process_value_out_of_range": 1}
    pd.testing.assert_frame_equal(table, pd.concat([part[0] for part in alone[:3]], ignore_index=True))
    expected = pd.concat(
        [part[1][part[1]["batch"] != ""] for part in alone] + [alone[3][1]], ignore_index=True
    )
    pd.testing.assert_frame_equal(quarantine, expected)


def test_bad_files_fail_the_run_or_warn():
    summary = {"bad_files": [{"file": "x.csv", "reason": "bad_encoding", "message": "not UTF-8"}]}
    with pytest.raises(BadBatchFileError, match="x.csv: bad_encoding"):
        check_bad_files(summary, {"on_bad_file": "fail"})
    check_bad_files(summary, {"on_bad_file": "warn"})
    check_bad_files({"bad_files": []}, {"on_bad_file": "fail"})
