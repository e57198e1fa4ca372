"""Battery-electrolyte case study on CALiSol-23: ionic conductivity of Li-salt liquid electrolytes.

The case-study framework calls this module through five names: :func:`clean`, :func:`featurize`,
:func:`make_splits`, ``PHYSICS_MODELS`` and ``METADATA_COLUMNS``.

Target: ``log10`` of the ionic conductivity in mS/cm (``TARGET_NAME`` / ``TARGET_UNIT``). A
conductivity of exactly 0 cannot be logged; in CALiSol-23 those 32 rows sit at 233-244 K (frozen or
below the instrument's detection limit) or have no salt, so they are quarantined as
``nonpositive_conductivity`` rather than given an invented detection floor; three values below
1e-9 mS/cm (1e-16, digitised zeros) are quarantined as ``conductivity_below_detection``.

Concentration units: CALiSol-23 mixes mol/kg (molality) and mol/L (molarity). Both are kept as given
(``concentration`` + the ``concentration_is_molal`` domain indicator) and also harmonised to an
*estimated* molality, assuming one litre of solution holds one litre of solvent mixture (the salt's
partial molar volume neglected) and the solvents mix ideally by volume: m = c / rho_mix (rho_mix in
kg/L). It underestimates the molality by about the salt's volume fraction (a few per cent at
1 mol/L); the unit indicator lets a model correct for that bias. NaN where a solvent density is unknown.

Solvent ratios are given by mass (``w``), volume (``v``) or mole (``mol``); they are converted to mole
fractions with the molar masses and densities of ``chemistry/data/solvents.csv`` for the
mixture-property features (NaN where a solvent's density is unknown and the basis is volume).

The table files and their references are described in ``chemistry/data/SOURCES_electrolytes.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from matshift.casestudies.electrolyte_physics import PHYSICS_MODELS, TEMPERATURE_COLUMN, TEMPERATURE_FEATURES
from matshift.chemistry.formula import parse_formula
from matshift.splits import fold_frame

__all__ = [
    "METADATA_COLUMNS",
    "PHYSICS_MODELS",
    "TARGET_NAME",
    "TARGET_UNIT",
    "TEMPERATURE_COLUMN",
    "TEMPERATURE_FEATURES",
    "clean",
    "featurize",
    "condition_keys",
    "formulation_keys",
    "make_splits",
    "simulate_impurity_shift",
]

TARGET_NAME = "log10_conductivity"
TARGET_UNIT = "log10(mS/cm)"
INVERSE_TEMPERATURE_COLUMN = TEMPERATURE_FEATURES[1]
METADATA_COLUMNS = ["doi"]  # must not predict conductivity: checked by the shortcut audit
SOLVENT_FRACTION_PREFIX = "frac_"
DATASET_PREFIX = "calisol23"

# raw CALiSol-23 column -> accepted-table column
RAW_COLUMNS = {
    "doi": "doi",
    "k": "conductivity_mS_per_cm",
    "T": TEMPERATURE_COLUMN,
    "c": "concentration",
    "salt": "salt_raw",
    "c units": "concentration_unit",
    "solvent ratio type": "solvent_ratio_basis",
}
CONCENTRATION_UNITS = ("mol/kg", "mol/l")
SOLVENT_RATIO_BASES = ("w", "v", "mol")
MIXTURE_PROPERTIES = (
    "molar_mass_g_per_mol",
    "density_g_per_cm3",
    "dielectric_constant",
    "viscosity_mPa_s",
    "donor_number",
    "melting_point_C",
    "boiling_point_C",
)
# 1e-9 mS/cm: three CALiSol-23 values of 1e-16..1e-15 are float zeros from digitising, not measurements
DEFAULT_CLEAN = {
    "solvent_sum_tolerance": 0.02,
    "duplicates": "quarantine",
    "min_conductivity_mS_per_cm": 1e-9,
}
DEFAULT_FEATURES = {"min_property_coverage": 0.5, "include_solvent_fractions": True}
DEFAULT_SPLITS = {
    "splits": ["temperature_extrapolation", "leave_one_salt_out", "paper_group_cv"],
    "temperature_extrapolation": {"train_min_K": 263.0, "train_max_K": 313.0},
    "leave_one_salt_out": {"min_rows": 100},
    "paper_group_cv": {"n_splits": 5},
    "formulation_decimals": 2,
}
QUARANTINE_COLUMNS = ["source_row", "column", "value", "reason"]
# Glasser-Jenkins lattice potential energy of a 1:1 salt, U = 2 (alpha / V^(1/3) + beta), V in nm^3
# (Jenkins et al., Inorg. Chem. 38, 3609 (1999)); Li+ thermochemical volume from the same work.
_LATTICE_ALPHA_KJ_NM = 117.3
_LATTICE_BETA_KJ = 51.9
_LITHIUM_VOLUME_NM3 = 0.00199


# ---------------------------------------------------------------- reference tables


def _data_file(name: str) -> pd.DataFrame:
    with resources.files("matshift.chemistry").joinpath("data", name).open() as handle:
        return pd.read_csv(handle)


@cache
def _atomic_weights() -> dict[str, float]:
    elements = _data_file("magpie_elements.csv")
    return dict(zip(elements["symbol"], elements["AtomicWeight"], strict=True))


def _molar_mass(formula: str) -> float:
    weights = _atomic_weights()
    return float(sum(weights[element] * amount for element, amount in parse_formula(formula).items()))


@cache
def solvent_table() -> pd.DataFrame:
    """Solvent properties indexed by CALiSol-23 column name, with the molar mass computed from the formula."""
    table = _data_file("solvents.csv").set_index("column")
    table.insert(1, "molar_mass_g_per_mol", table["formula"].map(_molar_mass))
    return table


@cache
def salt_table() -> pd.DataFrame:
    """Lithium-salt descriptors indexed by harmonised name: masses from formulas, a lattice-energy proxy."""
    table = _data_file("lithium_salts.csv").set_index("name")
    anion_counts = pd.DataFrame([parse_formula(f) for f in table["anion_formula"]], index=table.index)
    table["anion_molar_mass_g_per_mol"] = table["anion_formula"].map(_molar_mass)
    table["salt_molar_mass_g_per_mol"] = table["anion_molar_mass_g_per_mol"] + _atomic_weights()["Li"]
    table["anion_n_atoms"] = anion_counts.sum(axis=1)
    for element in ("F", "O", "B", "N", "S", "C"):
        table[f"anion_n_{element}"] = anion_counts.get(element, pd.Series(0.0, index=table.index)).fillna(0.0)
    volume = table["anion_thermochemical_volume_nm3"] + _LITHIUM_VOLUME_NM3
    table["lattice_energy_estimate_kJ_per_mol"] = 2.0 * (
        _LATTICE_ALPHA_KJ_NM / np.cbrt(volume) + _LATTICE_BETA_KJ
    )
    return table


def _salt_aliases() -> dict[str, str]:
    table = salt_table()
    aliases = {name: name for name in table.index}
    for name, listed in table["aliases"].dropna().items():
        aliases.update({alias.strip(): name for alias in listed.split("|")})
    return aliases


def harmonise_salt(names: pd.Series) -> pd.Series:
    """Stray spaces stripped, aliases mapped to one name (LiN(CF3SO2)2 -> LiTFSI); unknown -> <NA>."""
    return names.astype("string").str.strip().map(_salt_aliases()).astype("string")


def _slug(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def solvent_fraction_columns() -> dict[str, str]:
    """CALiSol-23 solvent column -> accepted-table fraction column (``frac_<slug>``)."""
    return {name: SOLVENT_FRACTION_PREFIX + _slug(name) for name in solvent_table().index}


# ---------------------------------------------------------------- clean


def clean(
    raw: pd.DataFrame, declaration: dict[str, Any], target_required: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """CALiSol-23 rows -> (accepted, quarantine); every raw row is in exactly one of them.

    A row can carry several quarantine reasons (one quarantine row each), so
    ``len(raw) == len(accepted) + quarantine["source_row"].nunique()``. ``declaration`` may set
    ``duplicates`` (``quarantine`` | ``keep``), ``solvent_sum_tolerance``,
    ``min_conductivity_mS_per_cm``, ``target: {min, max}`` (log10 mS/cm) and
    ``group: {column: <accepted column>}`` (default: the harmonised salt). ``sample_id`` is
    ``calisol23_<row_id>`` (the file's ``row_id``, else the 0-based row), stable across runs.
    ``target_required=False`` (a plant batch): a row without a conductivity is accepted, unlabelled.
    """
    options = {**DEFAULT_CLEAN, **{k: v for k, v in declaration.items() if k in DEFAULT_CLEAN}}
    solvents = solvent_fraction_columns()
    _check_columns(raw, solvents)
    table = raw.rename(columns={**RAW_COLUMNS, **solvents}).reset_index(drop=True)
    table.insert(0, "source_row", np.arange(len(table), dtype=np.int64))
    numeric = ["conductivity_mS_per_cm", TEMPERATURE_COLUMN, "concentration", *solvents.values()]
    originals = table[numeric].copy()
    table[numeric] = table[numeric].apply(pd.to_numeric, errors="coerce").astype(float)
    table["salt"] = harmonise_salt(table["salt_raw"])
    for column in ("concentration_unit", "solvent_ratio_basis", "doi"):
        table[column] = table[column].astype("string").str.strip()

    issues = _row_issues(table, originals, list(solvents.values()), options, declaration.get("target", {}))
    if not target_required:
        issues = issues[issues["reason"] != "missing_conductivity"].reset_index(drop=True)
    bad_rows = set(issues["source_row"])
    accepted = table[~table["source_row"].isin(bad_rows)].copy()
    accepted["target"] = np.log10(accepted["conductivity_mS_per_cm"])
    ids = raw["row_id"] if "row_id" in raw.columns else pd.Series(np.arange(len(raw)))
    if not ids.is_unique or ids.isna().any():
        raise ValueError("CALiSol-23 row_id must be unique and present: it is the stable sample_id")
    accepted["sample_id"] = [f"{DATASET_PREFIX}_{int(i):05d}" for i in ids.to_numpy()[accepted["source_row"]]]
    accepted["group"] = accepted[(declaration.get("group") or {}).get("column", "salt")].astype(str)
    accepted["formulation"] = formulation_keys(accepted, DEFAULT_SPLITS["formulation_decimals"])
    accepted["condition"] = condition_keys(accepted, DEFAULT_SPLITS["formulation_decimals"])
    leading = ["sample_id", "source_row", "target", "group", "salt", "salt_raw", TEMPERATURE_COLUMN]
    leading += ["concentration", "concentration_unit", "solvent_ratio_basis", "conductivity_mS_per_cm", "doi"]
    ordered = [*leading, "formulation", "condition", *solvents.values()]
    return accepted[ordered].reset_index(drop=True), issues


def _check_columns(raw: pd.DataFrame, solvents: dict[str, str]) -> None:
    missing = [column for column in RAW_COLUMNS if column not in raw.columns]
    if missing:
        raise ValueError(f"CALiSol-23 table lacks columns {missing}; expected {list(RAW_COLUMNS)} + solvents")
    unknown = [c for c in raw.columns if c not in RAW_COLUMNS and c not in solvents and c != "row_id"]
    if unknown:
        raise ValueError(
            f"CALiSol-23 columns {unknown} are neither known fields nor solvents of "
            "matshift/chemistry/data/solvents.csv; add the solvent there (with its properties)"
        )


def _row_issues(
    table: pd.DataFrame,
    originals: pd.DataFrame,
    fraction_columns: list[str],
    options: dict[str, Any],
    target_range: dict[str, Any],
) -> pd.DataFrame:
    """One row per (source row, problem); the checks are independent so every problem is reported."""
    k = table["conductivity_mS_per_cm"]
    temperature = table[TEMPERATURE_COLUMN]
    concentration = table["concentration"]
    fractions = table[fraction_columns]
    fraction_sum = fractions.sum(axis=1, min_count=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_k = np.log10(k.where(k > 0))
    checks: list[tuple[str, str, pd.Series]] = [
        ("k", "missing_conductivity", k.isna()),
        ("k", "nonpositive_conductivity", k <= 0),
        ("k", "conductivity_below_detection", (k > 0) & (k < options["min_conductivity_mS_per_cm"])),
        ("T", "invalid_temperature", temperature.isna() | (temperature <= 0)),
        ("c", "missing_concentration", concentration.isna()),
        ("c", "negative_concentration", concentration < 0),
        ("c", "zero_concentration", concentration == 0),  # salt-free solvent: not an electrolyte
        ("salt", "unknown_salt", table["salt"].isna()),
        ("c units", "unknown_concentration_unit", ~table["concentration_unit"].isin(CONCENTRATION_UNITS)),
        (
            "solvent ratio type",
            "unknown_solvent_ratio_basis",
            ~table["solvent_ratio_basis"].isin(SOLVENT_RATIO_BASES),
        ),
        ("solvents", "missing_solvent_fraction", fractions.isna().any(axis=1)),
        ("solvents", "negative_solvent_fraction", (fractions < 0).any(axis=1)),
        (
            "solvents",
            "solvent_fractions_not_summing_to_one",
            fractions.notna().all(axis=1) & ((fraction_sum - 1.0).abs() > options["solvent_sum_tolerance"]),
        ),
    ]
    if "min" in target_range:  # rows already below the detection floor keep that one reason
        detectable = k >= options["min_conductivity_mS_per_cm"]
        checks.append(("k", "target_out_of_range", detectable & (log_k < target_range["min"])))
    if "max" in target_range:
        checks.append(("k", "target_out_of_range", log_k > target_range["max"]))
    if options["duplicates"] == "quarantine":
        content = [c for c in table.columns if c not in ("source_row", "row_id", "salt_raw")]
        checks.append(("row", "duplicate_row", table.duplicated(subset=content, keep="first")))
    raw_value = {
        "k": originals["conductivity_mS_per_cm"],
        "T": originals[TEMPERATURE_COLUMN],
        "c": originals["concentration"],
        "salt": table["salt_raw"],
        "c units": table["concentration_unit"],
        "solvent ratio type": table["solvent_ratio_basis"],
        "solvents": fraction_sum.round(6),
        "row": table.get("row_id", table["source_row"]),
    }
    frames = [
        pd.DataFrame(
            {
                "source_row": table.loc[mask.fillna(False).to_numpy(), "source_row"],
                "column": column,
                "value": raw_value[column][mask.fillna(False).to_numpy()].astype(str),
                "reason": reason,
            }
        )
        for column, reason, mask in checks
    ]
    issues = pd.concat(frames, ignore_index=True)[QUARANTINE_COLUMNS]
    return issues.sort_values(["source_row", "reason"], kind="stable").reset_index(drop=True)


def formulation_keys(table: pd.DataFrame, decimals: int) -> pd.Series:
    """Salt + concentration (value and unit) + solvent ratios (and basis), rounded: one electrolyte recipe."""
    fractions = table[[c for c in table.columns if c.startswith(SOLVENT_FRACTION_PREFIX)]].round(decimals)
    parts = [
        table["salt"].astype(str),
        table["concentration"].round(decimals).astype(str) + " " + table["concentration_unit"].astype(str),
        table["solvent_ratio_basis"].astype(str),
        fractions.astype(str).agg(",".join, axis=1),
    ]
    return pd.concat(parts, axis=1).agg("|".join, axis=1).rename("formulation")


def condition_keys(table: pd.DataFrame, decimals: int) -> pd.Series:
    """Formulation + temperature rounded to 1 K: replicates and digitised near-duplicates share it."""
    temperature = table[TEMPERATURE_COLUMN].round(0).map("{:.0f}K".format)
    return (formulation_keys(table, decimals) + "|" + temperature).rename("condition")


# ---------------------------------------------------------------- featurize


def featurize(table: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """Numeric features by sample_id: temperature, concentration, salt and solvent-mixture descriptors.

    Domain indicators: ``concentration_is_molal`` and ``solvent_basis_{mass,volume,mole}``.
    """
    options = {**DEFAULT_FEATURES, **params}
    solvents = solvent_table()
    salts = salt_table()
    fraction_of = solvent_fraction_columns()
    given = table[list(fraction_of.values())].to_numpy(dtype=float)
    mole_fractions = _mole_fractions(given, table["solvent_ratio_basis"].to_numpy(), solvents)
    mass_fractions = _normalise(mole_fractions * solvents["molar_mass_g_per_mol"].to_numpy())

    features = pd.DataFrame(index=pd.Index(table["sample_id"], name="sample_id"))
    temperature = table[TEMPERATURE_COLUMN].to_numpy(dtype=float)
    features[TEMPERATURE_COLUMN] = temperature
    features[INVERSE_TEMPERATURE_COLUMN] = 1000.0 / temperature
    features["concentration"] = table["concentration"].to_numpy(dtype=float)
    is_molal = (table["concentration_unit"] == "mol/kg").to_numpy()
    features["concentration_is_molal"] = is_molal.astype(float)
    specific_volume = mass_fractions / solvents["density_g_per_cm3"].to_numpy()
    # an absent solvent of unknown density adds no volume
    specific_volume[(mass_fractions == 0) & np.isnan(specific_volume)] = 0.0
    # ideal volume additivity; NaN when a present solvent's density is unknown
    mixture_density = 1.0 / specific_volume.sum(axis=1)
    features["molality_estimated_mol_per_kg"] = np.where(
        is_molal, features["concentration"], features["concentration"] / mixture_density
    )
    for basis, code in (("mass", "w"), ("volume", "v"), ("mole", "mol")):
        features[f"solvent_basis_{basis}"] = (table["solvent_ratio_basis"] == code).to_numpy(dtype=float)

    salt_columns = [
        "salt_molar_mass_g_per_mol",
        "anion_molar_mass_g_per_mol",
        "anion_n_atoms",
        *[c for c in salts.columns if c.startswith("anion_n_") and c != "anion_n_atoms"],
        "anion_thermochemical_volume_nm3",
        "lattice_energy_estimate_kJ_per_mol",
    ]
    for column in salt_columns:
        name = column if column.startswith("salt_") else f"salt_{column}"
        features[name] = table["salt"].map(salts[column]).to_numpy(dtype=float)

    for prop in MIXTURE_PROPERTIES:
        features[f"solvent_mix_{prop}"] = _weighted_property(
            mole_fractions, solvents[prop].to_numpy(dtype=float), options["min_property_coverage"]
        )
    present = np.nan_to_num(given) > 0
    features["solvent_n_components"] = present.sum(axis=1).astype(float)
    # a row's mole fractions are all known or all NaN (see _mole_fractions)
    features["solvent_max_mole_fraction"] = mole_fractions.max(axis=1)
    if options["include_solvent_fractions"]:
        for column in fraction_of.values():
            features[column] = table[column].to_numpy(dtype=float)
    return features


def _normalise(weights: np.ndarray) -> np.ndarray:
    total = weights.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return weights / total


def _mole_fractions(given: np.ndarray, basis: np.ndarray, solvents: pd.DataFrame) -> np.ndarray:
    """Mass, volume or mole ratios -> mole fractions; NaN where a row needs a missing solvent property."""
    molar_mass = solvents["molar_mass_g_per_mol"].to_numpy(dtype=float)
    density = solvents["density_g_per_cm3"].to_numpy(dtype=float)
    present = np.nan_to_num(given) > 0
    moles = np.full_like(given, np.nan)
    by_basis = {"w": given / molar_mass, "v": given * density / molar_mass, "mol": given}
    for code, amount in by_basis.items():
        rows = basis == code
        # 0 * NaN would poison a row through a solvent that is absent from it
        moles[rows] = np.where(present[rows], amount[rows], 0.0)
    return _normalise(moles)


def _weighted_property(mole_fractions: np.ndarray, values: np.ndarray, min_coverage: float) -> np.ndarray:
    """Mole-fraction-weighted mean over the solvents whose value is known; NaN below ``min_coverage``."""
    known = ~np.isnan(values)
    weights = np.where(known, mole_fractions, 0.0)
    coverage = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (weights * np.nan_to_num(values)).sum(axis=1) / coverage
    return np.where(coverage >= min_coverage, mean, np.nan)


# ---------------------------------------------------------------- splits


def make_splits(table: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """Long split table: ``split, fold, fold_name, role, sample_id`` for every requested split.

    - ``temperature_extrapolation``: train on ``train_min_K <= T <= train_max_K``, test below (fold 0)
      and above (fold 1). The same formulations sit on both sides on purpose: the question is how a
      known electrolyte behaves at an unseen temperature.
    - ``leave_one_salt_out``: one fold per salt with at least ``min_rows`` rows (salt is part of the
      formulation, so no formulation crosses).
    - ``paper_group_cv``: GroupKFold by doi; training rows whose formulation also occurs in the test
      papers are dropped from that fold (in neither role) so no recipe is on both sides.

    In every fold a training row whose *condition* (formulation + temperature to 1 K, the accepted
    table's ``condition`` column) occurs among the test rows is dropped, e.g. a 262.6 K test point and
    a 263.1 K training point of the same recipe at the temperature boundary.
    """
    options = {**DEFAULT_SPLITS, **params}
    formulations = formulation_keys(table, options["formulation_decimals"]).to_numpy()
    conditions = pd.Series(
        condition_keys(table, options["formulation_decimals"]).to_numpy(), index=table["sample_id"].to_numpy()
    )
    builders: dict[str, Callable[[pd.DataFrame, dict[str, Any], np.ndarray], pd.DataFrame]] = {
        "temperature_extrapolation": _temperature_extrapolation,
        "leave_one_salt_out": _leave_one_salt_out,
        "paper_group_cv": _paper_group_cv,
    }
    unknown = [name for name in options["splits"] if name not in builders]
    if unknown:
        raise ValueError(f"unknown electrolyte splits {unknown}; available: {sorted(builders)}")
    frames = [
        _drop_train_sharing_test(
            builders[name](table, {**DEFAULT_SPLITS[name], **options.get(name, {})}, formulations), conditions
        )
        for name in options["splits"]
    ]
    return pd.concat(frames, ignore_index=True)


def _drop_train_sharing_test(splits: pd.DataFrame, key: pd.Series) -> pd.DataFrame:
    """Per fold, training rows whose ``key`` value is also a test row's are left out of the fold."""
    keys = key.loc[splits["sample_id"]].to_numpy()
    is_test = (splits["role"] == "test").to_numpy()
    fold_key = splits["split"] + "\x1f" + splits["fold"].astype(str) + "\x1f" + keys
    shared = ~is_test & fold_key.isin(set(fold_key[is_test])).to_numpy()
    return splits[~shared].reset_index(drop=True)


def _temperature_extrapolation(table: pd.DataFrame, params: dict[str, Any], _: np.ndarray) -> pd.DataFrame:
    low, high = float(params["train_min_K"]), float(params["train_max_K"])
    temperature = table[TEMPERATURE_COLUMN].to_numpy(dtype=float)
    is_train = (temperature >= low) & (temperature <= high)
    folds = [(f"below_{low:g}K", temperature < low), (f"above_{high:g}K", temperature > high)]
    return pd.concat(
        [
            fold_frame("temperature_extrapolation", fold, name, table, is_test, is_train)
            for fold, (name, is_test) in enumerate(folds)
        ],
        ignore_index=True,
    )


def _leave_one_salt_out(table: pd.DataFrame, params: dict[str, Any], _: np.ndarray) -> pd.DataFrame:
    counts = table["salt"].value_counts()
    salts = sorted(counts[counts >= params["min_rows"]].index)
    salt = table["salt"].to_numpy()
    if not salts:
        raise ValueError(
            f"leave_one_salt_out: no salt has min_rows={params['min_rows']} rows "
            f"(largest: {counts.head(3).to_dict()}); lower leave_one_salt_out.min_rows"
        )
    return pd.concat(
        [
            fold_frame("leave_one_salt_out", fold, name, table, salt == name, salt != name)
            for fold, name in enumerate(salts)
        ],
        ignore_index=True,
    )


def _paper_group_cv(table: pd.DataFrame, params: dict[str, Any], formulations: np.ndarray) -> pd.DataFrame:
    papers = table["doi"].to_numpy()
    n_splits = min(int(params["n_splits"]), len(pd.unique(papers)))
    frames = []
    splitter = GroupKFold(n_splits=n_splits)
    for fold, (_, test_index) in enumerate(splitter.split(table, groups=papers)):
        is_test = np.zeros(len(table), dtype=bool)
        is_test[test_index] = True
        is_train = ~is_test & ~np.isin(formulations, formulations[is_test])
        frames.append(fold_frame("paper_group_cv", fold, f"papers_fold_{fold}", table, is_test, is_train))
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------- simulated impurity shift


def simulate_impurity_shift(table: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """SIMULATED recycled-precursor scenario: CALiSol-23 has no purity column, so one is invented.

    A fraction ``recycled_fraction`` of formulations (chosen with ``random_state``) is labelled
    ``recycled_simulated``; their rows get a simulated water content drawn from
    ``water_ppm_range`` and a target lowered by ``log10_penalty_per_1000_ppm`` per 1000 ppm. Every
    added column starts with ``simulated_``; the real target is left untouched in ``target``.
    """
    rng = np.random.default_rng(params.get("random_state", 0))
    formulation = table["formulation"] if "formulation" in table else formulation_keys(table, 2)
    unique = np.sort(formulation.unique())
    recycled = set(
        rng.choice(unique, size=int(round(params["recycled_fraction"] * len(unique))), replace=False)
    )
    is_recycled = formulation.isin(recycled).to_numpy()
    low, high = params["water_ppm_range"]
    water = np.where(is_recycled, rng.uniform(low, high, size=len(table)), 0.0)
    shifted = table.copy()
    shifted["simulated_source_grade"] = np.where(is_recycled, "recycled_simulated", "battery_grade")
    shifted["simulated_water_ppm"] = water
    shifted["simulated_target"] = table["target"] - params["log10_penalty_per_1000_ppm"] * water / 1000.0
    return shifted
