import pandas as pd
import pytest

from matshift.monitoring.batches import BatchReadError, read_batch, read_batches, split_unit

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
        "notes.xlsx": "unsupported_format",
        "latin1.csv": "bad_encoding",
        "no_target.csv": "missing_column",
        "millielectronvolt.csv": "unit_mismatch",
        "same_again.csv": "duplicate_batch",
    }
    # nothing is lost: every file is either read or quarantined
    assert len(result.batches) + len(result.quarantine) == len(list(folder.iterdir()))


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
    assert not again.batches and again.quarantine["reason"].tolist() == ["duplicate_batch"]


def test_split_unit():
    assert split_unit("band_gap (eV)") == ("band_gap", "eV")
    assert split_unit("T [K]") == ("T", "K")
    assert split_unit("formula") == ("formula", None)
