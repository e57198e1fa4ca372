"""The validation rules a dataset declaration implies, and the names its process columns are validated
under: one place for the ingest validate stage and for plant batches, so both judge a row alike."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from matshift.validation.suite import is_categorical

# GX resolves column names case-insensitively (``THT`` and ``THt`` are one column to it), so process
# columns are validated under these unique internal names and renamed back afterwards.
INTERNAL_PROCESS_NAME = "process_{}"


def validation_rules(declaration: dict[str, Any]) -> dict[str, Any]:
    """The validation rules a dataset declaration implies."""
    return {
        "target_min": declaration["target"]["min"],
        "target_max": declaration["target"]["max"],
        "duplicates": declaration.get("duplicates", "quarantine"),
        "max_bad_fraction": declaration.get("max_bad_fraction", 0.05),
        "process_columns": declaration.get("process_columns") or {},
    }


def internal_rules(declaration: dict[str, Any], **overrides: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The rules with process columns under internal names, and ``{declared name: internal name}``:
    rename a staged table's columns with the mapping before validating it with the rules."""
    rules = {**validation_rules(declaration), **overrides}
    declared = rules["process_columns"]
    internal = {name: INTERNAL_PROCESS_NAME.format(i) for i, name in enumerate(declared)}
    rules["process_columns"] = {internal[name]: spec for name, spec in declared.items()}
    return rules, internal


def with_declared_names(
    accepted: pd.DataFrame, quarantine: pd.DataFrame, declaration: dict[str, Any], internal: dict[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validation's accepted and quarantined rows with the declared process-column names back (in the
    quarantine details too); categorical process columns become pandas categoricals over their declared
    values, so every fold and every plant batch one-hot encodes them alike."""
    back = {v: k for k, v in internal.items()}
    accepted = accepted.rename(columns=back)
    quarantine = quarantine.rename(columns=back)
    if back and not quarantine.empty and "detail" in quarantine:
        pattern = re.compile(r"\b(" + "|".join(re.escape(v) for v in back) + r")\b")
        quarantine = quarantine.assign(
            detail=quarantine["detail"]
            .astype(str)
            .str.replace(pattern, lambda m: back[m.group(1)], regex=True)
        )
    for name, spec in (declaration.get("process_columns") or {}).items():
        if is_categorical(spec) and name in accepted:
            accepted[name] = pd.Categorical(accepted[name], categories=list(spec["categories"]))
    return accepted, quarantine


def result_with_declared_names(result: Any, internal: dict[str, str]) -> Any:
    """A GX validation result (JSON) with the declared process-column names back, for Data Docs: every
    key or string value that is exactly an internal name (``process_0``) becomes the declared name."""
    back = {v: k for k, v in internal.items()}
    if not back:
        return result
    if isinstance(result, dict):
        return {back.get(k, k): result_with_declared_names(v, internal) for k, v in result.items()}
    if isinstance(result, list):
        return [result_with_declared_names(v, internal) for v in result]
    return back.get(result, result) if isinstance(result, str) else result
