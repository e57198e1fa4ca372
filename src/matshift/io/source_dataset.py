"""A read-only Kedro dataset for raw source files: fetched on demand, verified, read as raw strings.

Raw files that may not be committed (licence, size) are fetched on first use, first from a data mirror
(environment variable ``MATSHIFT_DATA_MIRROR``: a local folder or an http(s) URL), else from the public
``url``. Every load verifies the pinned sha256, so a silently changed upstream file cannot leak into a run.

Every column is read as a string and missing cells stay as ``""`` so that validation sees exactly what the
file says ("n/a", "1,5", "<0.1" ...) instead of pandas' guesses. A ``source_row`` column carries the 1-based
line number in the file (the header is line 1), so validation messages can point at the offending line.

Catalog example::

    mpea_raw:
      type: matshift.io.SourceDataset
      filepath: data/01_raw/mpea_borg2020/MPEA_dataset.csv
      sha256: c5504d93fd324d1be26cf814d0694ee9ee95578d68a0b38aba6813b939fa2c5d
      url: https://example.org/MPEA_dataset.csv
"""

from __future__ import annotations

import csv
import hashlib
import http.client
import io
import logging
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
from kedro.io import AbstractDataset, DatasetError

logger = logging.getLogger(__name__)

MIRROR_ENV = "MATSHIFT_DATA_MIRROR"
SOURCE_ROW_COLUMN = "source_row"
SUPPORTED_FORMATS = ("csv", "parquet")
_DOWNLOAD_TIMEOUT_S = 60
_CHUNK = 1 << 20
# A NUL byte in the first few KiB is the cheapest reliable sign of a binary (not text) file.
_BINARY_SNIFF_BYTES = 8192
_URL_SCHEMES = ("http://", "https://", "file://")


class SourceError(DatasetError):
    """Base class of the source-file errors. A ``DatasetError`` so Kedro re-raises it unwrapped."""


class SourceUnavailableError(SourceError):
    """The source file is missing locally and could not be fetched from the mirror or its URL."""


class SourceFormatError(SourceError):
    """The source file exists but cannot be read as the declared format (empty, binary, bad encoding...)."""


class SourceChecksumError(SourceError):
    """The source file's sha256 differs from the pinned one."""


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, streamed so large files do not need to fit in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_url(location: str) -> bool:
    return location.lower().startswith(_URL_SCHEMES)


class SourceDataset(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """Read-only raw source file (CSV or Parquet) with fetch-on-demand and sha256 verification.

    Args:
        filepath: Where the file lives locally (relative paths are relative to the working directory,
            which is the project root under ``kedro run``).
        sha256: Expected hex digest. When given, every load (and every fetch) is verified against it.
        url: Public download URL used when the file is missing and no mirror holds it.
        mirror_name: Path of the file inside the mirror; defaults to the last two parts of ``filepath``
            (e.g. ``mpea_borg2020/MPEA_dataset.csv``).
        file_format: ``"csv"`` or ``"parquet"``.
        encoding: Text encoding of a CSV file. A UTF-8 byte-order mark is tolerated.
        load_args: Extra keyword arguments for ``pandas.read_csv`` / ``pandas.read_parquet``; they override
            the raw-string defaults.
    """

    def __init__(
        self,
        filepath: str,
        sha256: str | None = None,
        url: str | None = None,
        mirror_name: str | None = None,
        file_format: str = "csv",
        encoding: str = "utf-8",
        load_args: dict[str, Any] | None = None,
    ) -> None:
        if file_format not in SUPPORTED_FORMATS:
            raise DatasetError(
                f"SourceDataset({filepath!r}): unsupported file_format {file_format!r}; "
                f"use one of {', '.join(SUPPORTED_FORMATS)}."
            )
        self._filepath = Path(filepath)
        self._sha256 = sha256.strip().lower() if sha256 else None
        self._url = url
        self._mirror_name = mirror_name or str(PurePosixPath(*self._filepath.parts[-2:]))
        self._file_format = file_format
        self._encoding = encoding
        self._load_args = dict(load_args or {})

    # ------------------------------------------------------------------ Kedro interface

    def load(self) -> pd.DataFrame:
        if not self._filepath.is_file():
            self._fetch()
        # Read the bytes once: the bytes that were verified are exactly the bytes that get parsed.
        data = self._filepath.read_bytes()
        if self._sha256:
            actual = hashlib.sha256(data).hexdigest()
            if actual != self._sha256:
                raise SourceChecksumError(self._checksum_message(str(self._filepath), actual))
        if self._file_format == "parquet":
            return self._read_parquet(data)
        return self._read_csv(data)

    def save(self, data: pd.DataFrame) -> None:
        raise DatasetError(
            f"SourceDataset({self._filepath}) is read-only: raw source files are never overwritten. "
            "Write derived data to another dataset."
        )

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": str(self._filepath),
            "sha256": self._sha256,
            "url": self._url,
            "mirror_name": self._mirror_name,
            "file_format": self._file_format,
            "encoding": self._encoding,
            "load_args": self._load_args or None,
        }

    # ------------------------------------------------------------------ fetching

    def _fetch(self) -> None:
        """Fetch the missing file from the mirror, else from ``url``; raise if neither works."""
        attempts: list[str] = []
        mirror = os.environ.get(MIRROR_ENV, "").strip()
        if mirror:
            if _is_url(mirror):
                location = mirror.rstrip("/") + "/" + urllib.parse.quote(self._mirror_name)
            else:
                location = str(Path(mirror).expanduser() / self._mirror_name)
            if self._try_fetch(location, attempts):
                return
        if self._url and self._try_fetch(self._url, attempts):
            return
        raise SourceUnavailableError(self._unavailable_message(attempts))

    def _try_fetch(self, location: str, attempts: list[str]) -> bool:
        """Copy ``location`` to the target path atomically. Returns False (and records why) on failure."""
        try:
            if _is_url(location):
                request = urllib.request.Request(location, headers={"User-Agent": "matshift-source-fetch"})
                with urllib.request.urlopen(request, timeout=_DOWNLOAD_TIMEOUT_S) as response:
                    self._write_verified(response, location)
            else:
                if not Path(location).is_file():
                    attempts.append(f"{location}: no such file")
                    return False
                with open(location, "rb") as handle:
                    self._write_verified(handle, location)
        except SourceChecksumError:
            # A wrong file on the mirror or upstream is a real problem to fix, not something to skip past.
            raise
        # HTTPException covers truncated downloads (IncompleteRead), which are not OSErrors.
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            attempts.append(f"{location}: {exc}")
            return False
        return True

    def _write_verified(self, stream: BinaryIO, location: str) -> None:
        """Stream into a temp file next to the target, verify, then rename so no half-file is ever seen."""
        target = self._filepath
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as tmp:
                for chunk in iter(lambda: stream.read(_CHUNK), b""):
                    digest.update(chunk)
                    tmp.write(chunk)
            actual = digest.hexdigest()
            if self._sha256 and actual != self._sha256:
                raise SourceChecksumError(
                    self._checksum_message(f"{target} (fetched from {location})", actual)
                )
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        if self._sha256:
            logger.info("Fetched %s from %s (sha256 verified)", target, location)
        else:
            # Log the hash so it can be pinned in the catalog; without a pin nothing guards the content.
            logger.warning("Fetched %s from %s without a pinned sha256 (actual %s)", target, location, actual)

    def _unavailable_message(self, attempts: list[str]) -> str:
        lines = [f"Source file is missing: {self._filepath} (nothing found to fetch it from)."]
        if self._url:
            lines.append(f"Download it from {self._url}")
        else:
            lines.append("No download URL is configured for it; obtain it from its original source")
        lines.append(f"and put it at {self._filepath.resolve()}")
        lines.append(f"or set {MIRROR_ENV} to a folder (or http(s) URL) holding it as '{self._mirror_name}'.")
        if attempts:
            lines.append("Tried:")
            lines.extend(f"  - {attempt}" for attempt in attempts)
        return "\n".join(lines)

    def _checksum_message(self, what: str, actual: str) -> str:
        return (
            f"sha256 mismatch for source file {what}: expected {self._sha256}, got {actual}. "
            "The file differs from the pinned version; restore the original file or, if the source was "
            "deliberately updated, review it and update the pinned sha256."
        )

    # ------------------------------------------------------------------ reading

    def _format_error(self, problem: str) -> SourceFormatError:
        return SourceFormatError(
            f"Cannot read source file {self._filepath} as {self._file_format}: {problem}"
        )

    def _read_csv(self, data: bytes) -> pd.DataFrame:
        if not data:
            raise self._format_error("the file is empty (0 bytes).")
        if b"\x00" in data[:_BINARY_SNIFF_BYTES]:
            raise self._format_error("it contains NUL bytes, so it looks like a binary file, not CSV text.")
        try:
            text = data.decode(self._encoding)
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise self._format_error(
                f"it is not valid {self._encoding} text (byte 0x{data[exc.start]:02x} at line {line}, "
                f"offset {exc.start}); set `encoding` to the file's real encoding."
            ) from None
        except LookupError:
            raise self._format_error(f"unknown encoding {self._encoding!r}.") from None
        # Drop a byte-order mark, otherwise it becomes part of the first column's name.
        text = text.removeprefix("\ufeff")

        read_args: dict[str, Any] = {"dtype": str, "keep_default_na": False}
        read_args.update(self._load_args)
        try:
            frame = pd.read_csv(io.StringIO(text), **read_args)
        except pd.errors.EmptyDataError:
            raise self._format_error("there is no header row (the file holds only blank lines).") from None
        except (pd.errors.ParserError, ValueError) as exc:
            raise self._format_error(f"the CSV could not be parsed: {exc}") from None

        self._check_header(frame, text, read_args)
        frame[SOURCE_ROW_COLUMN] = self._csv_line_numbers(text, len(frame), read_args)
        return frame

    def _check_header(self, frame: pd.DataFrame, text: str, read_args: dict[str, Any]) -> None:
        if SOURCE_ROW_COLUMN in frame.columns:
            raise self._format_error(
                f"it already has a column named {SOURCE_ROW_COLUMN!r}, which is reserved."
            )
        if read_args.get("header", "infer") not in ("infer", 0) or "names" in read_args:
            return
        # pandas silently renames a repeated header ("a", "a.1"); a repeated column name is ambiguous data.
        sep = read_args.get("sep", read_args.get("delimiter", ","))
        if not isinstance(sep, str) or len(sep) != 1:
            return
        header = next(csv.reader(io.StringIO(text), delimiter=sep), [])
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:
            raise self._format_error(f"the header repeats column name(s) {repeated}.")

    def _csv_line_numbers(self, text: str, n_rows: int, read_args: dict[str, Any]) -> np.ndarray:
        """1-based line number of each data row, header = line 1."""
        n_lines = text.count("\n") + (0 if text.endswith("\n") else 1)
        if n_rows == n_lines - 1:
            # Common case: one physical line per row, so row i sits on line i + 2.
            return np.arange(2, n_rows + 2, dtype=np.int64)
        # Blank lines or quoted fields spanning lines: find where each record starts with the csv module.
        sep = read_args.get("sep", read_args.get("delimiter", ","))
        skip_blank = read_args.get("skip_blank_lines", True)
        starts: list[int] = []
        if isinstance(sep, str) and len(sep) == 1:
            reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
            previous_end = 0
            for record in reader:
                start, previous_end = previous_end + 1, reader.line_num
                if skip_blank and not record:
                    continue
                starts.append(start)
            starts = starts[1:]  # the header record
        if len(starts) >= n_rows:
            return np.asarray(starts[:n_rows], dtype=np.int64)
        logger.warning(
            "Could not map rows of %s to line numbers with load_args %s; source_row is the row position + 2",
            self._filepath,
            self._load_args,
        )
        return np.arange(2, n_rows + 2, dtype=np.int64)

    def _read_parquet(self, data: bytes) -> pd.DataFrame:
        if not data:
            raise self._format_error("the file is empty (0 bytes).")
        try:
            frame = pd.read_parquet(io.BytesIO(data), **self._load_args)
        except Exception as exc:  # pyarrow raises several unrelated types for corrupt input
            raise self._format_error(f"{type(exc).__name__}: {exc}") from None
        # A named/non-default index is data written by whoever made the file: keep it as a column.
        frame = frame.reset_index(drop=isinstance(frame.index, pd.RangeIndex))
        if SOURCE_ROW_COLUMN in frame.columns:
            raise self._format_error(
                f"it already has a column named {SOURCE_ROW_COLUMN!r}, which is reserved."
            )
        # Same raw-string view as CSV: missing values become "" (like keep_default_na=False), others str().
        for column in frame.columns:
            frame[column] = [("" if _is_missing(value) else str(value)) for value in frame[column]]
        frame = frame.astype(object)
        # Parquet has no lines; numbering as the equivalent CSV (header = line 1) keeps messages uniform.
        frame[SOURCE_ROW_COLUMN] = np.arange(2, len(frame) + 2, dtype=np.int64)
        return frame


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # arrays / lists inside a cell are not missing
        return False
