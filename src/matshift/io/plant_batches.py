"""A read-only Kedro dataset: every plant batch file in a folder, read or quarantined.

Registered per dataset by ``DatasetDeclarationHooks`` as ``<dataset>.plant_batches`` on
``data/01_raw/plant/<dataset>/``, with the declared formula column required and the declared target
column optional (with its unit). Loading never fails on a bad file: see
:func:`matshift.monitoring.batches.read_batches`. Every entry of the folder (hidden files, the folder's
``.dvc`` pointers and README included) is handed over, so that each one is listed in the file ledger
(``files``) as read, quarantined or skipped. A missing folder is an empty set of batches. ``manifest``:
the last monitor run's predictions manifest; the files it scored are visited first, so of two copies
the one scored earlier keeps its batch id and outputs.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset

from matshift.monitoring.batches import FILE_COLUMNS, QUARANTINE_COLUMNS, READERS, read_batches

logger = logging.getLogger(__name__)


class PlantBatchesDataset(AbstractDataset[None, dict[str, Any]]):
    def __init__(
        self,
        folder: str,
        required: dict[str, str | None],
        optional: dict[str, str | None] | None = None,
        manifest: str | None = None,
    ):
        self._folder = Path(folder)
        self._required = dict(required)
        self._optional = dict(optional or {})
        self._manifest = None if manifest is None else Path(manifest)

    def _load(self) -> dict[str, Any]:
        entries = sorted(self._folder.iterdir()) if self._folder.is_dir() else []
        result = read_batches(entries, self._required, self._optional, known_files=self._scored_files())
        return {
            "batches": result.batches,
            "quarantine": result.quarantine,
            "hashes": result.hashes,
            "files": result.files,
        }

    def _scored_files(self) -> list[str]:
        """The files the last monitor run scored (its predictions manifest), so that a copy dropped later
        under another name is the one skipped; none when there is no readable manifest."""
        if self._manifest is None or not self._manifest.is_file():
            return []
        try:
            batches = json.loads(self._manifest.read_text()).get("batches") or {}
        except (OSError, ValueError, AttributeError):
            logger.warning("plant batches: manifest %s unreadable; files are visited by name", self._manifest)
            return []
        return [entry["file"] for entry in batches.values() if isinstance(entry, dict) and entry.get("file")]

    def _save(self, data: None) -> None:
        raise NotImplementedError(
            "plant batches are dropped into the folder by people, not written by the pipeline"
        )

    def _exists(self) -> bool:
        return self._folder.is_dir()

    def _describe(self) -> dict[str, Any]:
        return {
            "folder": str(self._folder),
            "required": self._required,
            "optional": self._optional,
            "manifest": None if self._manifest is None else str(self._manifest),
            "formats": sorted(set(READERS)),
            "quarantine_columns": QUARANTINE_COLUMNS,
            "file_columns": FILE_COLUMNS,
        }
