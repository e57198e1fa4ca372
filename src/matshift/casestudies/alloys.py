"""High-entropy (multi-principal-element) alloys: hardness and yield strength under a process shift.

Source: the MPEA dataset of Borg et al., Sci. Data 7, 430 (2020) (CitrineInformatics/MPEA_dataset,
``MPEA_dataset.csv``; one row per reported measurement, columns described in its SOURCE.md).

Cleaning (every raw row is accepted or quarantined with one reason code, first failing check wins):
``duplicate_row`` (an identical earlier row), ``missing_target``, ``invalid_target`` (not a number),
``target_out_of_range``, ``unparseable_formula`` / ``unknown_element``, ``unknown_processing``
(a route outside :data:`PROCESSING_ROUTES`), and where the declaration sets ``requires_test_condition``
(yield strength is conditioned on how it was measured, never pooled silently): ``unknown_test_type``
(not C = compression / T = tension) and ``missing_test_temperature``. A missing processing route is
**kept** as its own ``UNKNOWN`` domain (119 rows, a fifth of them with hardness): it is a legitimate
measurement whose route the curators did not record, so it trains models on ``year_split`` and
``paper_group_cv`` but sits on neither side of ``process_shift``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from matshift.chemistry.formula import FormulaError, canonical_composition
from matshift.featurizers import default_featurizers, featurize_compositions
from matshift.featurizers.alloy_thermo import AlloyThermodynamics
from matshift.models.physics import MonotonicCatBoost, MonotonicPenaltyMLP
from matshift.models.registry import register_models

logger = logging.getLogger(__name__)

RAW_COLUMNS = {  # accepted-table column <- MPEA_dataset.csv column
    "formula": "FORMULA",
    "reference_id": "IDENTIFIER: Reference ID",
    "processing_raw": "PROPERTY: Processing method",
    "microstructure": "PROPERTY: Microstructure",
    "phase_class": "PROPERTY: BCC/FCC/other",
    "test_type": "PROPERTY: Type of test",
    "test_temperature_c": "PROPERTY: Test temperature ($^\\circ$C)",
    "doi": "REFERENCE: doi",
    "year": "REFERENCE: year",
}
PROCESSING_ROUTES = ("CAST", "WROUGHT", "ANNEAL", "POWDER", "OTHER")
UNKNOWN_ROUTE = "UNKNOWN"
TEST_TYPES = {"C": "compression", "T": "tension"}
METADATA_COLUMNS = ["reference_id", "year", "doi"]
SPLIT_COLUMNS = ["split", "fold", "fold_name", "role", "sample_id"]


def _sample_ids(raw: pd.DataFrame) -> np.ndarray:
    """sha256 of the raw row content plus its repeat number: stable across runs and row order."""
    content = raw.drop(columns="source_row", errors="ignore").astype(str).agg("\x1f".join, axis=1)
    repeat = content.groupby(content).cumcount().astype(str)
    return np.array(
        [
            hashlib.sha256(f"mpea\x1e{c}\x1e{r}".encode()).hexdigest()[:16]
            for c, r in zip(content, repeat, strict=True)
        ]
    )


def _text(column: pd.Series) -> pd.Series:
    return column.fillna("").astype(str).str.strip()


def _composition(formula: str) -> tuple[str | None, str | None]:
    try:
        return canonical_composition(formula), None
    except FormulaError as error:
        return None, error.reason


def clean(
    raw: pd.DataFrame, declaration: dict[str, Any], target_required: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(accepted, quarantine) for the declared target (see the module docstring for the reasons); with
    ``target_required=False`` (a plant batch) a row without the target is accepted with a NaN target."""
    target_spec = declaration["target"]
    raw = raw.reset_index(drop=True)
    source_row = np.arange(len(raw))
    text = {name: _text(raw[column]) for name, column in RAW_COLUMNS.items()}
    target_text = _text(raw[target_spec["column"]])
    target = pd.to_numeric(target_text, errors="coerce")
    parsed = [_composition(formula) for formula in text["formula"]]
    composition = pd.Series([c for c, _ in parsed], dtype=object)
    formula_problem = pd.Series([p for _, p in parsed], dtype=object)
    route = text["processing_raw"].str.upper().replace("", UNKNOWN_ROUTE)
    test_type = text["test_type"].str.upper()
    temperature = pd.to_numeric(text["test_temperature_c"], errors="coerce")

    content = raw.drop(columns="source_row", errors="ignore").astype(str)
    checks: list[tuple[str, str, pd.Series, pd.Series]] = [  # (reason, raw column, failing, value)
        ("duplicate_row", "*", content.duplicated(keep="first"), text["formula"]),
        ("missing_target", target_spec["column"], target_text.eq("") & target_required, target_text),
        ("invalid_target", target_spec["column"], target_text.ne("") & target.isna(), target_text),
        (
            "target_out_of_range",
            target_spec["column"],
            target.notna() & ~target.between(target_spec["min"], target_spec["max"]),
            target_text,
        ),
        ("unparseable_formula", RAW_COLUMNS["formula"], formula_problem.notna(), text["formula"]),
        (
            "unknown_processing",
            RAW_COLUMNS["processing_raw"],
            ~route.isin([*PROCESSING_ROUTES, UNKNOWN_ROUTE]),
            text["processing_raw"],
        ),
    ]
    if declaration.get("requires_test_condition"):
        checks += [
            (
                "unknown_test_type",
                RAW_COLUMNS["test_type"],
                ~test_type.isin(list(TEST_TYPES)),
                text["test_type"],
            ),
            (
                "missing_test_temperature",
                RAW_COLUMNS["test_temperature_c"],
                temperature.isna(),
                text["test_temperature_c"],
            ),
        ]
    reason = pd.Series("", index=raw.index, dtype=object)
    column = pd.Series("", index=raw.index, dtype=object)
    value = pd.Series("", index=raw.index, dtype=object)
    for code, raw_column, failing, shown in checks:
        new = failing.to_numpy(dtype=bool) & reason.eq("").to_numpy()
        reason[new] = code
        column[new] = raw_column
        value[new] = shown[new]
    # a formula with a symbol that is no element is reported under the parser's own, finer code
    reason[(reason == "unparseable_formula") & formula_problem.notna()] = formula_problem
    bad = reason.ne("").to_numpy()
    quarantine = pd.DataFrame(
        {"source_row": source_row[bad], "column": column[bad], "value": value[bad], "reason": reason[bad]}
    ).reset_index(drop=True)

    ok = ~bad
    accepted = pd.DataFrame(
        {
            "sample_id": _sample_ids(raw)[ok],
            "source_row": source_row[ok],
            "target": target[ok].to_numpy(dtype=float),
            "formula": text["formula"][ok].to_numpy(),
            "composition": composition[ok].to_numpy(),
            "processing": route[ok].to_numpy(),
            "test_type": test_type[ok].to_numpy(),
            "test_temperature_c": temperature[ok].to_numpy(dtype=float),
            "microstructure": text["microstructure"][ok].to_numpy(),
            "phase_class": text["phase_class"][ok].to_numpy(),
            "reference_id": text["reference_id"][ok].to_numpy(),
            "year": pd.to_numeric(text["year"][ok], errors="coerce").to_numpy(dtype=float),
            "doi": text["doi"][ok].to_numpy(),
        }
    )
    accepted["group"] = accepted[declaration["group"]["column"]].astype(str).replace("", UNKNOWN_ROUTE)
    return accepted.reset_index(drop=True), quarantine


def featurize(table: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """Magpie set + alloy thermodynamics per formula, plus the declared test-condition features."""
    featurizers = [*default_featurizers(), AlloyThermodynamics()]
    by_formula = featurize_compositions(list(pd.unique(table["formula"])), featurizers=featurizers)
    features = by_formula.loc[table["formula"]].set_axis(pd.Index(table["sample_id"], name="sample_id"))
    conditions = params.get("condition_features") or []
    if "test_type" in conditions:  # tension = 1, compression = 0: the model is told, never pooled blindly
        features["test_is_tension"] = (table["test_type"] == "T").to_numpy(dtype=float)
    if "test_temperature" in conditions:
        features["test_temperature_c"] = table["test_temperature_c"].to_numpy(dtype=float)
    return features


def _fold(split: str, fold: int, name: str, table: pd.DataFrame, test: np.ndarray, train: np.ndarray):
    """One fold's long rows; train rows sharing a composition with the test rows are left out."""
    test_compositions = set(table.loc[test, "composition"])
    conflicting = train & table["composition"].isin(test_compositions).to_numpy()
    if conflicting.any():
        logger.info("%s/%s: %d train rows share a test composition, left out", split, name, conflicting.sum())
    train = train & ~conflicting
    return pd.concat(
        [
            pd.DataFrame({"split": split, "fold": fold, "fold_name": name, "role": role, "sample_id": ids})
            for role, ids in (
                ("train", table.loc[train, "sample_id"]),
                ("test", table.loc[test, "sample_id"]),
            )
        ],
        ignore_index=True,
    )


def process_shift_splits(table: pd.DataFrame, params: dict[str, Any]) -> list[pd.DataFrame]:
    """Train on the training route (as-cast), test on each other route in turn."""
    train = table["processing"].eq(params["train_route"]).to_numpy()
    return [
        _fold("process_shift", fold, route.lower(), table, table["processing"].eq(route).to_numpy(), train)
        for fold, route in enumerate(params["test_routes"])
    ]


def year_split(table: pd.DataFrame, params: dict[str, Any]) -> list[pd.DataFrame]:
    """Train on papers up to ``last_train_year``, test on the later ones."""
    year = table["year"].to_numpy()
    cut = params["last_train_year"]
    return [_fold("year_split", 0, f"after_{cut}", table, year > cut, year <= cut)]


def paper_group_cv_splits(table: pd.DataFrame, params: dict[str, Any]) -> list[pd.DataFrame]:
    """GroupKFold by source paper: a paper's rows are all on one side."""
    folds = GroupKFold(n_splits=params["n_splits"]).split(table, groups=table["reference_id"])
    frames = []
    for fold, (_, test_rows) in enumerate(folds):
        test = np.zeros(len(table), dtype=bool)
        test[test_rows] = True
        frames.append(_fold("paper_group_cv", fold, f"fold_{fold}", table, test, ~test))
    return frames


SPLITS: dict[str, Callable[[pd.DataFrame, dict[str, Any]], list[pd.DataFrame]]] = {
    "process_shift": process_shift_splits,
    "year_split": year_split,
    "paper_group_cv": paper_group_cv_splits,
}


def make_splits(table: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """Long split table (``split, fold, fold_name, role, sample_id``) of ``params["splits"]``."""
    table = table.reset_index(drop=True)
    frames = [frame for name in params["splits"] for frame in SPLITS[name](table, params.get(name) or {})]
    return pd.concat(frames, ignore_index=True)[SPLIT_COLUMNS]


# Physics-informed models: the sign of each constraint and why is documented in
# conf/base/parameters_case_studies.yml next to the `monotone` maps.
# `phase_rule_mlp_unconstrained` is the control: the same network and recipe with the penalty off, so
# the difference measures the phase rules alone (erm is catboost_monotonic's control, same trees).
# Registered in the one registry's physics family (matshift.models.registry); PHYSICS_MODELS is their
# name -> factory(params) view.
PHYSICS_MODELS: Mapping[str, Callable[[dict[str, Any]], Any]] = register_models(
    "physics",
    {
        "catboost_monotonic": lambda params, clip, source: MonotonicCatBoost(**params),
        "phase_rule_mlp": lambda params, clip, source: MonotonicPenaltyMLP(**params),
        "phase_rule_mlp_unconstrained": lambda params, clip, source: MonotonicPenaltyMLP(
            **{**params, "penalty_weight": 0.0}
        ),
    },
)
