"""Validate: Great Expectations suites decide, row by row, what is accepted and what is quarantined."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from matshift.pipelines.ingest.nodes import metadata_columns
from matshift.validation import validate_staged_table
from matshift.validation.suite import is_categorical

# GX resolves column names case-insensitively (``THT`` and ``THt`` are one column to it), so process
# columns are validated under these unique internal names and renamed back afterwards.
_INTERNAL_PROCESS_NAME = "process_{}"


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
    """Accepted rows, quarantined rows with reasons, the reconciled counts, and the GX result.

    Accepted rows keep the declared metadata columns (as text); categorical process columns
    become pandas categoricals over their declared values, so every fold one-hot encodes them alike.
    """
    rules = validation_rules(declaration)
    declared = rules["process_columns"]
    internal = {name: _INTERNAL_PROCESS_NAME.format(i) for i, name in enumerate(declared)}
    rules["process_columns"] = {internal[name]: spec for name, spec in declared.items()}
    accepted, quarantine, summary, result = validate_staged_table(
        staged.rename(columns=internal), rules, dataset
    )
    accepted = accepted.rename(columns={v: k for k, v in internal.items()})
    quarantine["detail"] = _external_names(quarantine["detail"], internal)
    for name, spec in declared.items():
        if is_categorical(spec):
            accepted[name] = pd.Categorical(accepted[name], categories=list(spec["categories"]))
    metadata = [c for c in metadata_columns(declaration) if c in staged.columns]
    if metadata:
        kept = staged.set_index("sample_id").loc[accepted["sample_id"], metadata]
        accepted[metadata] = kept.to_numpy()
    return accepted, quarantine, summary, result


def _external_names(detail: pd.Series, internal: dict[str, str]) -> pd.Series:
    """Quarantine details with the declared process-column names instead of the internal ones."""
    if not internal or detail.empty:
        return detail
    back = {v: k for k, v in internal.items()}
    pattern = re.compile(r"\b(" + "|".join(re.escape(v) for v in back) + r")\b")
    return detail.astype(str).str.replace(pattern, lambda m: back[m.group(1)], regex=True)


def summarise_validation(*summaries: dict[str, Any]) -> dict[str, Any]:
    """Per-dataset counts side by side; in = accepted + quarantined holds for each."""
    return {summary["dataset"]: summary for summary in summaries}
