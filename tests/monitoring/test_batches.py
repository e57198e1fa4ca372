import pandas as pd
import pytest

from matshift.io.plant_batches import PlantBatchesDataset
from matshift.monitoring.batches import (
    MAX_BATCH_ID_LENGTH,
    BatchReadError,
    batch_id,
    read_batch,
    read_batches,
    split_unit,
)

REQUIRED = {"formula": None, "band_gap": "eV"}


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "good.csv").write_text("formula,band_gap (eV)\nNaCl,8.5\nGaAs,1.4\n")
    (tmp_path / "same_again.csv").write_text("formula,band_gap (eV)\nNaCl,8.5\nGaAs,1.4\n")
    pd.DataFrame({"formula": ["ZnO"], "band_gap": [3.3]}).to_parquet(tmp_path / "good2.parquet")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "notes.xlsx").write_text("not a table")
    (tmp_path / "latin1.csv").write_bytes("formula,band_gap\nNaCl,8.5 \xb0\n".encode("latin-1"))
    (tmp_path / "no_target.csv").write_text("formula,Eg\nNaCl,8.5\n")
    (tmp_path / "millielectronvolt.csv").write_text("formula,band_gap (meV)\nNaCl,8500\n")
    return tmp_path


def test_good_batches_are_read_and_every_bad_file_is_quarantined_with_its_reason(folder):
    result = read_batches(folder.iterdir(), REQUIRED)
    assert set(result.batches) == {"good", "good2"}
    assert list(result.batches["good"].columns) == ["formula", "band_gap", "source_row"]
    assert result.batches["good"]["source_row"].tolist() == [2, 3]
    names = result.quarantine["file"].map(lambda f: f.split("/")[-1])
    reasons = dict(zip(names, result.quarantine["reason"], strict=True))
    assert reasons == {
        "empty.csv": "empty_file",
        "notes.xlsx": "spreadsheet",
        "latin1.csv": "bad_encoding",
        "no_target.csv": "missing_column",
        "millielectronvolt.csv": "unit_mismatch",
    }
    # nothing is lost: every file is in the ledger, read, quarantined or skipped (the duplicate)
    ledger = result.files.assign(name=result.files["file"].map(lambda f: f.split("/")[-1]))
    assert sorted(ledger["name"]) == sorted(p.name for p in folder.iterdir())
    assert ledger.set_index("name").loc["same_again.csv", ["status", "reason"]].tolist() == [
        "skipped",
        "duplicate_content",
    ]
    assert ledger.loc[ledger["status"] == "read", "batch"].tolist() == ["good", "good2"]


def test_errors_name_the_file_and_what_to_do(folder):
    with pytest.raises(
        BatchReadError, match=r"millielectronvolt.csv: column 'band_gap \(meV\)' is in meV.*convert"
    ):
        read_batch(folder / "millielectronvolt.csv", REQUIRED)
    with pytest.raises(BatchReadError, match=r"no_target.csv: required column\(s\) \['band_gap'\]"):
        read_batch(folder / "no_target.csv", REQUIRED)


def test_a_batch_seen_in_an_earlier_run_is_not_read_again(folder):
    first = read_batches([folder / "good.csv"], REQUIRED)
    again = read_batches([folder / "good.csv"], REQUIRED, seen_hashes=first.hashes.values())
    assert not again.batches and again.quarantine.empty
    assert again.files[["status", "reason"]].values.tolist() == [["skipped", "duplicate_content"]]


def test_split_unit():
    assert split_unit("band_gap (eV)") == ("band_gap", "eV")
    assert split_unit("T [K]") == ("T", "K")
    assert split_unit("formula") == ("formula", None)


def test_what_a_file_is_is_named_and_hidden_files_are_listed(tmp_path):
    table = "formula,band_gap (eV)\nNaCl,8.5\n"
    (tmp_path / "a.csv").write_text(table)
    (tmp_path / ".hidden.csv").write_text(table)
    (tmp_path / "a.csv.dvc").write_text("outs:\n- md5: 0\n")
    (tmp_path / "README.md").write_text("notes")
    (tmp_path / "sub").mkdir()
    (tmp_path / "binary.csv").write_bytes(b"formula,band_gap\x00\x01\x02\n")
    (tmp_path / "book.xlsx").write_bytes(b"PK\x03\x04" + b"\x00" * 20)
    (tmp_path / "disguised.csv").write_bytes(b"PK\x03\x04\x14\x00xl/workbook.xml")
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 20)
    (tmp_path / "sheet.ods").write_bytes(b"PK\x03\x04mimetypeapplication/vnd.oasis.opendocument.spreadsheet")
    (tmp_path / "fake.parquet").write_text("formula\nZnO\n")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (tmp_path / "notes.txt").write_text("hello")
    result = read_batches(tmp_path.iterdir(), REQUIRED)
    ledger = result.files.assign(name=result.files["file"].map(lambda f: f.split("/")[-1])).set_index("name")
    assert sorted(ledger.index) == sorted(p.name for p in tmp_path.iterdir())
    assert ledger["reason"].to_dict() == {
        ".hidden.csv": "hidden_file",
        "README.md": "readme",
        "a.csv": "",
        "a.csv.dvc": "dvc_pointer",
        "binary.csv": "binary_file",
        "book.xlsx": "spreadsheet",
        "disguised.csv": "spreadsheet",
        "fake.parquet": "unreadable",
        "image.png": "binary_file",
        "notes.txt": "unsupported_format",
        "old.xls": "spreadsheet",
        "sheet.ods": "spreadsheet",
        "sub": "not_a_file",
    }
    assert "export it as CSV" in ledger.loc["book.xlsx", "message"]
    assert set(ledger.loc[ledger["reason"].isin(["hidden_file", "readme", "dvc_pointer"]), "status"]) == {
        "skipped"
    }
    assert list(result.batches) == ["a"]


def test_crlf_and_bom_copies_are_duplicates_and_the_first_name_is_kept(tmp_path):
    table = "formula,band_gap (eV)\nNaCl,8.5\nGaAs,1.4\n"
    (tmp_path / "b_original.csv").write_text(table)
    (tmp_path / "a_windows.csv").write_bytes(table.replace("\n", "\r\n").encode())
    (tmp_path / "c_excel.csv").write_bytes(b"\xef\xbb\xbf" + table.encode())
    result = read_batches(tmp_path.iterdir(), REQUIRED)
    # sorted name order decides: a_windows is the one read, under its own name
    assert list(result.batches) == ["a_windows"]
    assert result.batches["a_windows"]["formula"].tolist() == ["NaCl", "GaAs"]
    skipped = result.files[result.files["status"] == "skipped"]
    assert skipped["reason"].tolist() == ["duplicate_content", "duplicate_content"]
    assert skipped["message"].str.contains("a_windows.csv").all()


def test_a_bom_does_not_hide_the_first_column(tmp_path):
    (tmp_path / "excel.csv").write_bytes(b"\xef\xbb\xbfformula,band_gap (eV)\nNaCl,8.5\n")
    assert list(read_batch(tmp_path / "excel.csv", REQUIRED).columns) == ["formula", "band_gap", "source_row"]


@pytest.mark.parametrize(
    "name",
    ["x" * 247 + ".csv", "my batch (copy).csv", "Bändlücke 2024 ✓.csv", "-rf.csv", "x" * 70 + ".csv"],
)
def test_odd_file_names_get_a_short_safe_batch_id(tmp_path, name):
    identifier = batch_id(name)
    assert len(identifier) <= MAX_BATCH_ID_LENGTH
    assert identifier.isascii() and identifier[0].isalnum()
    assert set(identifier) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    assert identifier != batch_id(name.replace(".csv", "2.csv"))  # the hash tells similar names apart
    (tmp_path / name).write_text("formula,band_gap (eV)\nNaCl,8.5\n")
    assert list(read_batches(tmp_path.iterdir(), REQUIRED).batches) == [identifier]


def test_plain_names_keep_their_stem_and_collisions_get_a_hash(tmp_path):
    assert batch_id("clean.csv") == "clean"
    (tmp_path / "x.csv").write_text("formula,band_gap (eV)\nNaCl,8.5\n")
    pd.DataFrame({"formula": ["ZnO"], "band_gap": [3.3]}).to_parquet(tmp_path / "x.parquet")
    batches = list(read_batches(tmp_path.iterdir(), REQUIRED).batches)
    assert batches[0] == "x" and batches[1].startswith("x-") and len(batches) == 2


def test_parquet_missing_values_are_empty_strings(tmp_path):
    pd.DataFrame({"formula": ["ZnO", "GaN"], "band_gap": [3.3, None]}).to_parquet(tmp_path / "p.parquet")
    frame = read_batch(tmp_path / "p.parquet", REQUIRED)
    assert frame["band_gap"].tolist() == ["3.3", ""]


def test_the_dataset_lists_every_entry_of_the_folder(folder):
    (folder / ".gitkeep").write_text("")
    loaded = PlantBatchesDataset(str(folder), required={"formula": None}, optional={"band_gap": "eV"}).load()
    assert len(loaded["files"]) == len(list(folder.iterdir()))
    assert set(loaded) == {"batches", "quarantine", "hashes", "files"}


def test_a_copy_dropped_later_under_a_name_that_sorts_first_keeps_nothing_of_the_scored_batch(tmp_path):
    """The first run scored ``line_b.csv``; a copy ``a_copy.csv`` (sorting first) dropped afterwards is
    the one skipped: the manifest of the scored files decides, not the names' order."""
    import json

    from matshift.io import PlantBatchesDataset

    folder, manifest = tmp_path / "plant", tmp_path / "expt_gap.manifest.json"
    folder.mkdir()
    table = "formula,band_gap (eV)\nNaCl,8.5\nGaAs,1.4\n"
    (folder / "line_b.csv").write_text(table)
    dataset = PlantBatchesDataset(str(folder), REQUIRED, manifest=str(manifest))
    assert list(dataset.load()["batches"]) == ["line_b"]
    # what the monitor node writes (the ledger's file names are the paths as printable text)
    manifest.write_text(json.dumps({"batches": {"line_b": {"file": str(folder / "line_b.csv"), "rows": 2}}}))
    (folder / "a_copy.csv").write_text(table)
    loaded = dataset.load()
    assert list(loaded["batches"]) == ["line_b"]
    skipped = loaded["files"].set_index("file").loc[str(folder / "a_copy.csv")]
    assert (skipped["status"], skipped["reason"]) == ("skipped", "duplicate_content")
    assert "line_b.csv" in skipped["message"]
    # without the manifest the name order decides (the documented rule for files new in the same run)
    assert list(PlantBatchesDataset(str(folder), REQUIRED).load()["batches"]) == ["a_copy"]
    manifest.write_text("{not json")
    assert list(dataset.load()["batches"]) == ["a_copy"]
