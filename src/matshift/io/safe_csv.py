"""CSV files people open in a spreadsheet: text that a spreadsheet would run as a formula is neutralised.

A batch file is written by anyone who can drop a file in the plant folder, and its text (formulas, targets,
file names) is echoed into quarantine tables and rankings. Following the OWASP CSV-injection guidance, a
text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'`` so
the spreadsheet shows it as text. Numbers stay numbers: numeric columns are untouched, and a text cell
that is a plain number (``-1.2``, ``+3e5``) is left as it is, since a spreadsheet reads it as that number.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
from kedro_datasets.pandas import CSVDataset

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def neutralise_cell(value: Any) -> Any:
    """``'=cmd|...`` for ``=cmd|...``; anything that is not formula-leading text is returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every formula-leading text cell and column name neutralised; numeric columns untouched."""
    safe = frame.copy()
    safe.columns = [neutralise_cell(c) for c in frame.columns]
    for position, dtype in enumerate(frame.dtypes):
        if not pd.api.types.is_numeric_dtype(dtype):
            safe.isetitem(position, frame.iloc[:, position].map(neutralise_cell, na_action="ignore"))
    return safe


class SpreadsheetSafeCSVDataset(CSVDataset):
    """``pandas.CSVDataset`` that neutralises formula-leading text before saving (catalog type for every
    CSV the pipelines write)."""

    def save(self, data: pd.DataFrame) -> None:
        super().save(neutralise_formulas(data))
