"""Pickled models kept as bytes until their hash is checked: the challengers a monitor run evaluates.

A monitor run pickles each challenger itself and records the sha256 of those bytes in the batch's
decision (``summary.json``, ``proposal.json``); this dataset writes and reads the bytes unchanged, so the
promote step can check them against the proposal *before* anything is unpickled (a pickle runs code when
it is loaded: a challenger file replaced after the monitor run is refused, never loaded).
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset


def pickled(model: Any) -> tuple[bytes, str]:
    """The model's pickle and its sha256."""
    data = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    return data, hashlib.sha256(data).hexdigest()


class BytesDataset(AbstractDataset[bytes, bytes]):
    """A file's bytes, written whole (to a temporary name, then renamed) and read back as they are."""

    def __init__(self, filepath: str):
        self._filepath = Path(filepath)

    def _load(self) -> bytes:
        return self._filepath.read_bytes()

    def _save(self, data: bytes) -> None:
        if not isinstance(data, bytes):
            raise TypeError(f"{self._filepath}: expected bytes (a pinned pickle), got {type(data).__name__}")
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        partial = self._filepath.with_name(self._filepath.name + ".partial")
        partial.write_bytes(data)
        partial.replace(self._filepath)

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
