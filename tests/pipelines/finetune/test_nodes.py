import numpy as np
import pytest

from matshift.pipelines.finetune.nodes import (
    SOURCE_MINUS_TEST_SUFFIX,
    finetune_and_predict,
    hide_source_entries,
    transfer_design_matrix,
)
from matshift.transfer.strategies import USES_SOURCE_ENTRIES
from tests.pipelines.transfer_data import N_FOLDS, SMALL_TRANSFER_PARAMS, pretrained_transfer_domains

DECLARATION = {"target": {"min": 0.0, "max": 20.0}}


@pytest.fixture(scope="module")
def inputs():
    data = pretrained_transfer_domains()
    return data, data["source_table"], data["models"]


def test_hiding_source_entries_touches_only_the_given_rows_lookup_columns(inputs):
    data, table, _ = inputs
    X, _, _ = transfer_design_matrix(data["target"], data["features"], table)
    hidden = hide_source_entries(X, X.index[:3])
    assert hidden.loc[X.index[:3], "source_gap_median"].isna().all()
    assert (hidden.loc[X.index[:3], "source_polymorph_count"] == 0).all()
    assert hidden.loc[X.index[3:]].equals(X.loc[X.index[3:]])
    assert hidden["source_model_catboost"].equals(X["source_model_catboost"])  # already cross-fitted


def test_every_strategy_and_source_variant_predicts_every_test_row(inputs):
    data, table, models = inputs
    predictions = finetune_and_predict(
        data["target"], data["features"], table, data["splits"], models, DECLARATION, SMALL_TRANSFER_PARAMS
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
