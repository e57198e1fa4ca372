"""Reading plant batches: nothing is lost, every file is accounted for, every error names the file.

A batch is one CSV or Parquet file in ``data/01_raw/plant/<dataset>/``. Every entry of the folder ends
in the file ledger (``BatchRead.files``) with a status and a reason:

- ``read``: its rows go on to validation (then scored or quarantined row by row);
- ``quarantined``: the file cannot be used as a whole: ``empty_file``, ``spreadsheet`` (xlsx/xls/ods:
  export it as CSV), ``binary_file``, ``unsupported_format``, ``bad_encoding``, ``missing_column``,
  ``unit_mismatch`` (``band_gap (meV)`` where ``eV`` is declared), ``unreadable``;
- ``skipped``: not a batch: ``hidden_file`` (leading dot), ``dvc_pointer`` (the ``.dvc`` file of a
  batch), ``readme``, ``not_a_file`` (a folder), ``duplicate_content`` (the same content as a file
  already read, also after CRLF -> LF and BOM normalisation, or seen in an earlier run).

Of two copies the first visited is kept (with its outputs): files an earlier run scored (its manifest's
``file`` names, ``known_files``) first, then the rest in sorted name order, whatever order the operating
system lists them in. A copy dropped later under a name that sorts first never takes over the scored
file's batch id and outputs. Each read file gets a batch id that is safe
as a file name and an MLflow run name: the file stem when it is short and plain, else a truncated slug
plus a hash of the full name (:func:`batch_id`).
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

logger = logging.getLogger(__name__)

READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
SPREADSHEET_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"})
QUARANTINE_COLUMNS = ["file", "sha256", "reason", "message"]
FILE_COLUMNS = ["file", "batch", "sha256", "status", "reason", "message"]
# "name (unit)" or "name [unit]" in a header
UNIT_HEADER = re.compile(r"^\s*(?P<name>.*?)\s*[\(\[]\s*(?P<unit>[^\)\]]+?)\s*[\)\]]\s*$")
# Batch ids end up in file names (<id>.parquet, <id>.html) and MLflow run names: short and plain.
MAX_BATCH_ID_LENGTH = 64
_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_NAME_HASH_LENGTH = 8
_SNIFF_BYTES = 8192  # enough of the head to tell a zip, an OLE2 file or NUL bytes from text
_ZIP_MAGIC, _OLE2_MAGIC, _PARQUET_MAGIC = b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"PAR1"
_UTF8_BOM = b"\xef\xbb\xbf"


class BatchReadError(ValueError):
    """A batch file that cannot be used, with a reason code (see the module docstring)."""

    def __init__(self, path: Path, reason: str, message: str):
        super().__init__(f"{display_name(path)}: {message}")
        self.path, self.reason, self.message = path, reason, message


@dataclass
class BatchRead:
    batches: dict[str, pd.DataFrame]  # batch id -> rows as strings, with source_row
    quarantine: pd.DataFrame  # one row per file quarantined (not read), with its reason
    hashes: dict[str, str]  # batch id -> sha256 of the file's bytes
    files: pd.DataFrame  # the ledger: one row per folder entry (FILE_COLUMNS), read, quarantined or skipped


def content_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def normalised_content_hash(data: bytes) -> str:
    """sha256 of the bytes with a UTF-8 BOM dropped and CRLF line ends as LF: a re-saved copy is a copy."""
    return hashlib.sha256(data.removeprefix(_UTF8_BOM).replace(b"\r\n", b"\n")).hexdigest()


def display_name(path: Path | str) -> str:
    """The path as printable text: undecodable bytes of a file name become U+FFFD instead of raising."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def batch_id(name: str, taken: Iterable[str] = ()) -> str:
    """A file-name and MLflow safe id for the batch file ``name``: its stem when short and plain
    (``clean.csv`` -> ``clean``), else an ASCII slug of at most ``MAX_BATCH_ID_LENGTH`` characters ending
    in ``-`` + 8 hex digits of the name's sha256; also that form when the plain stem is ``taken``."""
    stem = Path(name).stem
    if _PLAIN_ID.fullmatch(stem) and len(stem) <= MAX_BATCH_ID_LENGTH and stem not in set(taken):
        return stem
    ascii_stem = unicodedata.normalize("NFKD", display_name(stem)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_stem).strip("._-")
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:_NAME_HASH_LENGTH]
    return f"{slug[: MAX_BATCH_ID_LENGTH - _NAME_HASH_LENGTH - 1] or 'batch'}-{digest}"


def split_unit(header: str) -> tuple[str, str | None]:
    """``"band_gap (eV)"`` -> ``("band_gap", "eV")``; a header without a unit -> ``(header, None)``."""
    match = UNIT_HEADER.match(header)
    return (match["name"], match["unit"]) if match else (header.strip(), None)


def skip_reason(path: Path) -> str | None:
    """Why a folder entry is not a batch at all (listed as skipped), or None."""
    if path.name.startswith("."):
        return "hidden_file"
    if not path.is_file():
        return "not_a_file"
    if path.suffix.lower() == ".dvc":
        return "dvc_pointer"
    if path.name.lower() in ("readme.md", "readme.txt", "readme"):
        return "readme"
    return None


_SKIP_MESSAGES = {
    "hidden_file": "a hidden file (name starts with '.') is not read as a batch",
    "not_a_file": "not a regular file (a folder?): batches are files directly in the folder",
    "dvc_pointer": "a DVC pointer file; the batch it tracks is read under its own name",
    "readme": "documentation, not a batch",
}


def _check_kind(path: Path, head: bytes) -> str:
    """The reader for this file ('csv' / 'parquet'), or BatchReadError saying what the file is."""
    suffix = path.suffix.lower()
    is_zip, is_ole2 = head.startswith(_ZIP_MAGIC), head.startswith(_OLE2_MAGIC)
    if suffix in SPREADSHEET_SUFFIXES or is_ole2 or (is_zip and (b"xl/" in head or b"opendocument" in head)):
        raise BatchReadError(
            path, "spreadsheet", "a spreadsheet (xlsx/xls/ods): export it as CSV (UTF-8) and drop the CSV"
        )
    kind = READERS.get(suffix)
    if kind == "parquet":
        if not head.startswith(_PARQUET_MAGIC):
            raise BatchReadError(
                path, "unreadable", "not a Parquet file (no PAR1 header): save it as Parquet or CSV"
            )
        return kind
    if is_zip or b"\x00" in head:
        raise BatchReadError(
            path, "binary_file", "binary content, not a text table: save the batch as CSV (UTF-8) or Parquet"
        )
    if kind is None:
        raise BatchReadError(
            path, "unsupported_format", f"{path.suffix or 'no suffix'}: save the batch as CSV or Parquet"
        )
    return kind


def _check_columns(
    path: Path, frame: pd.DataFrame, required: Mapping[str, str | None], optional: Mapping[str, str | None]
) -> pd.DataFrame:
    """Rename ``name (unit)`` headers of declared columns to ``name`` after checking the unit; every
    required column present (an optional one, e.g. the target of an unlabelled batch, may be absent)."""
    declared = {**optional, **required}
    renamed = {}
    for header in frame.columns:
        name, unit = split_unit(str(header))
        if name in declared and unit is not None:
            expected = declared[name]
            if expected is not None and unit != expected:
                raise BatchReadError(
                    path,
                    "unit_mismatch",
                    f"column {header!r} is in {unit}, the dataset declares {name} in {expected}: convert the "
                    f"values (or the header) to {expected} and drop the file again",
                )
            renamed[header] = name
    frame = frame.rename(columns=renamed)
    missing = [name for name in required if name not in frame.columns]
    if missing:
        raise BatchReadError(
            path,
            "missing_column",
            f"required column(s) {missing} not found; the file has {list(map(str, frame.columns))}",
        )
    return frame


def read_batch(
    path: Path, required: Mapping[str, str | None], optional: Mapping[str, str | None] | None = None
) -> pd.DataFrame:
    """One batch as strings (``keep_default_na=False``: validation decides what is missing; a missing
    Parquet value is an empty string too), plus ``source_row`` (the line in a CSV, 1-based row + 1 in a
    Parquet file). ``required`` and ``optional`` map column names to their declared unit (None:
    unitless). Raises BatchReadError."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise BatchReadError(path, "empty_file", "the file is empty")
    with path.open("rb") as handle:
        kind = _check_kind(path, handle.read(_SNIFF_BYTES))
    try:
        if kind == "csv":
            # utf-8-sig: a byte-order mark (Excel's "CSV UTF-8") is not part of the first header
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        else:
            frame = pd.read_parquet(path).astype("string").fillna("").astype(object)
    except UnicodeDecodeError as error:
        raise BatchReadError(
            path, "bad_encoding", f"not UTF-8 ({error.reason} at byte {error.start}): save as UTF-8"
        ) from error
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError) as error:
        raise BatchReadError(path, "unreadable", f"cannot be parsed as {kind}: {error}") from error
    if frame.empty:
        raise BatchReadError(path, "empty_file", "the file has a header but no rows")
    frame = _check_columns(path, frame, required, optional or {})
    frame["source_row"] = range(2, len(frame) + 2)
    return frame


def read_batches(
    paths: Iterable[Path],
    required: Mapping[str, str | None],
    optional: Mapping[str, str | None] | None = None,
    seen_hashes: Iterable[str] = (),
    known_files: Iterable[str] = (),
) -> BatchRead:
    """Every readable batch; every other entry quarantined or skipped with its reason (module docstring).

    ``seen_hashes``: sha256 values (raw or normalised) of batches an earlier run already processed;
    ``known_files``: names of files an earlier run scored, visited first (they keep their outputs)."""
    seen = {digest: "an earlier run" for digest in seen_hashes}
    batches: dict[str, pd.DataFrame] = {}
    hashes: dict[str, str] = {}
    ledger: list[list[str]] = []
    known = {Path(name).name for name in known_files}  # the ledger's names are display paths
    paths = sorted(
        (Path(p) for p in paths), key=lambda path: (Path(display_name(path)).name not in known, path)
    )
    for path in paths:
        name = display_name(path)
        skipped = skip_reason(path)
        if skipped:
            ledger.append([name, "", "", "skipped", skipped, _SKIP_MESSAGES[skipped]])
            continue
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        normalised = normalised_content_hash(data)
        first = seen.get(digest) or seen.get(normalised)
        if data and first is not None:
            same = "bytes" if digest in seen else "content (after CRLF/BOM normalisation)"
            message = f"the same {same} as {first}: not read twice"
            logger.warning("plant batch file %s skipped: %s", name, message)
            ledger.append([name, "", digest, "skipped", "duplicate_content", message])
            continue
        seen.setdefault(digest, path.name)
        seen.setdefault(normalised, path.name)
        try:
            frame = read_batch(path, required, optional)
        except BatchReadError as error:
            ledger.append([name, "", digest, "quarantined", error.reason, error.message])
            continue
        batch = batch_id(path.name, taken=batches)
        batches[batch], hashes[batch] = frame, digest
        ledger.append([name, batch, digest, "read", "", ""])
    files = pd.DataFrame(ledger, columns=FILE_COLUMNS)
    quarantined = files.loc[files["status"] == "quarantined", QUARANTINE_COLUMNS].reset_index(drop=True)
    return BatchRead(batches, quarantined, hashes, files)
