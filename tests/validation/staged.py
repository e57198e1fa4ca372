"""Small staged tables with the dtypes ingest produces (pandas "string" for parsed text, object for ids)."""

from __future__ import annotations

from typing import Any

import pandas as pd

CLEAN_ROW: dict[str, Any] = {
    "formula": "NaCl",
    "composition": "ClNa",
    "composition_error": pd.NA,
    "target": 8.5,
    "target_raw": "8.5",
    "unit": "eV",
    "domain": "experiment",
    "group": "halide",
    "source": "expt_gap",
    "occurrence": 0,
    "temperature_K": 300.0,
}
_STRING_COLUMNS = ("formula", "composition", "composition_error", "target_raw", "group")


def make_staged(changes: list[dict[str, Any]]) -> pd.DataFrame:
    """One clean row per entry of ``changes``, updated with that entry; source rows start at line 2."""
    rows = []
    for i, change in enumerate(changes):
        row = {"sample_id": f"s{i:03d}", "source_row": i + 2, **CLEAN_ROW}
        row.update(change)
        rows.append(row)
    staged = pd.DataFrame(rows)
    for column in _STRING_COLUMNS:
        staged[column] = staged[column].astype("string")
    staged["target"] = staged["target"].astype(float)
    staged["temperature_K"] = staged["temperature_K"].astype(float)
    return staged


def rules(**overrides: Any) -> dict[str, Any]:
    base = {
        "target_min": 0.0,
        "target_max": 20.0,
        "duplicates": "quarantine",
        "max_bad_fraction": 1.0,
        "process_columns": {"temperature_K": {"min": 0, "max": 3000}},
    }
    return {**base, **overrides}
