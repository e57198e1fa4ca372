"""The validation rules a dataset declaration implies, and the names its process columns are validated
under: one place for the ingest validate stage and for plant batches, so both judge a row alike."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from matshift.ingest.staging import PROCESS_VALUE_ERROR
from matshift.schema import QUARANTINE_COLUMNS
from matshift.validation.quarantine import DEFAULT_MAX_BAD_FRACTION, DataQualityError, threshold_message
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


def without_non_numeric(staged: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """The staged rows whose process values are numbers (without the diagnostic column), and per staged row
    why one is not (``None`` when all are): the table Great Expectations validates, and what it cannot see."""
    if PROCESS_VALUE_ERROR not in staged:
        return staged, pd.Series(None, index=staged.index, dtype=object)
    problems = staged[PROCESS_VALUE_ERROR].astype(object).where(staged[PROCESS_VALUE_ERROR].notna(), None)
    return staged.loc[problems.isna().to_numpy()].drop(columns=PROCESS_VALUE_ERROR), problems


def with_non_numeric(
    staged: pd.DataFrame,
    non_numeric: pd.Series,
    accepted: pd.DataFrame,
    quarantine: pd.DataFrame,
    summary: dict[str, Any],
    rules: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Validation's accepted rows, quarantined rows and summary, with the non-numeric rows quarantined
    (``non_numeric``, in source-row order) and counted; raises ``DataQualityError`` when the quarantined
    fraction then exceeds ``rules["max_bad_fraction"]``."""
    flagged = non_numeric.notna().to_numpy()
    if not flagged.any():
        return accepted, quarantine, summary
    rows = staged.loc[flagged, [c for c in QUARANTINE_COLUMNS if c in staged.columns]].assign(
        reason="non_numeric", detail=non_numeric[flagged].to_numpy()
    )
    parts = [rows[list(QUARANTINE_COLUMNS)], *([quarantine] if len(quarantine) else [])]
    quarantine = pd.concat(parts, ignore_index=True)
    quarantine = quarantine.sort_values("source_row", kind="stable", ignore_index=True)
    count = int(flagged.sum())
    rows_in, quarantined = summary["rows_in"] + count, summary["quarantined"] + count
    summary = {
        **summary,
        "rows_in": rows_in,
        "quarantined": quarantined,
        "bad_fraction": quarantined / rows_in,
        "reasons": {**summary["reasons"], "non_numeric": count},
    }
    if summary["bad_fraction"] > float(rules.get("max_bad_fraction", DEFAULT_MAX_BAD_FRACTION)):
        raise DataQualityError(threshold_message(summary, quarantine))
    return accepted, quarantine, summary
