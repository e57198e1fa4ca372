"""Validate: Great Expectations suites decide, row by row, what is accepted and what is quarantined."""

from __future__ import annotations

from typing import Any

import pandas as pd

from matshift.casestudies.stages import clean_domain_table
from matshift.ingest.staging import metadata_columns
from matshift.validation import validate_staged_table
from matshift.validation.declared import (
    internal_rules,
    result_with_declared_names,
    with_declared_names,
    with_non_numeric,
    without_non_numeric,
)

__all__ = ["clean_domain_table", "summarise_validation", "validate_materials"]


def validate_materials(
    staged: pd.DataFrame, declaration: dict[str, Any], dataset: str
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """Accepted rows, quarantined rows with reasons, the reconciled counts, and the GX result.

    Accepted rows keep the declared metadata columns (as text); categorical process columns
    become pandas categoricals over their declared values, so every fold one-hot encodes them alike. A row
    whose numeric process value is not a number is quarantined as ``non_numeric`` (never read as missing).
    """
    rules, internal = internal_rules(declaration)
    numeric, non_numeric = without_non_numeric(staged)
    accepted, quarantine, summary, result = validate_staged_table(
        numeric.rename(columns=internal), rules, dataset
    )
    accepted, quarantine = with_declared_names(accepted, quarantine, declaration, internal)
    accepted, quarantine, summary = with_non_numeric(
        staged, non_numeric, accepted, quarantine, summary, rules
    )
    metadata = [c for c in metadata_columns(declaration) if c in staged.columns]
    if metadata:
        kept = staged.set_index("sample_id").loc[accepted["sample_id"], metadata]
        accepted[metadata] = kept.to_numpy()
    return accepted, quarantine, summary, result_with_declared_names(result, internal)


def summarise_validation(*summaries: dict[str, Any]) -> dict[str, Any]:
    """Per-dataset counts side by side; in = accepted + quarantined holds for each."""
    return {summary["dataset"]: summary for summary in summaries}
