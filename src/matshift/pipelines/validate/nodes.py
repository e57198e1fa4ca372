"""Validate: Great Expectations suites decide, row by row, what is accepted and what is quarantined."""

from __future__ import annotations

from typing import Any

import pandas as pd

from matshift.validation import validate_staged_table


def validation_rules(declaration: dict[str, Any]) -> dict[str, Any]:
    """The validation rules a dataset declaration implies."""
    return {
        "target_min": declaration["target"]["min"],
        "target_max": declaration["target"]["max"],
        "duplicates": declaration.get("duplicates", "quarantine"),
        "max_bad_fraction": declaration.get("max_bad_fraction", 0.05),
        "process_columns": declaration.get("process_columns") or {},
    }


def validate_materials(
    staged: pd.DataFrame, declaration: dict[str, Any], dataset: str
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """Accepted rows, quarantined rows with reasons, the reconciled counts, and the GX result."""
    return validate_staged_table(staged, validation_rules(declaration), dataset)


def summarise_validation(*summaries: dict[str, Any]) -> dict[str, Any]:
    """Per-dataset counts side by side; in = accepted + quarantined holds for each."""
    return {summary["dataset"]: summary for summary in summaries}
