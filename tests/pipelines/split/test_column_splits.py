"""Splits on a declared column (leave_group_out, predefined, time), empty folds, leakage audit."""

import logging

import numpy as np
import pandas as pd
import pytest

from matshift.audit.leakage import audit_leakage
from matshift.declarations import DeclarationError
from matshift.pipelines.split.nodes import drop_empty_folds, make_splits

PARAMS = {"time": {"test_fraction": 0.25}}


@pytest.fixture
def table() -> pd.DataFrame:
    # CuCl is measured by labs A and B: it must never be on both sides of a leave-lab-out fold
    compositions = ["NaCl", "KBr", "ZnO", "CuCl", "CuCl", "GaAs", "Si", "MgO"]
    return pd.DataFrame(
        {
            "sample_id": [f"s{i}" for i in range(8)],
            "source_row": np.arange(2, 10),
            "composition": compositions,
            "target": np.arange(8, dtype=float),
            "group": "g",
            "lab": pd.array(["A", "A", "B", "A", "B", "C", "C", pd.NA], dtype="string"),
            "year": pd.array(
                ["2010", "2012", "2014", "2016", "2018", "2019", "2020", "2021"], dtype="string"
            ),
            "fold_label": pd.array(["train"] * 6 + ["test"] * 2, dtype="string"),
        }
    )


@pytest.fixture
def features(table) -> pd.DataFrame:
    return pd.DataFrame({"a": 0.0}, index=pd.unique(table["composition"]))


def _sides(splits: pd.DataFrame, fold_name: str) -> tuple[set[str], set[str]]:
    rows = splits[splits["fold_name"] == fold_name]
    return set(rows.loc[rows["role"] == "train", "sample_id"]), set(
        rows.loc[rows["role"] == "test", "sample_id"]
    )


def test_leave_group_out_on_a_declared_column(table, features):
    splits = make_splits(
        table, features, {"rows_in": 8}, {"splits": [{"leave_group_out": "lab"}]}, PARAMS, "demo"
    )
    assert set(splits["split"]) == {"leave_group_out_lab"}
    train, test = _sides(splits, "A")
    assert test == {"s0", "s1", "s3"}
    # CuCl of lab B (s4) is left out of training; the row without a lab (s7) is on neither side
    assert train == {"s2", "s5", "s6"}
    audit = audit_leakage(table, splits, "demo")
    assert all(
        fold["test_rows_with_composition_in_train"] == 0 for fold in audit["leave_group_out_lab"].values()
    )
    assert "near_duplicate_fraction_compositions" in audit["leave_group_out_lab"]["0"]


def test_predefined_train_test_column(table, features):
    declaration = {"splits": [{"predefined": "fold_label"}]}
    splits = make_splits(table, features, {"rows_in": 8}, declaration, PARAMS, "demo")
    train, test = _sides(splits, "predefined")
    assert test == {"s6", "s7"} and train == {f"s{i}" for i in range(6)}


def test_predefined_fold_labels_make_one_fold_each(table, features):
    declaration = {"splits": [{"predefined": "lab"}]}
    splits = make_splits(table, features, {"rows_in": 8}, declaration, PARAMS, "demo")
    assert sorted(splits["fold_name"].unique()) == ["A", "B", "C"]


def test_time_split_with_a_fixed_cutoff_and_by_quantile(table, features):
    fixed = {"splits": [{"time": {"column": "year", "test_from": 2019}}]}
    splits = make_splits(table, features, {"rows_in": 8}, fixed, PARAMS, "demo")
    train, test = _sides(splits, "from_2019")
    assert test == {"s5", "s6", "s7"} and train == {"s0", "s1", "s2", "s3", "s4"}
    by_quantile = make_splits(table, features, {"rows_in": 8}, {"splits": [{"time": "year"}]}, PARAMS, "demo")
    assert set(by_quantile["split"]) == {"time_year"}
    years = table.set_index("sample_id")["year"].astype(int)
    test_rows = by_quantile.loc[by_quantile["role"] == "test", "sample_id"]
    assert years[test_rows].min() > years.drop(test_rows).max()


def test_unknown_split_column_names_dataset_split_and_column(table, features):
    with pytest.raises(DeclarationError, match=r"demo: split leave_group_out_furnace names column 'furnace'"):
        make_splits(
            table, features, {"rows_in": 8}, {"splits": [{"leave_group_out": "furnace"}]}, PARAMS, "demo"
        )


def test_a_fold_with_no_training_rows_is_skipped_with_a_warning(table, features, caplog):
    # a single-lab table leaves its only fold without training rows
    one_lab = table.assign(lab=pd.array(["A"] * 8, dtype="string"))
    with caplog.at_level(logging.WARNING):
        splits = make_splits(
            one_lab, features, {"rows_in": 8}, {"splits": [{"leave_group_out": "lab"}]}, PARAMS, "demo"
        )
    assert splits.empty
    assert "demo: split leave_group_out_lab fold 0 (A) has no train rows: skipped" in caplog.text


def test_drop_empty_folds_keeps_complete_folds():
    splits = pd.DataFrame(
        {
            "split": "s",
            "fold": [0, 0, 1],
            "fold_name": ["f0", "f0", "f1"],
            "role": ["train", "test", "test"],
            "sample_id": ["a", "b", "c"],
        }
    )
    assert drop_empty_folds(splits, "demo")["fold"].tolist() == [0, 0]
