"""SourceDataset: sha256 pinning, fetching from a mirror, clear errors, raw-string reading. No network."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from kedro.io import DatasetError

from matshift.io import (
    MIRROR_ENV,
    SourceChecksumError,
    SourceDataset,
    SourceFormatError,
    SourceUnavailableError,
    sha256_file,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CSV_TEXT = "formula,target\nSiO2,8.9\nNaCl,n/a\nFe,\n"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(autouse=True)
def no_mirror_no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Clear the mirror set by conftest and make any URL open fail, recording what was tried."""
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    opened: list[str] = []

    def refuse(request: urllib.request.Request | str, *args: object, **kwargs: object) -> None:
        opened.append(request.full_url if isinstance(request, urllib.request.Request) else request)
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    return opened


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_loads_raw_strings_with_source_row(tmp_path: Path) -> None:
    path = _write(tmp_path / "src" / "gaps.csv", CSV_TEXT.encode())
    frame = SourceDataset(str(path), sha256=_sha(CSV_TEXT.encode())).load()

    assert list(frame.columns) == ["formula", "target", "source_row"]
    # Raw values exactly as written: no NaN, no float conversion.
    assert frame["target"].tolist() == ["8.9", "n/a", ""]
    assert frame["source_row"].tolist() == [2, 3, 4]
    assert frame["source_row"].dtype == "int64"


def test_source_row_counts_blank_lines_and_multiline_fields(tmp_path: Path) -> None:
    text = 'formula,note\nSiO2,ok\n\nNaCl,"two\nlines"\nFe,last\n'
    path = _write(tmp_path / "gaps.csv", text.encode())
    frame = SourceDataset(str(path)).load()

    assert frame["formula"].tolist() == ["SiO2", "NaCl", "Fe"]
    assert frame["source_row"].tolist() == [2, 4, 6]


def test_embedded_matbench_files_match_pinned_hashes() -> None:
    expected = {
        "expt_gap.csv": ("3de82c37f1db3ab9bbd92366c96633f131913ded5db0969eb36216bdd11cef2f", 4604),
        "mp_gap.csv": ("4084e584467e6f81ec8bf12c438eeb2c049ae39e11401bae694ef6a9983b9d9f", 106113),
    }
    for name, (sha256, rows) in expected.items():
        path = PROJECT_ROOT / "data" / "01_raw" / "matbench" / name
        frame = SourceDataset(str(path), sha256=sha256).load()
        assert len(frame) == rows
        assert frame["source_row"].iloc[-1] == rows + 1


def test_sha256_mismatch_names_file_and_both_hashes(tmp_path: Path) -> None:
    path = _write(tmp_path / "gaps.csv", CSV_TEXT.encode())
    wrong = "0" * 64

    with pytest.raises(SourceChecksumError) as excinfo:
        SourceDataset(str(path), sha256=wrong).load()

    message = str(excinfo.value)
    assert str(path) in message
    assert wrong in message
    assert _sha(CSV_TEXT.encode()) in message
    assert isinstance(excinfo.value, DatasetError)  # so Kedro re-raises it unwrapped


def test_missing_file_fetched_from_folder_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = CSV_TEXT.encode()
    mirror = tmp_path / "mirror"
    _write(mirror / "mpea_borg2020" / "MPEA_dataset.csv", data)
    target = tmp_path / "data" / "01_raw" / "mpea_borg2020" / "MPEA_dataset.csv"
    monkeypatch.setenv(MIRROR_ENV, str(mirror))

    dataset = SourceDataset(str(target), sha256=_sha(data), url="https://example.org/MPEA_dataset.csv")
    assert not dataset.exists()
    frame = dataset.load()

    assert target.read_bytes() == data
    assert dataset.exists()
    assert len(frame) == 3
    # No temp files left next to the fetched file.
    assert sorted(p.name for p in target.parent.iterdir()) == ["MPEA_dataset.csv"]


def test_explicit_mirror_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = CSV_TEXT.encode()
    _write(tmp_path / "mirror" / "elsewhere" / "renamed.csv", data)
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path / "mirror"))

    target = tmp_path / "raw" / "gaps.csv"
    SourceDataset(str(target), sha256=_sha(data), mirror_name="elsewhere/renamed.csv").load()

    assert sha256_file(target) == _sha(data)


def test_mirror_copy_with_wrong_hash_is_rejected_and_not_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path / "mirror" / "raw" / "gaps.csv", b"formula,target\ntampered,1\n")
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path / "mirror"))
    target = tmp_path / "raw" / "gaps.csv"

    with pytest.raises(SourceChecksumError, match="expected " + _sha(CSV_TEXT.encode())):
        SourceDataset(str(target), sha256=_sha(CSV_TEXT.encode())).load()

    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_http_mirror_and_url_are_tried_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_mirror_no_network: list[str]
) -> None:
    monkeypatch.setenv(MIRROR_ENV, "https://mirror.example.org/data/")
    target = tmp_path / "calisol23" / "calisol23.csv"

    with pytest.raises(SourceUnavailableError):
        SourceDataset(str(target), url="https://upstream.example.org/calisol23.csv").load()

    assert no_mirror_no_network == [
        "https://mirror.example.org/data/calisol23/calisol23.csv",
        "https://upstream.example.org/calisol23.csv",
    ]


def test_url_download_is_verified_and_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = CSV_TEXT.encode()

    class FakeResponse:
        def __init__(self) -> None:
            self._remaining = data

        def read(self, size: int = -1) -> bytes:
            chunk, self._remaining = self._remaining[:size], self._remaining[size:]
            return chunk

        def __enter__(self) -> FakeResponse:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    monkeypatch.setattr(urllib.request, "urlopen", lambda request, timeout=None: FakeResponse())
    target = tmp_path / "raw" / "gaps.csv"

    frame = SourceDataset(str(target), sha256=_sha(data), url="https://example.org/gaps.csv").load()

    assert target.read_bytes() == data
    assert frame["formula"].tolist() == ["SiO2", "NaCl", "Fe"]


def test_missing_file_without_mirror_or_network_explains_how_to_get_it(
    tmp_path: Path, no_mirror_no_network: list[str]
) -> None:
    target = tmp_path / "data" / "01_raw" / "mpea_borg2020" / "MPEA_dataset.csv"
    url = "https://raw.githubusercontent.com/CitrineInformatics/MPEA_dataset/master/MPEA_dataset.csv"

    with pytest.raises(SourceUnavailableError) as excinfo:
        SourceDataset(str(target), sha256="a" * 64, url=url).load()

    message = str(excinfo.value)
    assert str(target) in message  # which file is missing / where to put it
    assert str(target.resolve()) in message
    assert url in message  # where to download it from
    assert MIRROR_ENV in message and "mpea_borg2020/MPEA_dataset.csv" in message
    assert no_mirror_no_network == [url]  # the download was attempted, through the patched urllib only
    assert not target.exists()


def test_missing_file_with_no_url_still_mentions_mirror(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailableError, match=MIRROR_ENV):
        SourceDataset(str(tmp_path / "x" / "y.csv")).load()


def test_empty_file_is_a_format_error_naming_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "empty.csv", b"")
    with pytest.raises(SourceFormatError) as excinfo:
        SourceDataset(str(path)).load()
    assert str(path) in str(excinfo.value)
    assert "empty" in str(excinfo.value)


def test_blank_lines_only_is_a_format_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "blank.csv", b"\n\n")
    with pytest.raises(SourceFormatError, match="no header"):
        SourceDataset(str(path)).load()


def test_binary_file_is_a_format_error_naming_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "image.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(SourceFormatError) as excinfo:
        SourceDataset(str(path)).load()
    assert str(path) in str(excinfo.value)
    assert "binary" in str(excinfo.value)


def test_wrong_encoding_is_a_format_error_with_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "latin1.csv", "formula,note\nSiO2,ok\nFe,Müller\n".encode("latin-1"))
    with pytest.raises(SourceFormatError) as excinfo:
        SourceDataset(str(path)).load()
    message = str(excinfo.value)
    assert str(path) in message and "utf-8" in message and "line 3" in message

    # With the right encoding the same file reads fine.
    frame = SourceDataset(str(path), encoding="latin-1").load()
    assert frame["note"].tolist() == ["ok", "Müller"]


def test_ragged_rows_and_repeated_header_are_format_errors(tmp_path: Path) -> None:
    ragged = _write(tmp_path / "ragged.csv", b"a,b\n1,2\n3,4,5\n")
    with pytest.raises(SourceFormatError, match="could not be parsed"):
        SourceDataset(str(ragged)).load()

    repeated = _write(tmp_path / "repeated.csv", b"a,a\n1,2\n")
    with pytest.raises(SourceFormatError, match="repeats column"):
        SourceDataset(str(repeated)).load()


def test_utf8_bom_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "bom.csv", b"\xef\xbb\xbf" + CSV_TEXT.encode())
    assert SourceDataset(str(path)).load().columns[0] == "formula"


def test_parquet_is_read_as_strings(tmp_path: Path) -> None:
    path = tmp_path / "gaps.parquet"
    pd.DataFrame({"formula": ["SiO2", None], "target": [8.9, float("nan")]}).to_parquet(path)

    frame = SourceDataset(str(path), file_format="parquet").load()

    assert frame["formula"].tolist() == ["SiO2", ""]
    assert frame["target"].tolist() == ["8.9", ""]
    assert frame["source_row"].tolist() == [2, 3]


def test_corrupt_parquet_is_a_format_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.parquet", b"not parquet at all")
    with pytest.raises(SourceFormatError, match="bad.parquet"):
        SourceDataset(str(path), file_format="parquet").load()


def test_save_is_refused_and_describe_is_informative(tmp_path: Path) -> None:
    path = _write(tmp_path / "gaps.csv", CSV_TEXT.encode())
    dataset = SourceDataset(str(path), sha256=_sha(CSV_TEXT.encode()))

    with pytest.raises(DatasetError, match="read-only"):
        dataset.save(pd.DataFrame({"a": [1]}))
    assert path.read_bytes() == CSV_TEXT.encode()
    assert str(path) in repr(dataset) and "sha256" in repr(dataset)


def test_unknown_format_is_rejected() -> None:
    with pytest.raises(DatasetError, match="unsupported file_format"):
        SourceDataset("x.xlsx", file_format="xlsx")


def test_catalog_entry_builds_the_dataset(tmp_path: Path) -> None:
    from kedro.io import DataCatalog

    path = _write(tmp_path / "gaps.csv", CSV_TEXT.encode())
    catalog = DataCatalog.from_config(
        {
            "raw": {
                "type": "matshift.io.SourceDataset",
                "filepath": str(path),
                "sha256": _sha(path.read_bytes()),
            }
        }
    )
    assert catalog.load("raw")["source_row"].tolist() == [2, 3, 4]
