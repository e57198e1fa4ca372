"""Live Materials Project band-gap ingestion through the official ``mp-api`` client.

The API key is a secret: it is read from ``MP_API_KEY`` or from ``conf/local/credentials.yml`` (key
``mp_api_key``; that folder is git-ignored) and is only ever handed to ``MPRester``. It is never logged,
printed, put in a repr, or written to a cache file.

``MPRester().materials.summary.search(fields=[...], **criteria)`` returns a list of documents. With the
default ``use_document_model=True`` they are pydantic ``MPDataDoc`` objects holding only the requested
fields as attributes (``material_id`` is an ``MPID``; ``str()`` gives ``"mp-149"``). With
``use_document_model=False`` they are plain dicts straight from the REST response. Both are supported.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

if TYPE_CHECKING:  # importing mp_api pulls in pymatgen (seconds); only do it when a client is built
    from mp_api.client import MPRester

logger = logging.getLogger(__name__)

API_KEY_ENV = "MP_API_KEY"
CREDENTIALS_KEY = "mp_api_key"
DEFAULT_CREDENTIALS_PATH = "conf/local/credentials.yml"
API_KEY_URL = "https://next-gen.materialsproject.org/api"

# Summary fields fetched by default; the first three are always requested because the output needs them.
REQUIRED_FIELDS: tuple[str, ...] = ("material_id", "formula_pretty", "band_gap")
DEFAULT_FIELDS: tuple[str, ...] = (
    *REQUIRED_FIELDS,
    "is_stable",
    "energy_above_hull",
    "is_gap_direct",
    "is_metal",
)
# Output column names for renamed summary fields; other fields keep their summary name.
_RENAMED = {"formula_pretty": "formula", "band_gap": "target"}
# Known value types, so a CSV cache reads back with the same dtypes as a live fetch.
FLOAT_FIELDS = {"band_gap", "energy_above_hull", "formation_energy_per_atom", "density", "volume"}
BOOL_FIELDS = {"is_stable", "is_gap_direct", "is_metal", "theoretical", "deprecated", "is_magnetic"}


class MaterialsProjectError(RuntimeError):
    """A Materials Project request failed (message scrubbed of the API key)."""


def output_columns(fields: Iterable[str]) -> list[str]:
    """Column order of the frame ``fetch_mp_band_gaps`` returns for ``fields``."""
    extras = [f for f in _with_required(fields) if f not in REQUIRED_FIELDS]
    return ["formula", "target", "material_id", *extras]


def _with_required(fields: Iterable[str]) -> list[str]:
    # dict.fromkeys keeps order and drops repeats.
    return list(dict.fromkeys([*REQUIRED_FIELDS, *fields]))


def _doc_value(doc: Any, field: str) -> Any:
    if isinstance(doc, Mapping):
        return doc.get(field)
    # Document models raise AttributeError for fields that were not requested; treat as missing.
    return getattr(doc, field, None)


def _material_id_sort_key(material_id: str) -> tuple[str, int, str]:
    # "mp-149" < "mp-1143": numeric order, so the row order (and any split built on it) is stable.
    match = re.fullmatch(r"([A-Za-z]+)-(\d+)", material_id)
    if match:
        return (match.group(1), int(match.group(2)), "")
    return ("~", 0, material_id)


def fetch_mp_band_gaps(client: Any, fields: Sequence[str] = DEFAULT_FIELDS, **criteria: Any) -> pd.DataFrame:
    """Query MP summary docs and return one row per material.

    Args:
        client: An ``MPRester`` (or any object with ``materials.summary.search``; tests pass a fake that
            replays a recorded response).
        fields: Summary fields to request; ``material_id``, ``formula_pretty`` and ``band_gap`` are added.
        **criteria: Passed to ``summary.search``, e.g. ``band_gap=(0, 10)``, ``is_stable=True``,
            ``elements=["O"]``. Ranges may be tuples or (from YAML) two-element lists.

    Returns:
        Columns ``formula`` (``formula_pretty``), ``target`` (PBE band gap, eV, float; NaN when MP has
        none), ``material_id`` (str), then the other requested fields; sorted by material id.
    """
    requested = _with_required(fields)
    docs = client.materials.summary.search(fields=requested, **criteria)
    records: list[dict[str, Any]] = []
    for doc in docs:
        record: dict[str, Any] = {}
        for field in requested:
            value = _doc_value(doc, field)
            if field == "material_id":
                value = None if value is None else str(value)
            record[_RENAMED.get(field, field)] = value
        records.append(record)

    frame = pd.DataFrame.from_records(records, columns=output_columns(requested))
    frame["target"] = pd.to_numeric(frame["target"], errors="coerce").astype("float64")
    for field in requested:
        if field in FLOAT_FIELDS and field not in _RENAMED:
            frame[field] = pd.to_numeric(frame[field], errors="coerce").astype("float64")
    if frame["material_id"].isna().any():
        raise MaterialsProjectError("Materials Project returned documents without a material_id.")
    frame = frame.sort_values("material_id", key=lambda ids: ids.map(_material_id_sort_key), kind="stable")
    frame = frame.reset_index(drop=True)
    logger.info("Fetched %d Materials Project summary documents", len(frame))
    return frame


def read_credentials_file(path: str | os.PathLike[str] = DEFAULT_CREDENTIALS_PATH) -> dict[str, Any]:
    """Kedro-style ``credentials.yml`` as a dict; ``{}`` when the file does not exist."""
    file = Path(path)
    if not file.is_file():
        return {}
    content = yaml.safe_load(file.read_text(encoding="utf-8"))
    return content if isinstance(content, dict) else {}


def resolve_mp_api_key(credentials: Mapping[str, Any] | str | None) -> str | None:
    """The API key from ``credentials`` (``{"mp_api_key": ...}`` or the bare key), else ``MP_API_KEY``.

    Explicit credentials win over the environment so a catalog entry means what it says.
    """
    key: Any = None
    if isinstance(credentials, str):
        key = credentials
    elif isinstance(credentials, Mapping):
        key = credentials.get(CREDENTIALS_KEY)
    if not (isinstance(key, str) and key.strip()):
        key = os.environ.get(API_KEY_ENV)
    if isinstance(key, str) and key.strip():
        return key.strip()
    return None


def mp_client_from_credentials(credentials: Mapping[str, Any] | str | None) -> MPRester | None:
    """An ``MPRester`` for the resolved key, or None when no key is set anywhere.

    Building an ``MPRester`` contacts the API (server heartbeat), so only call this when about to fetch.
    """
    key = resolve_mp_api_key(credentials)
    if key is None:
        return None
    from mp_api.client import MPRester

    logger.info("Connecting to the Materials Project API (key from %s)", _key_origin(credentials))
    try:
        return MPRester(api_key=key, mute_progress_bars=True)
    except Exception as exc:
        raise scrub_error(exc, key) from None


def _key_origin(credentials: Mapping[str, Any] | str | None) -> str:
    # Say where the key came from (useful when debugging) without saying anything about the key itself.
    if isinstance(credentials, str) or (
        isinstance(credentials, Mapping) and credentials.get(CREDENTIALS_KEY)
    ):
        return "credentials"
    return f"${API_KEY_ENV}"


def scrub_error(exc: BaseException, key: str | None) -> MaterialsProjectError:
    """A ``MaterialsProjectError`` with ``exc``'s message, the API key replaced by ``***``."""
    message = f"{type(exc).__name__}: {exc}"
    if key:
        message = message.replace(key, "***")
    return MaterialsProjectError(f"Materials Project request failed: {message}")
