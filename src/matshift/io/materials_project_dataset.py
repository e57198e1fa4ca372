"""Kedro dataset for live Materials Project band gaps, cached locally so repeated runs do not refetch.

Catalog example (no ``credentials:`` entry needed: the key comes from ``MP_API_KEY`` or from
``conf/local/credentials.yml`` ``mp_api_key``)::

    mp_band_gaps_live:
      type: matshift.io.MaterialsProjectDataset
      cache_filepath: data/01_raw/materials_project/mp_band_gaps.parquet
      criteria:
        band_gap: [0.0, 20.0]
        deprecated: false

A sidecar ``<cache>.meta.json`` records the query, fetch time, client and database versions and row count
(never the key). A cache built for a different query is refetched, so the data always matches the catalog.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError

from matshift.ingest import materials_project as mp

logger = logging.getLogger(__name__)

_REDACTED = "<redacted>"


class MaterialsProjectKeyError(DatasetError):
    """No Materials Project API key is configured and no usable cache exists."""


def _normalise(value: Any) -> Any:
    # JSON round trip: tuples become lists, so a query read back from the sidecar compares equal.
    return json.loads(json.dumps(value, default=str, sort_keys=True))


def _atomic_write(path: Path, write: Any) -> None:
    """Write via ``write(tmp_path)`` to a temp file next to ``path``, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp_name))
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


class MaterialsProjectDataset(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """Materials Project band gaps fetched with ``mp-api`` and cached at ``cache_filepath``.

    Args:
        cache_filepath: Local cache (``.parquet`` or ``.csv``). Loaded instead of fetching when it exists
            and was built for the same query.
        criteria: Keyword arguments for ``MPRester().materials.summary.search``.
        fields: Summary fields to fetch; defaults to ``matshift.ingest.materials_project.DEFAULT_FIELDS``.
        credentials: ``{"mp_api_key": ...}`` (e.g. from a Kedro ``credentials:`` entry) or the bare key.
            Never shown in repr, logs or ``_init_config``.
        credentials_path: Kedro credentials file consulted when neither ``credentials`` nor ``MP_API_KEY``
            is set. ``None`` disables it.
        refresh: Refetch even when a matching cache exists.
        metadata: Free-form metadata for Kedro plugins; ignored here.
    """

    def __init__(
        self,
        cache_filepath: str,
        criteria: dict[str, Any] | None = None,
        fields: list[str] | None = None,
        credentials: dict[str, Any] | str | None = None,
        credentials_path: str | None = mp.DEFAULT_CREDENTIALS_PATH,
        refresh: bool = False,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._cache_filepath = Path(cache_filepath)
        if self._cache_filepath.suffix not in (".parquet", ".csv"):
            raise DatasetError(
                f"MaterialsProjectDataset: cache_filepath {cache_filepath!r} must end in .parquet or .csv."
            )
        self._criteria = dict(criteria or {})
        self._fields = list(fields) if fields else list(mp.DEFAULT_FIELDS)
        self._credentials = credentials
        self._credentials_path = credentials_path
        self._refresh = refresh
        self.metadata = metadata

    @property
    def _meta_path(self) -> Path:
        return self._cache_filepath.with_name(self._cache_filepath.name + ".meta.json")

    def _query(self) -> dict[str, Any]:
        return _normalise({"fields": mp.output_columns(self._fields), "criteria": self._criteria})

    # ------------------------------------------------------------------ Kedro interface

    def load(self) -> pd.DataFrame:
        stale_reason = ""
        if self._cache_filepath.is_file() and not self._refresh:
            cached_query = self._read_meta().get("query")
            if cached_query is None or cached_query == self._query():
                logger.info("Loading Materials Project data from cache %s", self._cache_filepath)
                return self._read_cache()
            stale_reason = f" The cache at {self._cache_filepath} was built for a different query."
            logger.info("Cache %s was built for a different query; refetching", self._cache_filepath)

        credentials = self._resolve_credentials()
        key = mp.resolve_mp_api_key(credentials)
        client = mp.mp_client_from_credentials(credentials) if key else None
        if client is None:
            raise MaterialsProjectKeyError(
                "No Materials Project API key is set, so live Materials Project data cannot be fetched. "
                f"Set the {mp.API_KEY_ENV} environment variable or put `{mp.CREDENTIALS_KEY}: <your key>` "
                f"in {self._credentials_path or mp.DEFAULT_CREDENTIALS_PATH} (get a key at "
                f"{mp.API_KEY_URL}). No usable cache at {self._cache_filepath}.{stale_reason}"
            )
        try:
            frame = mp.fetch_mp_band_gaps(client, self._fields, **self._criteria)
        except mp.MaterialsProjectError:
            raise
        except Exception as exc:
            # Drop the original traceback: its frames/locals could carry the key into a log.
            raise mp.scrub_error(exc, key) from None
        finally:
            _close(client)
        self._write_cache(frame, client)
        return frame

    def save(self, data: pd.DataFrame) -> None:
        raise DatasetError(
            "MaterialsProjectDataset is read-only: the Materials Project is the source of this data."
        )

    def _exists(self) -> bool:
        return self._cache_filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        # Deliberately no credentials: this dict is what Kedro prints for the dataset.
        return {
            "cache_filepath": str(self._cache_filepath),
            "criteria": self._criteria or None,
            "fields": self._fields,
            "refresh": self._refresh,
        }

    def _init_config(self) -> dict[str, Any]:
        # Kedro records the constructor arguments (catalog.to_config); keep the key out of them.
        config = super()._init_config()
        if config.get("credentials") is not None:
            config["credentials"] = _REDACTED
        return config

    # ------------------------------------------------------------------ helpers

    def _resolve_credentials(self) -> dict[str, Any] | str | None:
        if self._credentials is not None or os.environ.get(mp.API_KEY_ENV):
            return self._credentials
        if self._credentials_path:
            return mp.read_credentials_file(self._credentials_path)
        return None

    def _read_meta(self) -> dict[str, Any]:
        try:
            content = json.loads(self._meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # no sidecar: a cache put there by hand is trusted as is
        return content if isinstance(content, dict) else {}

    def _read_cache(self) -> pd.DataFrame:
        if self._cache_filepath.suffix == ".parquet":
            return pd.read_parquet(self._cache_filepath)
        frame = pd.read_csv(self._cache_filepath, dtype=str, keep_default_na=False)
        # Restore the dtypes a live fetch has (CSV stores everything as text, None as "").
        for column in frame.columns:
            if column == "target" or column in mp.FLOAT_FIELDS:
                frame[column] = pd.to_numeric(frame[column].replace("", None), errors="coerce")
            elif column in mp.BOOL_FIELDS:
                frame[column] = frame[column].map({"True": True, "False": False}).astype(object)
                frame[column] = frame[column].where(frame[column].notna(), None)
            else:
                frame[column] = frame[column].replace("", None)
        return frame

    def _write_cache(self, frame: pd.DataFrame, client: Any) -> None:
        if self._cache_filepath.suffix == ".parquet":
            _atomic_write(self._cache_filepath, lambda tmp: frame.to_parquet(tmp, index=False))
        else:
            _atomic_write(self._cache_filepath, lambda tmp: frame.to_csv(tmp, index=False))
        db_version = getattr(client, "db_version", None)
        meta = {
            "source": "Materials Project summary API (materials.summary.search) via mp-api",
            "citation": "A. Jain et al., APL Mater. 1, 011002 (2013)",
            "licence": "CC-BY-4.0 (Materials Project)",
            "query": self._query(),
            "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "mp_api_version": _package_version("mp-api"),
            "database_version": db_version if isinstance(db_version, str) else None,
            "rows": len(frame),
            "sha256": hashlib.sha256(self._cache_filepath.read_bytes()).hexdigest(),
        }
        text = json.dumps(meta, indent=2, sort_keys=True) + "\n"
        _atomic_write(self._meta_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        logger.info("Cached %d Materials Project rows at %s", len(frame), self._cache_filepath)


def _close(client: Any) -> None:
    # MPRester holds a requests session; close it like its context manager would.
    exit_method = getattr(client, "__exit__", None)
    if callable(exit_method):
        try:
            exit_method(None, None, None)
        except Exception:  # closing is best effort and must not hide the fetch result
            logger.debug("Closing the Materials Project client failed", exc_info=True)


def _package_version(name: str) -> str | None:
    try:
        return importlib_metadata.version(name)
    except importlib_metadata.PackageNotFoundError:
        return None
