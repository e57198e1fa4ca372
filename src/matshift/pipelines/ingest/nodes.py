"""Ingest: map a raw source onto the materials-table contract (the *staged* table).

Nothing is dropped here: every raw row becomes one staged row, with the diagnostics validation needs
(the target as written, why a formula could not be read, which copy of a repeated row it is).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd

from matshift.audit.selection_bias import OUTCOMES, parse_censored_target
from matshift.chemistry.families import GROUP_DERIVATIONS
from matshift.chemistry.formula import FormulaError, canonical_composition
from matshift.schema import MATERIALS_COLUMNS, STAGED_DIAGNOSTIC_COLUMNS


class DeclarationError(ValueError):
    """A dataset declaration (parameters_datasets.yml) that does not fit its source file."""


def stage_materials_table(raw: pd.DataFrame, declaration: dict[str, Any], dataset: str) -> pd.DataFrame:
    """Map the raw source columns onto the materials table, one staged row per raw row."""
    columns = declaration["columns"]
    process_columns = declaration.get("process_columns") or {}
    wanted = {"formula": columns["formula"], "target_raw": columns["target"]}
    wanted.update({name: spec.get("column", name) for name, spec in process_columns.items()})
    group_spec = declaration.get("group") or {}
    if "column" in group_spec:
        wanted["group"] = group_spec["column"]
    missing = sorted(set(wanted.values()) - set(raw.columns))
    if missing:
        raise DeclarationError(
            f"{dataset}: source {declaration['source']['filepath']} has no column(s) {missing}; "
            f"declared in parameters_datasets.yml, found {list(raw.columns)}"
        )

    staged = pd.DataFrame({name: raw[source].to_numpy() for name, source in wanted.items()})
    staged["formula"] = staged["formula"].astype("string").str.strip().replace("", pd.NA)
    staged["target_raw"] = staged["target_raw"].astype("string").str.strip().replace("", pd.NA)
    staged["target"] = pd.to_numeric(staged["target_raw"], errors="coerce").astype(float)
    if "outcome" in columns:
        staged["outcome"] = _outcomes(raw[columns["outcome"]], raw["source_row"], dataset)
    if declaration["target"].get("censored"):
        censored = parse_censored_target(staged["target_raw"])
        staged["target"] = censored["target"]
        staged["target_censored"] = censored["target_censored"]
        staged["target_bound"] = censored["target_bound"]
    for name in process_columns:
        staged[name] = pd.to_numeric(staged[name], errors="coerce").astype(float)
    staged["source_row"] = raw["source_row"].astype(int).to_numpy()

    compositions, errors = _compositions(staged["formula"])
    staged["composition"] = compositions
    staged["composition_error"] = errors
    staged["group"] = _groups(staged, group_spec)
    staged["unit"] = declaration["target"]["unit"]
    staged["domain"] = declaration["domain"]
    staged["source"] = dataset
    staged["occurrence"] = (
        raw.drop(columns="source_row")
        .groupby(list(raw.columns.drop("source_row")), sort=False, dropna=False)
        .cumcount()
        .to_numpy()
    )
    staged["sample_id"] = _sample_ids(raw, dataset, staged["occurrence"])
    ordered = [*MATERIALS_COLUMNS, *STAGED_DIAGNOSTIC_COLUMNS]
    return staged[ordered + [c for c in staged.columns if c not in ordered]]


def _outcomes(outcome: pd.Series, source_row: pd.Series, dataset: str) -> pd.Series:
    """``success`` / ``failed`` per row (a missing outcome is a success: the row reports a measurement)."""
    values = outcome.astype("string").str.strip().str.lower().replace("", pd.NA).fillna("success")
    unknown = ~values.isin(OUTCOMES)
    if unknown.any():
        rows = source_row[unknown.to_numpy()].head(5).tolist()
        raise DeclarationError(
            f"{dataset}: outcome column {outcome.name!r} must be one of {OUTCOMES}; found "
            f"{sorted(values[unknown].unique())[:5]} (source rows {rows})"
        )
    return values.to_numpy()


def _compositions(formulas: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Canonical composition per formula (parsed once per unique formula) and the reason when unreadable."""
    outcome: dict[str, tuple[Any, Any]] = {}
    for formula in formulas.dropna().unique():
        try:
            outcome[formula] = (canonical_composition(formula), pd.NA)
        except FormulaError as error:
            outcome[formula] = (pd.NA, error.reason)
    composition = formulas.map(lambda f: outcome[f][0] if f in outcome else pd.NA).astype("string")
    error = formulas.map(lambda f: outcome[f][1] if f in outcome else "missing_formula").astype("string")
    return composition, error


def _groups(staged: pd.DataFrame, group_spec: dict[str, Any]) -> pd.Series:
    if "column" in group_spec:
        return staged["group"].astype("string")
    derive = GROUP_DERIVATIONS[group_spec.get("derive", "anion_class")]
    unique = {c: derive(c) for c in staged["composition"].dropna().unique()}
    return staged["composition"].map(unique).astype("string")


def _sample_ids(raw: pd.DataFrame, dataset: str, occurrence: pd.Series) -> np.ndarray:
    """sha256 of dataset + the row's raw content (+ which repeat it is), so ids survive re-ordering."""
    content = raw.drop(columns="source_row").astype(str).agg("\x1f".join, axis=1)
    keys = dataset + "\x1e" + content + "\x1e" + occurrence.astype(str).to_numpy()
    return np.array([hashlib.sha256(k.encode()).hexdigest()[:16] for k in keys])


def combine_materials_tables(*tables: pd.DataFrame) -> pd.DataFrame:
    """The one materials table across every declared dataset (domains side by side)."""
    return pd.concat(tables, ignore_index=True, sort=False)
