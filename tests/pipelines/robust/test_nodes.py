import numpy as np
import pandas as pd
import pytest
import yaml

from matshift.pipelines.robust.nodes import robust_train_and_predict
from tests.conftest import PROJECT_ROOT
from tests.pipelines.transfer_data import pretrained_transfer_domains


@pytest.fixture(scope="module")
def robust_params():
    """The project's robust configuration with tiny models."""
    params = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_robust.yml").read_text())["robust"]
    tiny_mlp = {"hidden_layers": [8], "epochs": 3, "batch_size": 16, "patience": None}
    for name in ("erm_mlp", "dann", "group_dro"):
        params["model_params"][name] = {**params["model_params"][name], **tiny_mlp}
    params["model_params"]["deep_ensemble"] = {"n_members": 2, "mlp_params": tiny_mlp}
    tiny_catboost = {"iterations": 20, "depth": 2, "thread_count": 1}
    params["model_params"]["importance_weighting"]["base_params"]["catboost_params"] = tiny_catboost
    params["model_params"]["catboost_uncertainty"]["catboost_params"] = tiny_catboost
    params["model_params"]["coral"]["catboost_params"] = tiny_catboost
    params["cv_plus"]["base_params"]["catboost_params"] = tiny_catboost
    params["cv_plus"]["n_folds"] = 3
    params["shift_calibrated"]["estimator_params"]["catboost_params"] = tiny_catboost
    params["shift_calibrated"]["n_inner_folds"] = 3
    params["min_group_size"] = 3
    return params


def test_every_reported_model_predicts_every_test_row_with_an_interval_and_a_flag(robust_params):
    data = pretrained_transfer_domains()
    table = data["source_table"]
    predictions = robust_train_and_predict(
        data["target"],
        data["features"],
        table,
        data["splits"],
        {"target": {"min": 0.0, "max": 20.0}},
        robust_params,
    )
    shift = robust_params["shift_calibrated"]
    expected = {
        *robust_params["reported"],
        robust_params["cv_plus"]["key"],
        shift["key"],
        *(f"{shift['key']}__{method}" for method in shift["interval_methods"]),
    }
    assert set(predictions["model"]) == expected
    for _, rows in predictions.groupby("model"):
        assert len(rows) == len(data["target"]) and rows["sample_id"].is_unique
    assert {"prediction", "lower", "upper", "uncertain", "ood_score"} <= set(predictions)
    assert (predictions["lower"] <= predictions["prediction"] + 1e-9).all()
    assert (predictions["upper"] >= predictions["prediction"] - 1e-9).all()
    assert predictions["lower"].between(0.0, 20.0).all() and predictions["upper"].between(0.0, 20.0).all()
    assert predictions["uncertain"].dtype == bool and predictions["ood_score"].between(0, 1).all()
    assert np.isfinite(predictions["prediction"]).all()
    # every flagged prediction says why, the others say nothing
    assert (predictions["reason"].str.len() > 0).eq(predictions["uncertain"]).all()


def test_shift_calibrated_key_is_chosen_on_inner_folds_only(robust_params):
    from matshift.models.design import transfer_design_matrix
    from matshift.robust.fold_scoring import robust_fold_predictions, shift_calibrated_model

    params = {**robust_params, "models": [], "reported": {}, "cv_plus": None}
    data = pretrained_transfer_domains()
    X, y, composition = transfer_design_matrix(data["target"], data["features"], data["source_table"])
    group = data["target"].set_index("sample_id")["group"]
    first_fold = data["splits"][["split", "fold"]].iloc[0]
    splits = data["splits"][
        (data["splits"]["split"] == first_fold["split"]) & (data["splits"]["fold"] == first_fold["fold"])
    ]
    first = robust_fold_predictions(X, y, group, composition, splits, (0.0, 20.0), params)
    # scramble the fold's test labels: predictions, intervals, the method and the flag must not move
    test_ids = splits.loc[splits["role"] == "test", "sample_id"].unique()
    scrambled = y.copy()
    scrambled.loc[test_ids] = np.random.default_rng(0).permutation(scrambled.loc[test_ids].to_numpy()) + 3.0
    second = robust_fold_predictions(X, scrambled, group, composition, splits, (0.0, 20.0), params)
    columns = ["prediction", "lower", "upper", "interval_method", "uncertain", "ood_score"]
    pd.testing.assert_frame_equal(first[columns], second[columns])
    key = params["shift_calibrated"]["key"]
    chosen = first[first["model"] == key]
    assert chosen["interval_method"].isin(params["shift_calibrated"]["interval_methods"]).all()
    assert chosen.groupby(["split", "fold"])["interval_method"].nunique().eq(1).all()
    assert shift_calibrated_model(params, (0.0, 20.0), "target_extrapolation").grouping == "target_upward"
    assert shift_calibrated_model(params, (0.0, 20.0), "leave_cluster_out").grouping == "cluster"
