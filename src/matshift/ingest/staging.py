"""Staging: map a raw source onto the materials-table contract, one staged row per raw row.

Nothing is dropped here: every raw row becomes one staged row, with the diagnostics validation needs
(the target as written, why a formula could not be read, which copy of a repeated row it is). The
ingest stage stages every declared dataset this way, and the monitor stage every plant batch.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import numpy as np
import pandas as pd

from matshift.audit.selection_bias import OUTCOMES, parse_censored_target
from matshift.chemistry.families import GROUP_DERIVATIONS
from matshift.chemistry.formula import FormulaError, canonical_composition
from matshift.declarations import DeclarationError, check_declaration
from matshift.featurizers.magpie import load_magpie_table
from matshift.schema import MATERIALS_COLUMNS, STAGED_DIAGNOSTIC_COLUMNS

logger = logging.getLogger(__name__)

# Staged beside the contract: why a row's numeric process value is not a number (validation quarantines
# the row as ``non_numeric`` and drops the column; see ``validation.declared.without_non_numeric``).
PROCESS_VALUE_ERROR = "process_value_error"

# Element fractions are written to the formula with this many decimals (the canonical composition
# normalises them again; 1e-6 is far below any measured alloy fraction).
_FRACTION_DECIMALS = 6


def stage_materials_table(raw: pd.DataFrame, declaration: dict[str, Any], dataset: str) -> pd.DataFrame:
    """Map the raw source columns onto the materials table, one staged row per raw row."""
    for warning in check_declaration(dataset, declaration):
        logger.warning(warning)
    columns = declaration["columns"]
    composition_spec = declaration.get("composition") or {}
    process_columns = declaration.get("process_columns") or {}
    wanted = {"target_raw": columns["target"]}
    if "formula" in columns:
        wanted["formula"] = columns["formula"]
    wanted.update({name: spec.get("column", name) for name, spec in process_columns.items()})
    wanted.update(metadata_columns(declaration))
    group_spec = declaration.get("group") or {}
    if "column" in group_spec:
        wanted["group"] = group_spec["column"]
    needed = [*wanted.values(), *(composition_spec.get("columns") or {}).values()]
    if "outcome" in columns:
        needed.append(columns["outcome"])
    missing = sorted(set(needed) - set(raw.columns))
    if missing:
        raise DeclarationError(
            f"{dataset}: source {declaration['source']['filepath']} has no column(s) {missing}; "
            f"declared in parameters_datasets.yml, found {list(raw.columns)}"
        )

    staged = pd.DataFrame({name: raw[source].to_numpy() for name, source in wanted.items()})
    forced_errors = pd.Series(pd.NA, index=staged.index, dtype="string")
    if composition_spec:
        staged["formula"], forced_errors = formula_from_fractions(raw, composition_spec, dataset)
    staged["formula"] = staged["formula"].astype("string").str.strip().replace("", pd.NA)
    staged["target_raw"] = staged["target_raw"].astype("string").str.strip().replace("", pd.NA)
    staged["target"] = pd.to_numeric(staged["target_raw"], errors="coerce").astype(float)
    if "outcome" in columns:
        staged["outcome"] = _outcomes(raw[columns["outcome"]], raw["source_row"], dataset)
    target_spec = declaration["target"]
    if target_spec.get("censored"):
        censored = parse_censored_target(staged["target_raw"])
        staged["target"] = censored["target"]
        staged["target_censored"] = censored["target_censored"]
        staged["target_bound"] = censored["target_bound"]
    if target_spec.get("transform") == "log10":
        staged["target"] = log10_target(staged["target"])
        if "target_bound" in staged:
            staged["target_bound"] = log10_target(staged["target_bound"])
    # why a numeric process value as written is not a number: coerced below, it would read as missing
    staged[PROCESS_VALUE_ERROR] = non_numeric_process_values(raw, declaration).to_numpy()
    for name, spec in process_columns.items():
        if "categories" in spec:  # categorical: the value as written; validation checks it is allowed
            staged[name] = staged[name].astype("string").str.strip().replace("", pd.NA)
        else:
            staged[name] = pd.to_numeric(staged[name], errors="coerce").astype(float)
    for name in metadata_columns(declaration):  # text, so no model mistakes a year or a lab for a feature
        staged[name] = staged[name].astype("string").str.strip().replace("", pd.NA)
    staged["source_row"] = raw["source_row"].astype(int).to_numpy()

    compositions, errors = _compositions(staged["formula"], declaration.get("min_atomic_fraction", 0.0))
    staged["composition"] = compositions
    staged["composition_error"] = forced_errors.fillna(errors).astype("string")
    staged["group"] = _groups(staged, group_spec)
    staged["unit"] = target_unit(target_spec)
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


def non_numeric_process_values(raw: pd.DataFrame, declaration: dict[str, Any]) -> pd.Series:
    """Per raw row, why a declared numeric process value is not a finite number (``None`` when all are):
    read as missing, the row would be trained on or scored with a value nobody wrote."""
    problems = pd.Series(None, index=raw.index, dtype=object)
    for name, spec in (declaration.get("process_columns") or {}).items():
        if "categories" in spec:
            continue  # categorical: validation checks the value is one of the declared categories
        column = spec.get("column", name)
        text = raw[column].astype("string").str.strip()
        number = pd.to_numeric(text, errors="coerce").astype(float)
        bad = text.notna() & (text != "") & ~np.isfinite(number.to_numpy())
        detail = f"{column}=" + text[bad].map(repr) + " is not a finite number"
        problems[bad & problems.isna()] = detail
    return problems


def metadata_columns(declaration: dict[str, Any]) -> dict[str, str]:
    """``{name: source column}`` of the declared metadata columns (kept for splits, never features)."""
    return dict(declaration.get("metadata_columns") or {})


def target_unit(target_spec: dict[str, Any]) -> str:
    """The unit the model learns and the metrics are reported in: ``log10(<unit>)`` for a log10 target."""
    unit = target_spec["unit"]
    return f"log10({unit})" if target_spec.get("transform") == "log10" else unit


def log10_target(values: pd.Series) -> pd.Series:
    """log10 of positive values; a non-positive value becomes -inf so validation quarantines it as
    ``target_out_of_range`` (with the value shown) rather than as a non-number."""
    numbers = values.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        logged = np.log10(numbers.where(numbers > 0))
    return logged.where(~(numbers <= 0), -np.inf)


def formula_from_fractions(
    raw: pd.DataFrame, spec: dict[str, Any], dataset: str
) -> tuple[pd.Series, pd.Series]:
    """A normalised formula (atomic fractions) per row from element-fraction columns, and the reason
    code of rows that cannot give one.

    ``basis`` is ``at%``, ``wt%`` or ``mole_fraction``; an empty cell is 0 (element absent); ``balance``
    names the element that makes up the rest (e.g. Fe in a steel). Rows with a non-numeric or negative
    cell, or whose fractions exceed the whole, are ``unparseable_formula``; rows with nothing are
    ``missing_formula``. The formula of an unreadable row spells out its cells for the quarantine table.
    """
    columns = dict(spec["columns"])
    weights = load_magpie_table().set_index("symbol")["AtomicWeight"]
    elements = [*columns, *([spec["balance"]] if spec.get("balance") else [])]
    unknown = [element for element in elements if element not in weights.index]
    if unknown:
        raise DeclarationError(f"{dataset}.composition: {unknown} are not element symbols")
    text = pd.DataFrame(
        {element: raw[source].astype("string").str.strip() for element, source in columns.items()}
    )
    values = text.apply(pd.to_numeric, errors="coerce").astype(float)
    unreadable = (values.isna() & text.fillna("").ne("")).any(axis=1) | (values < 0).any(axis=1)
    values = values.fillna(0.0)
    whole = 1.0 if spec["basis"] == "mole_fraction" else 100.0
    if spec.get("balance"):
        rest = whole - values.sum(axis=1)
        # a sum a rounding error above the whole still leaves no balance, not a negative one
        unreadable |= rest < -1e-6 * whole
        values[spec["balance"]] = values.get(spec["balance"], 0.0) + rest.clip(lower=0.0)
    if spec["basis"] == "wt%":
        values = values / weights.loc[values.columns].to_numpy()
    total = values.sum(axis=1)
    empty = (total <= 0) & ~unreadable
    fractions = values.div(total.where(total > 0), axis=0).round(_FRACTION_DECIMALS)
    formulas = [
        "".join(e + f"{f:.6f}".rstrip("0").rstrip(".") for e, f in row.items() if f > 0)
        for _, row in fractions.iterrows()
    ]
    described = text.fillna("").apply(lambda row: "; ".join(f"{e}={v}" for e, v in row.items()), axis=1)
    formula = pd.Series(formulas, index=raw.index, dtype="string")
    formula = formula.mask(unreadable, described).mask(empty, pd.NA)
    errors = pd.Series(pd.NA, index=raw.index, dtype="string")
    errors = errors.mask(unreadable, "unparseable_formula").mask(empty, "missing_formula")
    return formula, errors


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


def _compositions(formulas: pd.Series, min_fraction: float = 0.0) -> tuple[pd.Series, pd.Series]:
    """Canonical composition per formula (parsed once per unique formula) and the reason when unreadable;
    an element below the declared ``min_atomic_fraction`` is ``negligible_amount``."""
    outcome: dict[str, tuple[Any, Any]] = {}
    for formula in formulas.dropna().unique():
        try:
            outcome[formula] = (canonical_composition(formula, min_fraction), pd.NA)
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
