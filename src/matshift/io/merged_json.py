"""A JSON file that several runs share: saving merges top-level keys into what the file already holds.

``data/08_reporting/metrics.json`` is ``{dataset: {split: {model: {metric: value}}}}``. A run of one
dataset (``kedro run --namespaces hea_hardness``) must update that dataset's entry and keep the others, so
the node stays pure (it returns ``{dataset: metrics}``) and this dataset does the merge on save: read the
file, replace the saved keys, write a temporary file and rename it (no reader ever sees half a file).
A lock file serialises concurrent writers (e.g. a ParallelRunner) where ``fcntl`` exists.

Catalog example::

    metrics:
      type: matshift.io.MergedJSONDataset
      filepath: data/08_reporting/metrics.json
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; the sequential runner never writes concurrently
    fcntl = None  # type: ignore[assignment]


class MergedJSONDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """JSON object file; ``save`` replaces the given top-level keys and keeps every other key."""

    def __init__(self, filepath: str, indent: int = 2) -> None:
        self._filepath = Path(filepath)
        self._indent = indent

    def load(self) -> dict[str, Any]:
        if not self._filepath.is_file():
            raise DatasetError(f"{self._filepath} does not exist yet: run the evaluate stage first")
        return self._read()

    def save(self, data: dict[str, Any]) -> None:
        if not isinstance(data, dict):
            raise DatasetError(f"{self._filepath}: can only merge a JSON object, got {type(data).__name__}")
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        with self._locked():
            merged = self._read() if self._filepath.is_file() else {}
            merged.update(data)
            fd, tmp_name = tempfile.mkstemp(
                prefix=f".{self._filepath.name}.", suffix=".part", dir=self._filepath.parent
            )
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(merged, handle, indent=self._indent)
                os.replace(tmp_name, self._filepath)
            except BaseException:
                Path(tmp_name).unlink(missing_ok=True)
                raise

    def _read(self) -> dict[str, Any]:
        try:
            content = json.loads(self._filepath.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{self._filepath} is not valid JSON ({exc}); fix or delete it") from None
        if not isinstance(content, dict):
            raise DatasetError(f"{self._filepath} holds {type(content).__name__}, expected a JSON object")
        return content

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if fcntl is None:
            yield
            return
        lock_path = self._filepath.with_name(f".{self._filepath.name}.lock")
        with open(lock_path, "w", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "indent": self._indent}
