"""Ingest: map a raw source onto the materials-table contract (the *staged* table).

Nothing is dropped here: every raw row becomes one staged row (:mod:`matshift.ingest.staging`).
"""

from __future__ import annotations

import pandas as pd

from matshift.declarations import DeclarationError
from matshift.ingest.staging import stage_materials_table

__all__ = ["DeclarationError", "combine_materials_tables", "stage_materials_table"]


def combine_materials_tables(*tables: pd.DataFrame) -> pd.DataFrame:
    """The one materials table across every declared dataset (domains side by side)."""
    return pd.concat(tables, ignore_index=True, sort=False)
