"""An alloy dataset declared with wt% columns (Fe balance), process columns differing only in case, a
categorical route, a metadata year and column splits runs ingest -> validate -> featurize -> split ->
train, and its process columns reach the model (issue 11)."""

import numpy as np
import pandas as pd

from matshift.audit.leakage import audit_leakage
from matshift.featurizers import featurize_materials
from matshift.ingest.staging import stage_materials_table
from matshift.pipelines.split.nodes import make_splits
from matshift.pipelines.train.nodes import train_and_predict
from matshift.pipelines.validate.nodes import validate_materials
from tests.pipelines.train.test_nodes import ROBUST_PARAMS

DECLARATION = {
    "source": {"filepath": "data/01_raw/steel/steel.csv"},
    "columns": {"target": "Hardness"},
    "composition": {"basis": "wt%", "columns": {"Cr": "Cr", "Ni": "Ni"}, "balance": "Fe"},
    "target": {"name": "hardness", "unit": "HV", "min": 0.0, "max": 2000.0},
    "domain": "experiment",
    "group": {"column": "Lab"},
    "process_columns": {
        "THT": {"column": "THT", "unit": "K", "min": 300, "max": 1500},
        "THt": {"column": "THt", "unit": "h", "min": 0, "max": 100},
        "route": {"column": "Route", "categories": ["cast", "wrought"]},
    },
    "metadata_columns": {"year": "Year"},
    "max_bad_fraction": 0.1,
    "splits": [{"leave_group_out": "group"}, {"time": {"column": "year", "test_from": 2020}}],
    "models": ["dummy", "erm"],
}
TRAIN = {
    "models": {
        "dummy": {"strategy": "mean"},
        "erm": {
            "iterations": 150,
            "depth": 3,
            "verbose": False,
            "allow_writing_files": False,
            "random_seed": 0,
        },
    }
}


def _raw(n: int = 240) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    # each lab its own Cr levels and each year its own Ni level, so the splits can keep compositions apart
    lab = rng.choice(["lab_a", "lab_b", "lab_c"], n)
    cr = np.where(lab == "lab_a", 12, np.where(lab == "lab_b", 18, 24)) + rng.choice([0, 2], n)
    ni = rng.choice([0, 4, 8, 10], n)
    year = pd.Series(ni).map({0: "2016", 4: "2018", 8: "2020", 10: "2021"}).to_numpy()
    tht = rng.uniform(800, 1300, n)
    tht_hours = rng.uniform(0.5, 50, n)
    route = rng.choice(["cast", "wrought"], n)
    hardness = (
        150 + 2 * cr + (1300 - tht) * 0.4 + 10 * np.log(tht_hours) + np.where(route == "wrought", 40, 0)
    )
    raw = pd.DataFrame(
        {
            "Cr": cr.astype(str),
            "Ni": ni.astype(str),
            "THT": np.round(tht, 1).astype(str),
            "THt": np.round(tht_hours, 2).astype(str),
            "Route": route,
            "Lab": lab,
            "Year": year,
            "Hardness": np.round(hardness + rng.normal(0, 3, n), 1).astype(str),
        }
    )
    raw.loc[0, "THt"] = "500"  # out of range: quarantined, the THT of that row is fine
    raw["source_row"] = range(2, n + 2)
    return raw


def test_an_element_fraction_dataset_with_process_columns_runs_every_stage():
    staged = stage_materials_table(_raw(), DECLARATION, "steel")
    accepted, quarantine, summary, _ = validate_materials(staged, DECLARATION, "steel")
    assert quarantine["detail"].tolist() == ["THt=500 outside [0, 100]"]
    assert summary["accepted"] == 239
    features = featurize_materials(accepted)
    assert features.index.is_unique and len(features) == 24  # 6 Cr x 4 Ni levels
    splits = make_splits(accepted, features, summary, DECLARATION, {"time": {"test_fraction": 0.2}}, "steel")
    assert set(splits["split"]) == {"leave_group_out_group", "time_year"}
    assert splits.groupby(["split", "fold"]).ngroups == 4  # three labs left out in turn, one time cut
    audit_leakage(accepted, splits, "steel")  # raises if a composition sits on both sides
    _, predictions = train_and_predict(accepted, features, splits, DECLARATION, TRAIN, ROBUST_PARAMS, "steel")
    mae = (predictions["prediction"] - predictions["target"]).abs().groupby(predictions["model"]).mean()
    assert mae["erm"] < 0.5 * mae["dummy"]
