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


def test_a_shift_calibrated_variant_is_scored_like_the_main_key_with_its_own_base_model(robust_params):
    from matshift.models.design import transfer_design_matrix
    from matshift.robust.fold_scoring import robust_fold_predictions, shift_calibrated_model

    shift = robust_params["shift_calibrated"]
    variant = {
        "estimator": "catboost_uncertainty",
        "estimator_params": {"catboost_params": {"iterations": 40}},
    }
    params = {
        **robust_params,
        "models": [],
        "reported": {},
        "cv_plus": None,
        "shift_calibrated": {**shift, "report_candidates": False, "variants": {"other_shift": variant}},
    }
    data = pretrained_transfer_domains()
    X, y, composition = transfer_design_matrix(data["target"], data["features"], data["source_table"])
    group = data["target"].set_index("sample_id")["group"]
    predictions = robust_fold_predictions(X, y, group, composition, data["splits"], (0.0, 20.0), params)
    assert set(predictions["model"]) == {shift["key"], "other_shift"}
    main, other = (
        predictions[predictions["model"] == key].reset_index(drop=True)
        for key in (shift["key"], "other_shift")
    )
    pd.testing.assert_series_equal(main["sample_id"], other["sample_id"])
    assert not np.allclose(main["prediction"], other["prediction"])  # another base model
    assert other["interval_method"].isin(shift["interval_methods"]).all()
    # the variant inherits the inner folds of the split and every other setting but the base model
    model = shift_calibrated_model(params, (0.0, 20.0), "target_extrapolation", key="other_shift")
    assert model.grouping == "target_upward" and model.n_inner_folds == shift["n_inner_folds"]
    assert type(model.estimator).__name__ == "CatBoostUncertaintyRegressor"
    with pytest.raises(KeyError, match="no shift-calibrated model 'missing'"):
        shift_calibrated_model(params, (0.0, 20.0), "target_extrapolation", key="missing")


def test_variants_on_physics_models_a_dataset_does_not_declare_are_skipped_and_unknown_ones_named():
    from matshift.robust.fold_scoring import (
        shift_calibrated_model,
        shift_calibrated_specs,
        with_declared_shift_variants,
    )

    params = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_case_studies.yml").read_text())
    robust = params["case_studies"]["robust"]
    assert "vtf_shift" in shift_calibrated_specs(robust)
    electrolytes = with_declared_shift_variants(robust, {"physics_models": ["vtf", "arrhenius"]})
    alloys = with_declared_shift_variants(robust, {"physics_models": ["catboost_monotonic"]})
    assert set(shift_calibrated_specs(electrolytes)) == {"catboost_shift", "vtf_shift"}
    assert set(shift_calibrated_specs(alloys)) == {"catboost_shift"}
    model = shift_calibrated_model(electrolytes, (-5.0, 3.0), "temperature_extrapolation", key="vtf_shift")
    assert type(model.estimator).__name__ == "TemperatureLawRegressor" and model.estimator.law == "vtf"
    unknown = {
        **robust,
        "shift_calibrated": {**robust["shift_calibrated"], "variants": {"x_shift": {"estimator": "nope"}}},
    }
    with pytest.raises(KeyError, match="x_shift: estimator nope is neither"):
        shift_calibrated_model(unknown, (0.0, 1.0), key="x_shift")
    # a misspelt base model is not dropped silently: building it names what is registered
    kept = with_declared_shift_variants(unknown, {"physics_models": ["vtf"]})
    with pytest.raises(KeyError, match="x_shift: estimator nope is neither"):
        shift_calibrated_model(kept, (0.0, 1.0), key="x_shift")
