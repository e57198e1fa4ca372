import numpy as np
import pandas as pd
import pytest

from matshift.transfer.source import (
    cross_fitted_predictions,
    lookup_features,
    polymorph_statistics,
    source_fold_assignment,
)


def test_polymorph_statistics_median_label_and_spread():
    source = pd.DataFrame({"composition": ["O2Ti", "O2Ti", "O2Ti", "NaCl"], "target": [3.0, 2.0, 10.0, 5.0]})
    stats = polymorph_statistics(source)
    assert stats.loc["O2Ti", "label"] == 3.0 and stats.loc["O2Ti", "source_gap_min"] == 2.0
    assert stats.loc["O2Ti", "source_gap_max"] == 10.0 and stats.loc["O2Ti", "source_polymorph_count"] == 3
    assert stats.loc["NaCl", "source_gap_median"] == 5.0


def test_source_folds_align_with_target_test_folds():
    target = pd.DataFrame({"sample_id": ["a", "b", "c"], "composition": ["NaCl", "ZnO", "NaCl"]})
    splits = pd.DataFrame(
        {
            "split": "matbench_cv",
            "fold": [0, 1, 2, 0, 0, 1],
            "fold_name": "f",
            "role": ["test", "test", "test", "train", "train", "train"],
            "sample_id": ["a", "b", "c", "b", "c", "a"],
        }
    )
    folds = source_fold_assignment(pd.Index(["NaCl", "ZnO", "GaAs"]), target, splits, n_folds=5)
    assert folds["NaCl"] == 0  # tested in folds 0 and 2: the first
    assert folds["ZnO"] == 1
    assert 0 <= folds["GaAs"] < 5
    again = source_fold_assignment(pd.Index(["GaAs"]), target, splits, n_folds=5)
    assert again["GaAs"] == folds["GaAs"]  # stable hash, not a random draw


def test_lookup_features_missing_where_the_source_lacks_the_composition():
    stats = polymorph_statistics(pd.DataFrame({"composition": ["NaCl"], "target": [5.0]}))
    looked_up = lookup_features(pd.Index(["NaCl", "ZnO"]), stats)
    assert looked_up.loc["NaCl", "in_source"] and not looked_up.loc["ZnO", "in_source"]
    assert (
        np.isnan(looked_up.loc["ZnO", "source_gap_median"])
        and looked_up.loc["ZnO", "source_polymorph_count"] == 0
    )


def test_cross_fitted_predictions_use_the_model_that_never_saw_the_composition():
    features = pd.DataFrame({"x": [1.0, 2.0, 3.0]}, index=["A", "B", "C"])
    models = {0: 10.0, 1: 20.0}  # a "model" here is the constant it predicts

    def predict(model, X):
        return pd.DataFrame({"p": np.full(len(X), model)}, index=X.index)

    folds = pd.Series({"A": 0, "B": 1})  # C is not in the source
    result = cross_fitted_predictions(pd.Index(["A", "B", "C"]), features, models, folds, predict)
    assert result["p"].tolist() == pytest.approx([10.0, 20.0, 15.0])
