import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold

from matshift.audit.leakage import LeakageError, audit_leakage
from matshift.pipelines.split.nodes import (
    element_holdout_splits,
    leave_cluster_out_splits,
    make_splits,
    matbench_cv_splits,
    target_extrapolation_splits,
)

SPLIT_PARAMS = {
    "matbench_cv": {"n_splits": 5, "shuffle": True, "random_state": 18012019},
    "leave_cluster_out": {"n_clusters": 3, "random_state": 0, "n_init": 3},
    "element_holdout": {"families": {"halogen": ["F", "Cl", "Br", "I"], "chalcogen": ["S", "Se", "Te"]}},
    "target_extrapolation": {"quantile": 0.9},
}


@pytest.fixture
def table() -> pd.DataFrame:
    compositions = ["NaCl", "KBr", "ZnO", "ZnS", "CdTe", "GaAs", "Si", "NiAl", "CuCl", "MgO"] * 3
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "sample_id": [f"s{i}" for i in range(len(compositions))],
            "source_row": np.arange(2, len(compositions) + 2),
            "composition": compositions,
            "target": rng.uniform(0, 8, len(compositions)),
            "group": "g",
        }
    )


@pytest.fixture
def features(table) -> pd.DataFrame:
    unique = pd.unique(table["composition"])
    rng = np.random.default_rng(1)
    return pd.DataFrame(rng.normal(size=(len(unique), 4)), index=unique, columns=list("abcd"))


def test_matbench_cv_reproduces_kfold_in_file_order(table):
    splits = matbench_cv_splits(table, SPLIT_PARAMS["matbench_cv"], n_source_rows=len(table))
    kfold = KFold(5, shuffle=True, random_state=18012019)
    for fold, (_, test_idx) in enumerate(kfold.split(np.arange(len(table)))):
        test = splits[(splits["fold"] == fold) & (splits["role"] == "test")]["sample_id"]
        assert sorted(test) == sorted(table["sample_id"].iloc[test_idx])
    tested = splits[splits["role"] == "test"]["sample_id"]
    assert tested.is_unique and len(tested) == len(table)


def test_matbench_cv_keeps_fold_slots_when_rows_are_quarantined(table):
    full = matbench_cv_splits(table, SPLIT_PARAMS["matbench_cv"], n_source_rows=len(table))
    partial = matbench_cv_splits(table.iloc[3:], SPLIT_PARAMS["matbench_cv"], n_source_rows=len(table))
    merged = partial.merge(full, on=["sample_id", "role"], suffixes=("_partial", "_full"))
    test = merged[merged["role"] == "test"]
    assert (test["fold_partial"] == test["fold_full"]).all()


@pytest.mark.parametrize("builder", ["cluster", "element", "target"])
def test_ood_splits_never_share_a_composition(table, features, builder):
    splits = {
        "cluster": lambda: leave_cluster_out_splits(table, features, SPLIT_PARAMS["leave_cluster_out"]),
        "element": lambda: element_holdout_splits(table, SPLIT_PARAMS["element_holdout"]),
        "target": lambda: target_extrapolation_splits(table, SPLIT_PARAMS["target_extrapolation"]),
    }[builder]()
    composition = table.set_index("sample_id")["composition"]
    for _, rows in splits.groupby("fold"):
        train = set(composition[rows.loc[rows["role"] == "train", "sample_id"]])
        test = set(composition[rows.loc[rows["role"] == "test", "sample_id"]])
        assert test and train and not train & test


def test_element_holdout_tests_on_the_family(table):
    splits = element_holdout_splits(table, SPLIT_PARAMS["element_holdout"])
    composition = table.set_index("sample_id")["composition"]
    halogen = splits[(splits["fold_name"] == "halogen") & (splits["role"] == "test")]
    assert set(composition[halogen["sample_id"]]) == {"NaCl", "KBr", "CuCl"}


def test_target_extrapolation_holds_out_the_top_compositions(table):
    splits = target_extrapolation_splits(table, {"quantile": 0.8})
    test_ids = splits.loc[splits["role"] == "test", "sample_id"]
    medians = table.groupby("composition")["target"].median()
    test_compositions = set(table.set_index("sample_id").loc[test_ids, "composition"])
    assert test_compositions == set(medians[medians >= medians.quantile(0.8)].index)


def test_make_splits_runs_declared_splits_and_rejects_unknown(table, features):
    declaration = {"splits": list(SPLIT_PARAMS)}
    splits = make_splits(table, features, {"rows_in": len(table)}, declaration, SPLIT_PARAMS)
    assert set(splits["split"]) == set(SPLIT_PARAMS)
    with pytest.raises(ValueError, match="random_split"):
        make_splits(table, features, {"rows_in": len(table)}, {"splits": ["random_split"]}, SPLIT_PARAMS)


def test_audit_passes_clean_splits_and_reports_matbench_duplicates(table, features):
    splits = make_splits(
        table, features, {"rows_in": len(table)}, {"splits": list(SPLIT_PARAMS)}, SPLIT_PARAMS
    )
    report = audit_leakage(table, splits, "demo")
    # Each composition appears 3 times, so random CV folds necessarily share compositions.
    assert report["matbench_cv_cross_fold_duplicates"] > 0
    assert all(
        fold["test_rows_with_composition_in_train"] == 0 for fold in report["leave_cluster_out"].values()
    )


def test_audit_fails_an_ood_split_that_leaks(table):
    leaky = pd.DataFrame(
        {
            "split": "leave_cluster_out",
            "fold": 0,
            "fold_name": "cluster_0",
            "role": ["train", "test"],
            "sample_id": ["s0", "s10"],  # both NaCl
        }
    )
    with pytest.raises(LeakageError, match=r"demo: .*leave_cluster_out fold 0.*NaCl"):
        audit_leakage(table, leaky, "demo")


def test_failed_and_censored_rows_stay_out_of_the_property_folds(table, features):
    table = table.assign(outcome="success", target_censored=False)
    table.loc[0, ["outcome", "target"]] = ["failed", np.nan]
    table.loc[1, "target_censored"] = True
    declaration = {"splits": ["leave_cluster_out"]}
    splits = make_splits(table, features, {"rows_in": len(table)}, declaration, SPLIT_PARAMS)
    assert not {"s0", "s1"} & set(splits["sample_id"])
    assert set(splits["sample_id"]) == set(table["sample_id"]) - {"s0", "s1"}
