import numpy as np
import pandas as pd
import pytest

from matshift.models.design import transfer_design_matrix
from matshift.pipelines.finetune.nodes import (
    SOURCE_MINUS_TEST_SUFFIX,
    finetune_and_predict,
    mp_minus_test_design_matrix,
)
from matshift.transfer.source import LOOKUP_COLUMNS
from matshift.transfer.strategies import USES_SOURCE_ENTRIES
from matshift.uncertainty.fold_conformal import CROSS_FOLD
from tests.pipelines.train.test_nodes import CONTRACT, ROBUST_PARAMS
from tests.pipelines.transfer_data import (
    N_FOLDS,
    SMALL_TRANSFER_PARAMS,
    pretrained_transfer_domains,
    transfer_domains,
)

DECLARATION = {"target": {"min": 0.0, "max": 20.0}}


@pytest.fixture(scope="module")
def inputs():
    data = pretrained_transfer_domains()
    return data, data["source_table"], data["models"]


def _minus_test_design(data: dict, fold: int):
    rows = data["splits"].query("split == 'matbench_cv' and role == 'test' and fold == @fold")
    test_ids = rows["sample_id"]
    design = mp_minus_test_design_matrix(
        data["target"],
        data["features"],
        data["polymorphs"],
        data["models"],
        data["folds"],
        fold,
        test_ids.to_numpy(),
    )
    return design, test_ids.to_numpy()


def test_mp_minus_test_hides_the_test_compositions_lookups_and_keeps_the_others(inputs):
    data, table, _ = inputs
    X, _, _ = transfer_design_matrix(data["target"], data["features"], table)
    design, test_ids = _minus_test_design(data, fold=1)
    assert set(design.columns) == set(X.columns)
    test_compositions = data["target"].set_index("sample_id").loc[test_ids, "composition"]
    assert test_compositions.isin(data["polymorphs"].index).any()
    assert design.loc[test_ids, "source_gap_median"].isna().all()
    assert (design.loc[test_ids, "source_polymorph_count"] == 0).all()
    train_ids = X.index.difference(test_ids)
    for column in LOOKUP_COLUMNS:
        assert design.loc[train_ids, column].equals(X.loc[train_ids, column])


def test_mp_minus_test_design_does_not_depend_on_the_test_compositions_source_gaps(inputs):
    """Moving the DFT gaps of fold 1's test compositions must not change any cell of fold 1's
    ``__mp_minus_test`` design matrix, training rows included (the fold-model spread used to leak them)."""
    data, _, _ = inputs
    fold = 1
    _, test_ids = _minus_test_design(data, fold)
    test_compositions = set(data["target"].set_index("sample_id").loc[test_ids, "composition"])
    perturbed = transfer_domains()
    moved = perturbed["source"]["composition"].isin(test_compositions)
    assert moved.any()
    perturbed["source"].loc[moved, "target"] += 3.0 + np.arange(moved.sum()) % 2
    repretrained = pretrained_transfer_domains(perturbed)
    before, _ = _minus_test_design(data, fold)
    after, _ = _minus_test_design(repretrained, fold)
    pd.testing.assert_frame_equal(before, after)
    # the all-source variant does see them: the test is sensitive to the perturbation
    assert not repretrained["source_table"].equals(data["source_table"])


def test_every_strategy_and_source_variant_predicts_every_test_row(inputs):
    data, table, models = inputs
    predictions = finetune_and_predict(
        data["target"],
        data["features"],
        table,
        data["splits"],
        data["polymorphs"],
        models,
        data["folds"],
        DECLARATION,
        SMALL_TRANSFER_PARAMS,
        {**ROBUST_PARAMS, "min_group_size": 3},
    )
    strategies = SMALL_TRANSFER_PARAMS["strategies"]
    expected = set(strategies) | {
        s + SOURCE_MINUS_TEST_SUFFIX for s in strategies if s in USES_SOURCE_ENTRIES
    }
    assert set(predictions["model"]) == expected
    n_target = len(data["target"])
    for _, rows in predictions.groupby("model"):
        assert len(rows) == n_target and rows["sample_id"].is_unique and rows["fold"].nunique() == N_FOLDS
    assert predictions["prediction"].between(0.0, 20.0).all()
    lookup = predictions[predictions["model"] == "lookup"]
    assert np.abs(lookup["prediction"] - lookup["target"]).mean() < 1.0
    # the robust stage's contract, calibrated on the other folds (matbench_cv has several)
    assert predictions[CONTRACT].notna().all().all()
    assert (predictions["interval_method"] == CROSS_FOLD).all()
    assert predictions["lower"].between(0.0, 20.0).all() and predictions["upper"].between(0.0, 20.0).all()
    assert (
        (predictions["lower"] <= predictions["prediction"])
        & (predictions["prediction"] <= predictions["upper"])
    ).all()
