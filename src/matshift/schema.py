"""The materials table: one contract shared by every dataset, pipeline and report.

One row per measurement. Ingest produces the *staged* table (every raw row, with the diagnostic
columns validation needs); validation splits it into the accepted materials table and a quarantine
table that carries a reason code for every rejected row.
"""

from __future__ import annotations

import pandas as pd

# Columns of the accepted materials table, in order. Optional process columns follow them.
MATERIALS_COLUMNS: tuple[str, ...] = (
    "sample_id",  # stable hash of source + row content (+ occurrence number for exact repeats)
    "source_row",  # 1-based line number in the source file (header is line 1), for error messages
    "formula",  # as given in the source
    "composition",  # canonical reduced formula, see matshift.chemistry.formula.canonical_composition
    "target",  # float, in `unit`
    "unit",
    "domain",  # e.g. dft, experiment, plant
    "group",  # the group worst-group metrics are computed over
    "source",  # dataset name
)

# Extra columns of the staged table that validation reads and then drops.
STAGED_DIAGNOSTIC_COLUMNS: tuple[str, ...] = (
    "target_raw",  # the target exactly as written in the source (string), for non-numeric checks
    "composition_error",  # reason code when the formula could not be parsed, else missing
    "occurrence",  # 0 for the first copy of an exact duplicate row, 1 for the second, ...
)

# Optional columns of a dataset that records failed experiments or censored targets (issue 7). A failed row
# may have no target; a censored target ("<1e-10", "below_detection") is a flag and a bound, never a number.
OUTCOME_COLUMNS: tuple[str, ...] = (
    "outcome",  # success / failed; declared with `columns: {outcome: <source column>}`
    "target_censored",  # bool; declared with `target: {censored: true}`
    "target_bound",  # the written bound of a censored target (missing for "below_detection")
)

QUARANTINE_COLUMNS: tuple[str, ...] = (*MATERIALS_COLUMNS, "target_raw", "reason", "detail")


# Declared metadata columns (`metadata_columns: {year: Year}`: kept for splits on a declared column and
# the shortcut audit, never model inputs) are stored as text; declared process columns as float or as a
# pandas categorical. That dtype is what tells the two apart downstream.
def process_feature_columns(table: pd.DataFrame) -> list[str]:
    """The declared process columns of a materials table: the columns beyond the contract and the outcome
    columns that hold floats or categoricals. They are model inputs beside the composition features."""
    contract = {*MATERIALS_COLUMNS, *STAGED_DIAGNOSTIC_COLUMNS, *OUTCOME_COLUMNS}
    return [
        name
        for name, dtype in table.dtypes.items()
        if name not in contract
        and (isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_float_dtype(dtype))
    ]
