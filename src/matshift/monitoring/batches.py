"""Reading plant batches: nothing is lost, every error names the file and what to do about it.

A batch is one CSV or Parquet file in ``data/01_raw/plant/<dataset>/``. A file that cannot be used
as a whole — empty, neither CSV nor Parquet, not UTF-8, a required column missing, a column whose
header carries another unit than the declared one (``band_gap (meV)`` where ``eV`` is declared) —
is recorded in the batch quarantine with a reason code and a message; the other batches are still
read. A file whose bytes were already seen (same sha256) is recorded as a duplicate and not read
again, so a batch dropped twice is not counted twice.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
QUARANTINE_COLUMNS = ["file", "sha256", "reason", "message"]
# "name (unit)" or "name [unit]" in a header
UNIT_HEADER = re.compile(r"^\s*(?P<name>.*?)\s*[\(\[]\s*(?P<unit>[^\)\]]+?)\s*[\)\]]\s*$")


class BatchReadError(ValueError):
    """A batch file that cannot be used, with a reason code (``empty_file``, ``unsupported_format``,
    ``bad_encoding``, ``missing_column``, ``unit_mismatch``, ``unreadable``)."""

    def __init__(self, path: Path, reason: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path, self.reason, self.message = path, reason, message


@dataclass
class BatchRead:
    batches: dict[str, pd.DataFrame]  # batch name (file stem) -> rows as strings, with source_row
    quarantine: pd.DataFrame  # one row per file not read, with its reason
    hashes: dict[str, str]  # batch name -> sha256 of the file's bytes


def content_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def split_unit(header: str) -> tuple[str, str | None]:
    """``"band_gap (eV)"`` -> ``("band_gap", "eV")``; a header without a unit -> ``(header, None)``."""
    match = UNIT_HEADER.match(header)
    return (match["name"], match["unit"]) if match else (header.strip(), None)


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
    """One batch as strings (``keep_default_na=False``: validation decides what is missing), plus
    ``source_row`` (the line in a CSV, 1-based row + 1 in a Parquet file). ``required`` and
    ``optional`` map column names to their declared unit (None: unitless). Raises BatchReadError."""
    path = Path(path)
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise BatchReadError(
            path, "unsupported_format", f"{path.suffix or 'no suffix'}: save the batch as CSV or Parquet"
        )
    if path.stat().st_size == 0:
        raise BatchReadError(path, "empty_file", "the file is empty")
    try:
        if kind == "csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        else:
            frame = pd.read_parquet(path).astype(str)
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
) -> BatchRead:
    """Every readable batch; the others (and repeats of bytes already seen) in the quarantine."""
    seen = set(seen_hashes)
    batches, hashes, quarantined = {}, {}, []
    for path in sorted(Path(p) for p in paths):
        digest = content_hash(path)
        if digest in seen:
            quarantined.append(
                [str(path), digest, "duplicate_batch", "the same bytes were already processed"]
            )
            continue
        seen.add(digest)
        try:
            batches[path.stem] = read_batch(path, required, optional)
            hashes[path.stem] = digest
        except BatchReadError as error:
            quarantined.append([str(path), digest, error.reason, error.message])
    return BatchRead(batches, pd.DataFrame(quarantined, columns=QUARANTINE_COLUMNS), hashes)
