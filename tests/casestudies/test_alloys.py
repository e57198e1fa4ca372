"""The alloy domain module on small constructed frames where the right answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matshift.casestudies import alloys, case_study_module

COLUMNS = list(alloys.RAW_COLUMNS.values()) + ["PROPERTY: HV", "PROPERTY: YS (MPa)"]
HARDNESS = {
    "target": {"column": "PROPERTY: HV", "min": 1.0, "max": 2000.0},
    "group": {"column": "processing"},
}
YIELD = {
    "target": {"column": "PROPERTY: YS (MPa)", "min": 1.0, "max": 6000.0},
    "group": {"column": "test_type"},
    "requires_test_condition": True,
}


def raw_row(formula="Co1 Cr1 Fe1 Ni1", route="CAST", hv="200", ys="", test="", temp="", ref="1", year="2015"):
    values = dict.fromkeys(COLUMNS, "")
    values.update(
        {
            "FORMULA": formula,
            "PROPERTY: Processing method": route,
            "PROPERTY: HV": hv,
            "PROPERTY: YS (MPa)": ys,
            "PROPERTY: Type of test": test,
            "PROPERTY: Test temperature ($^\\circ$C)": temp,
            "IDENTIFIER: Reference ID": ref,
            "REFERENCE: year": year,
        }
    )
    return values


@pytest.fixture
def raw() -> pd.DataFrame:
    rows = [
        raw_row(),  # 0 accepted
        raw_row(),  # 1 duplicate of 0
        raw_row(hv=""),  # 2 missing target
        raw_row(hv="hard"),  # 3 invalid target
        raw_row(hv="-5"),  # 4 out of range
        raw_row(formula="Xx1 Fe1"),  # 5 unknown element
        raw_row(formula="Al0.5 Co1 Cr1 Fe1 Ni1", route=" wrought "),  # 6 accepted, route normalised
        raw_row(formula="Nb1 Mo1 Ta1 W1", route=""),  # 7 accepted as UNKNOWN route
        raw_row(formula="Nb1 Ti1", route="LASER"),  # 8 unknown processing
    ]
    return pd.DataFrame(rows)


def test_counts_reconcile_and_reasons(raw):
    accepted, quarantine = alloys.clean(raw, HARDNESS)
    assert len(raw) == len(accepted) + quarantine["source_row"].nunique()
    assert dict(zip(quarantine["source_row"], quarantine["reason"], strict=True)) == {
        1: "duplicate_row",
        2: "missing_target",
        3: "invalid_target",
        4: "target_out_of_range",
        5: "unknown_element",
        8: "unknown_processing",
    }
    assert accepted["source_row"].tolist() == [0, 6, 7]
    assert accepted["processing"].tolist() == ["CAST", "WROUGHT", "UNKNOWN"]
    assert accepted["group"].tolist() == ["CAST", "WROUGHT", "UNKNOWN"]
    assert accepted["sample_id"].is_unique
    assert accepted["target"].tolist() == [200.0, 200.0, 200.0]
    assert set(alloys.METADATA_COLUMNS) <= set(accepted.columns)


def test_sample_ids_are_stable_across_row_order(raw):
    first, _ = alloys.clean(raw, HARDNESS)
    second, _ = alloys.clean(raw.iloc[::-1].reset_index(drop=True), HARDNESS)
    assert set(first["sample_id"]) == set(second["sample_id"])


def test_yield_strength_needs_test_type_and_temperature():
    raw = pd.DataFrame(
        [
            raw_row(hv="", ys="900", test="C", temp="25"),
            raw_row(hv="", ys="700", test="T", temp="600", formula="Co1 Ni1"),
            raw_row(hv="", ys="800", test="", temp="25", formula="Fe1 Ni1"),
            raw_row(hv="", ys="800", test="B", temp="25", formula="Fe1 Cr1"),
            raw_row(hv="", ys="800", test="T", temp="", formula="Fe1 Co1"),
        ]
    )
    accepted, quarantine = alloys.clean(raw, YIELD)
    assert quarantine["reason"].tolist() == [
        "unknown_test_type",
        "unknown_test_type",
        "missing_test_temperature",
    ]
    assert accepted["group"].tolist() == ["C", "T"]
    features = alloys.featurize(accepted, {"condition_features": ["test_type", "test_temperature"]})
    assert features["test_is_tension"].tolist() == [0.0, 1.0]
    assert features["test_temperature_c"].tolist() == [25.0, 600.0]
    assert features.index.tolist() == accepted["sample_id"].tolist()
    assert "target" not in features


def split_table() -> pd.DataFrame:
    rows = []
    for i, (composition, route, year, ref) in enumerate(
        [
            ("A", "CAST", 2015, "r1"),
            ("B", "CAST", 2016, "r1"),
            ("C", "CAST", 2017, "r2"),
            ("A", "WROUGHT", 2018, "r3"),  # A was also cast: the cast A row must leave the wrought fold
            ("D", "ANNEAL", 2019, "r4"),
            ("E", "POWDER", 2019, "r5"),
            ("F", "UNKNOWN", 2014, "r6"),
        ]
    ):
        rows.append(
            {
                "sample_id": f"s{i}",
                "composition": composition,
                "processing": route,
                "year": year,
                "reference_id": ref,
            }
        )
    return pd.DataFrame(rows)


SPLIT_PARAMS = {
    "splits": ["process_shift", "year_split", "paper_group_cv"],
    "process_shift": {"train_route": "CAST", "test_routes": ["WROUGHT", "ANNEAL", "POWDER"]},
    "year_split": {"last_train_year": 2017},
    "paper_group_cv": {"n_splits": 3},
}


def members(splits: pd.DataFrame, split: str, fold_name: str, role: str) -> set[str]:
    rows = splits[(splits["split"] == split) & (splits["fold_name"] == fold_name) & (splits["role"] == role)]
    return set(rows["sample_id"])


def test_splits_keep_compositions_apart():
    table = split_table()
    splits = alloys.make_splits(table, SPLIT_PARAMS)
    assert list(splits.columns) == ["split", "fold", "fold_name", "role", "sample_id"]
    assert members(splits, "process_shift", "wrought", "test") == {"s3"}
    assert members(splits, "process_shift", "wrought", "train") == {"s1", "s2"}  # s0 (A) left out
    assert members(splits, "process_shift", "anneal", "train") == {"s0", "s1", "s2"}
    assert "s6" not in set(splits.loc[splits["split"] == "process_shift", "sample_id"])  # UNKNOWN: neither
    assert members(splits, "year_split", "after_2017", "test") == {"s3", "s4", "s5"}
    assert members(splits, "year_split", "after_2017", "train") == {"s1", "s2", "s6"}
    composition = table.set_index("sample_id")["composition"]
    for _, rows in splits.groupby(["split", "fold"]):
        train = set(composition[rows.loc[rows["role"] == "train", "sample_id"]])
        test = set(composition[rows.loc[rows["role"] == "test", "sample_id"]])
        assert not train & test
    paper = splits[splits["split"] == "paper_group_cv"]
    reference = table.set_index("sample_id")["reference_id"]
    for _, rows in paper.groupby("fold"):
        train = set(reference[rows.loc[rows["role"] == "train", "sample_id"]])
        test = set(reference[rows.loc[rows["role"] == "test", "sample_id"]])
        assert not train & test


@pytest.mark.parametrize("name", ["catboost_monotonic", "phase_rule_mlp"])
def test_physics_models_respect_the_declared_sign(name):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"hea_size_mismatch": rng.uniform(0, 0.08, 300), "other": rng.normal(size=300)})
    # noisy data whose trend in delta is positive, with a dip the constraint must not follow
    y = 3000 * X["hea_size_mismatch"] - 80 * np.sin(X["hea_size_mismatch"] * 150) + 5 * X["other"]
    params = {"monotone": {"hea_size_mismatch": 1, "absent_feature": -1}}
    params.update(
        {"catboost_params": {"iterations": 100, "random_seed": 0}}
        if name == "catboost_monotonic"
        else {"epochs": 60, "penalty_weight": 5.0, "hidden_layers": (32,)}
    )
    model = alloys.PHYSICS_MODELS[name](params).fit(X, y)
    grid = pd.DataFrame({"hea_size_mismatch": np.linspace(0, 0.08, 50), "other": 0.0})
    slopes = np.diff(model.predict(grid))
    tolerance = 0.0 if name == "catboost_monotonic" else 2.0  # the penalty is soft
    assert (slopes >= -tolerance).all()


def test_registry_finds_the_module_and_checks_the_contract():
    assert case_study_module("alloys") is alloys
    with pytest.raises(KeyError, match="unknown case study"):
        case_study_module("ceramics")
