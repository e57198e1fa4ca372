import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import GradientBoostingRegressor

from matshift.casestudies import case_study_module, electrolytes
from matshift.casestudies.electrolytes import (
    PHYSICS_MODELS,
    TEMPERATURE_COLUMN,
    clean,
    featurize,
    formulation_keys,
    harmonise_salt,
    make_splits,
    simulate_impurity_shift,
    solvent_table,
)

REPO = Path(__file__).resolve().parents[2]


def _raw(rows: list[dict]) -> pd.DataFrame:
    """A CALiSol-23-shaped frame: every solvent column present, zero unless the row sets it."""
    base = {"doi": "10.1/a", "k": 5.0, "T": 298.15, "c": 1.0, "salt": "LiPF6", "c units": "mol/kg"}
    base["solvent ratio type"] = "w"
    frame = pd.DataFrame([{**base, **{name: 0.0 for name in solvent_table().index}, **row} for row in rows])
    frame.insert(0, "row_id", np.arange(100, 100 + len(frame)))
    return frame


def test_module_meets_the_case_study_contract():
    assert case_study_module("electrolytes") is electrolytes
    assert set(PHYSICS_MODELS) >= {"vtf", "arrhenius"}
    assert electrolytes.METADATA_COLUMNS == ["doi"]


def test_salt_aliases_are_harmonised():
    names = pd.Series([" LiBPFPB", "LiBPFPB", "LiN(CF3SO2)2", "LiTFSI", "LiUnknown"])
    assert harmonise_salt(names).tolist()[:4] == ["LiBPFPB", "LiBPFPB", "LiTFSI", "LiTFSI"]
    assert harmonise_salt(names).isna().tolist() == [False, False, False, False, True]


def test_clean_quarantines_with_reasons_and_reconciles():
    good = {"PC": 1.0}
    raw = _raw(
        [
            good,  # 0 accepted
            {**good, "k": np.nan},  # 1 missing_conductivity
            {**good, "k": 0.0},  # 2 nonpositive_conductivity
            {**good, "c": -0.0054},  # 3 negative_concentration
            {**good, "salt": "LiXYZ"},  # 4 unknown_salt
            {"PC": 0.5},  # 5 solvent_fractions_not_summing_to_one
            good,  # 6 duplicate_row of 0
            {**good, "k": np.nan, "c": -1.0},  # 7 two reasons, one row
            {**good, "salt": " LiBPFPB", "c units": "mol/l", "T": 250.0},  # 8 accepted, alias
            {**good, "k": 1.11e-16},  # 9 conductivity_below_detection (a digitised zero)
        ]
    )
    accepted, quarantine = clean(raw, {"duplicates": "quarantine"})
    assert list(quarantine.columns) == ["source_row", "column", "value", "reason"]
    reasons = quarantine.groupby("source_row")["reason"].apply(set).to_dict()
    assert reasons == {
        1: {"missing_conductivity"},
        2: {"nonpositive_conductivity"},
        3: {"negative_concentration"},
        4: {"unknown_salt"},
        5: {"solvent_fractions_not_summing_to_one"},
        6: {"duplicate_row"},
        7: {"missing_conductivity", "negative_concentration"},
        9: {"conductivity_below_detection"},
    }
    assert len(raw) == len(accepted) + quarantine["source_row"].nunique()
    assert accepted["source_row"].tolist() == [0, 8]
    assert accepted["sample_id"].tolist() == ["calisol23_00100", "calisol23_00108"]
    assert accepted["target"].tolist() == pytest.approx([np.log10(5.0)] * 2)
    assert accepted["group"].tolist() == ["LiPF6", "LiBPFPB"]
    assert quarantine.loc[quarantine["source_row"] == 4, "value"].item() == "LiXYZ"


def test_clean_keeps_duplicates_when_declared_and_rejects_unknown_columns():
    raw = _raw([{"PC": 1.0}, {"PC": 1.0}])
    accepted, quarantine = clean(raw, {"duplicates": "keep"})
    assert len(accepted) == 2 and quarantine.empty
    with pytest.raises(ValueError, match="Unobtainium"):
        clean(raw.assign(Unobtainium=0.0), {})


def test_concentration_units_and_solvent_basis():
    raw = _raw(
        [
            {"PC": 1.0, "c": 1.2, "c units": "mol/l"},  # pure PC, density 1.200 g/cm3
            {"PC": 1.0, "c": 0.7, "c units": "mol/kg"},
            {"EC": 0.5, "PC": 0.5, "solvent ratio type": "w"},
            {"EC": 0.5, "PC": 0.5, "solvent ratio type": "mol"},
        ]
    )
    accepted, _ = clean(raw, {})
    features = featurize(accepted, {})
    assert features.index.tolist() == accepted["sample_id"].tolist()
    assert "target" not in features.columns
    assert features["molality_estimated_mol_per_kg"].tolist()[:2] == pytest.approx([1.0, 0.7])
    assert features["concentration_is_molal"].tolist() == [0.0, 1.0, 1.0, 1.0]
    assert features["solvent_basis_mass"].tolist() == [1.0, 1.0, 1.0, 0.0]
    assert features["solvent_basis_mole"].tolist() == [0.0, 0.0, 0.0, 1.0]
    eps = solvent_table().loc[["EC", "PC"], "dielectric_constant"].to_numpy()
    masses = solvent_table().loc[["EC", "PC"], "molar_mass_g_per_mol"].to_numpy()
    mole_fraction = (0.5 / masses) / (0.5 / masses).sum()  # equal masses -> more moles of the lighter EC
    dielectric = features["solvent_mix_dielectric_constant"].to_numpy()
    assert dielectric[2] == pytest.approx(mole_fraction @ eps)
    assert dielectric[3] == pytest.approx(eps.mean())
    assert features[TEMPERATURE_COLUMN].tolist() == pytest.approx([298.15] * 4)


def _split_table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for paper in range(6):
        for salt in ("LiPF6", "LiBF4", "LiBOB"):
            for temperature in (233.0, 263.0, 298.0, 313.0, 333.0):
                # papers 0-1 share one recipe, so paper CV must keep it on one side
                concentration = 1.0 if paper < 2 else float(rng.choice([0.5, 0.8, 1.5]))
                rows.append({"doi": f"10.1/{paper}", "salt": salt, "T": temperature, "c": concentration})
    accepted, _ = clean(_raw([{**row, "PC": 1.0} for row in rows]), {})
    return accepted


def test_splits_have_no_sample_on_both_sides_and_respect_bounds():
    table = _split_table()
    params = {
        "temperature_extrapolation": {"train_min_K": 263.0, "train_max_K": 313.0},
        "leave_one_salt_out": {"min_rows": 10},
        "paper_group_cv": {"n_splits": 3},
    }
    splits = make_splits(table, params)
    assert list(splits.columns) == ["split", "fold", "fold_name", "role", "sample_id"]
    assert set(splits["split"]) == {"temperature_extrapolation", "leave_one_salt_out", "paper_group_cv"}
    for _, fold in splits.groupby(["split", "fold"]):
        roles = fold.groupby("sample_id")["role"].nunique()
        assert (roles == 1).all()
    temperature = table.set_index("sample_id")[TEMPERATURE_COLUMN]
    extrapolation = splits[splits["split"] == "temperature_extrapolation"]
    train = temperature[extrapolation.loc[extrapolation["role"] == "train", "sample_id"]]
    assert train.between(263.0, 313.0).all()
    below = extrapolation[(extrapolation["fold"] == 0) & (extrapolation["role"] == "test")]
    above = extrapolation[(extrapolation["fold"] == 1) & (extrapolation["role"] == "test")]
    assert (temperature[below["sample_id"]] < 263.0).all() and (temperature[above["sample_id"]] > 313.0).all()
    salts = splits[splits["split"] == "leave_one_salt_out"]
    assert sorted(salts["fold_name"].unique()) == ["LiBF4", "LiBOB", "LiPF6"]


def test_grouped_splits_never_put_a_formulation_on_both_sides():
    table = _split_table()
    formulation = pd.Series(formulation_keys(table, 2).to_numpy(), index=table["sample_id"])
    params = {"paper_group_cv": {"n_splits": 3}, "leave_one_salt_out": {"min_rows": 10}}
    splits = make_splits(table, {"splits": ["paper_group_cv", "leave_one_salt_out"], **params})
    for _, fold in splits.groupby(["split", "fold"]):
        sides = [set(formulation[fold.loc[fold["role"] == role, "sample_id"]]) for role in ("train", "test")]
        assert not sides[0] & sides[1]
        assert len(sides[1]) > 0


def test_a_recipe_at_the_same_temperature_never_crosses_the_temperature_boundary():
    # 262.6 K (test, below 263 K) and 263.1 K (train) round to the same 263 K condition
    rows = [{"T": t, "PC": 1.0} for t in (262.6, 263.1, 280.0, 300.0, 320.0)]
    table, _ = clean(_raw(rows), {})
    params = {"splits": ["temperature_extrapolation"]}
    splits = make_splits(
        table, {**params, "temperature_extrapolation": {"train_min_K": 263.0, "train_max_K": 313.0}}
    )
    below = splits[splits["fold"] == 0]
    temperature = table.set_index("sample_id")[TEMPERATURE_COLUMN]
    assert temperature[below.loc[below["role"] == "train", "sample_id"]].tolist() == [280.0, 300.0]
    above = splits[splits["fold"] == 1]
    assert temperature[above.loc[above["role"] == "train", "sample_id"]].tolist() == [263.1, 280.0, 300.0]
    conditions = table.set_index("sample_id")["condition"]
    for _, fold in splits.groupby("fold"):
        sides = [set(conditions[fold.loc[fold["role"] == role, "sample_id"]]) for role in ("train", "test")]
        assert not sides[0] & sides[1]


def _vtf_data(
    temperatures: np.ndarray, rng: np.random.Generator, law: str
) -> tuple[pd.DataFrame, np.ndarray]:
    n = len(temperatures)
    x = rng.uniform(-1.0, 1.0, size=(n, 2))
    a = 1.5 + 0.4 * x[:, 0]
    b = 350.0 + 80.0 * x[:, 1]
    t0 = 160.0 + 20.0 * x[:, 0] if law == "vtf" else np.zeros(n)
    y = a - b / (temperatures - t0)
    frame = pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], TEMPERATURE_COLUMN: temperatures})
    return frame, y


def test_vtf_recovers_the_law_and_extrapolates_in_temperature_better_than_trees():
    rng = np.random.default_rng(1)
    train_x, train_y = _vtf_data(rng.uniform(263.0, 313.0, 1000), rng, "vtf")
    test_x, test_y = _vtf_data(
        np.r_[rng.uniform(215.0, 250.0, 300), rng.uniform(330.0, 380.0, 300)], rng, "vtf"
    )
    model = PHYSICS_MODELS["vtf"]({"max_epochs": 100, "batch_size": 256, "learning_rate": 1e-2})
    model.fit(train_x, train_y)
    trees = GradientBoostingRegressor(random_state=0).fit(train_x, train_y)  # single-threaded
    vtf_mae = np.abs(model.predict(test_x) - test_y).mean()
    tree_mae = np.abs(trees.predict(test_x) - test_y).mean()
    assert np.abs(model.predict(train_x) - train_y).mean() < 0.02
    # T0 is only loosely pinned by a 50 K window, so the far extrapolation is good, not exact
    assert vtf_mae < 0.1
    assert vtf_mae < 0.2 * tree_mae
    law = model.law_parameters(test_x)
    assert (law["B_K"] > 0).all() and (law["T0_K"] < train_x[TEMPERATURE_COLUMN].min()).all()


def test_arrhenius_recovers_activation_and_round_trips():
    rng = np.random.default_rng(2)
    train_x, train_y = _vtf_data(rng.uniform(263.0, 313.0, 600), rng, "arrhenius")
    model = PHYSICS_MODELS["arrhenius"]({"max_epochs": 400, "batch_size": 256, "learning_rate": 1e-2})
    model.fit(train_x, train_y)
    true_b = 350.0 + 80.0 * train_x["x1"].to_numpy()
    fitted_b = model.law_parameters(train_x)["B_K"].to_numpy()
    assert np.median(np.abs(fitted_b - true_b) / true_b) < 0.1
    restored = pickle.loads(pickle.dumps(model))
    assert np.allclose(restored.predict(train_x), model.predict(train_x))
    assert clone(model).get_params() == model.get_params()


def test_simulated_impurity_shift_is_labelled_and_leaves_the_target():
    table = _split_table()
    params = {"recycled_fraction": 0.5, "water_ppm_range": [200, 2000], "log10_penalty_per_1000_ppm": 0.1}
    shifted = simulate_impurity_shift(table, params)
    added = [c for c in shifted.columns if c not in table.columns]
    assert added and all(c.startswith("simulated_") for c in added)
    assert shifted["target"].equals(table["target"])
    recycled = shifted["simulated_source_grade"] == "recycled_simulated"
    assert 0 < recycled.mean() < 1
    assert (shifted.loc[recycled, "simulated_target"] < shifted.loc[recycled, "target"]).all()


def test_real_calisol23_counts_reconcile():
    mirror = Path(os.environ.get("MATSHIFT_DATA_MIRROR", REPO.parent / "shared" / "datasets"))
    path = mirror / "calisol23" / "calisol23.csv"
    if not path.exists():
        pytest.skip(
            f"CALiSol-23 not found at {path} (set MATSHIFT_DATA_MIRROR to a folder holding calisol23/)"
        )
    raw = pd.read_csv(path)
    accepted, quarantine = clean(raw, {})
    assert len(raw) == len(accepted) + quarantine["source_row"].nunique()
    assert accepted["sample_id"].is_unique
    assert (quarantine["reason"] == "missing_conductivity").sum() == raw["k"].isna().sum()
    assert set(accepted["salt"]) <= set(electrolytes.salt_table().index)
    assert np.isfinite(accepted["target"]).all()


def test_a_plant_batch_is_cleaned_like_the_training_file_with_the_target_optional():
    """A batch of the CALiSol-23 layout through the stage hook: unlabelled rows accepted (NaN target),
    bad rows quarantined with the file's line number, ids prefixed with the batch, the leakage group kept,
    and the module's features computed for the accepted rows."""
    from matshift.casestudies.stages import clean_plant_batch, featurize_domain

    declaration = {
        "case_study": "electrolytes",
        "target": {"name": "log10_conductivity", "column": "k", "min": -9.0, "max": 2.0},
        "group": {"column": "salt"},
        "leakage_key": "condition",
        "features": {"min_property_coverage": 0.5, "include_solvent_fractions": True},
    }
    raw = _raw([{"PC": 1.0}, {"PC": 1.0, "k": np.nan, "T": 320.0}, {"PC": 1.0, "salt": "LiXYZ", "T": 330.0}])
    accepted, quarantine, counts = clean_plant_batch(raw, declaration, "electrolytes plant batch b1", "b1")
    assert counts["rows_in"] == 3 == counts["accepted"] + counts["quarantined"]
    assert accepted["sample_id"].tolist() == ["b1:calisol23_00100", "b1:calisol23_00101"]
    assert np.isnan(accepted["target"].iloc[1]) and np.isfinite(accepted["target"].iloc[0])
    assert quarantine[["source_row", "reason"]].values.tolist() == [[4, "unknown_salt"]]  # line 4 of the file
    assert (accepted["leakage_group"] == accepted["condition"]).all()
    features = featurize_domain(accepted, declaration, "electrolyte_conductivity")
    assert list(features.index) == accepted["sample_id"].tolist() and features.notna().any(axis=1).all()
    # the same batch without the conductivity column at all: every row unlabelled, none quarantined for it
    unlabelled, _, counts = clean_plant_batch(raw.drop(columns="k").iloc[:2], declaration, "b2", "b2")
    assert counts["quarantined"] == 0 and unlabelled["target"].isna().all()
