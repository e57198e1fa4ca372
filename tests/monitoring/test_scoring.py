import pickle

import numpy as np
import pandas as pd
import pytest
import yaml

from matshift.models.design import transfer_design_matrix
from matshift.monitoring.champion_model import ChampionModel
from matshift.monitoring.scoring import PREDICTION_COLUMNS, score_batch, source_features
from matshift.robust.fold_scoring import calibration_split, fold_part, predict_with_uncertainty
from tests.conftest import PROJECT_ROOT
from tests.pipelines.transfer_data import pretrained_transfer_domains

CLIP = (0.0, 20.0)


def robust_params() -> dict:
    params = yaml.safe_load((PROJECT_ROOT / "conf/smoke/parameters_robust.yml").read_text())["robust"]
    return {**params, "min_group_size": 3}


def fitted_champion(data: dict, key: str, params: dict) -> ChampionModel:
    X, y, composition = transfer_design_matrix(data["target"], data["features"], data["source_table"])
    groups = data["target"].set_index("sample_id")["group"]
    return ChampionModel(key, params, CLIP).fit(X, y, groups, composition)


def reference_shift_model(X, y, groups, composition, params, split, shift_values=None, key=None):
    """The robust stage's shift-calibrated model ``key`` fitted on the fit rows a champion draws (and
    those rows)."""
    from matshift.robust.fold_scoring import shift_calibrated_model
    from matshift.transfer.strategies import descriptor_columns

    fit_ids, _ = calibration_split(
        X.index.to_numpy(), composition, params["calibration_fraction"], params["random_state"]
    )
    model = shift_calibrated_model(params, CLIP, split, descriptor_columns(X), key).fit(
        X.loc[fit_ids],
        y.loc[fit_ids].to_numpy(),
        compositions=composition.loc[fit_ids].to_numpy(),
        groups=groups.loc[fit_ids].to_numpy(),
        shift_values=None if shift_values is None else shift_values.loc[fit_ids].to_numpy(),
    )
    return model, fit_ids


def new_batch() -> pd.DataFrame:
    compositions = [f"X{i}" for i in range(15)]  # known to the source, never measured
    return pd.DataFrame(
        {"sample_id": [f"b{i}" for i in range(15)], "composition": compositions, "group": ["a", "b", "c"] * 5}
    )


def test_a_batch_gets_predictions_intervals_and_flags_with_reasons():
    data = pretrained_transfer_domains()
    champion = fitted_champion(data, "catboost_uncertainty", robust_params())
    scored = score_batch(
        new_batch(), data["features"], data["polymorphs"], data["models"], data["folds"], champion
    )
    assert list(scored.columns[: len(PREDICTION_COLUMNS)]) == PREDICTION_COLUMNS
    assert len(scored) == 15 and "target" not in scored
    assert (scored["lower"] <= scored["prediction"]).all() and (scored["prediction"] <= scored["upper"]).all()
    assert (scored["reason"].str.len() > 0).eq(scored["uncertain"]).all()
    assert np.isfinite(scored["prediction"]).all()


def test_source_columns_made_once_for_several_batches_score_each_batch_as_made_for_it_alone():
    data = pretrained_transfer_domains()
    champion = fitted_champion(data, "catboost_uncertainty", robust_params())
    sources = (data["polymorphs"], data["models"], data["folds"])
    first, second = new_batch().iloc[:6], new_batch().iloc[6:]
    both = source_features(pd.concat([first, second]), data["features"], *sources)
    for part in (first, second):
        alone = score_batch(part, data["features"], *sources, champion)
        pd.testing.assert_frame_equal(
            score_batch(part, data["features"], *sources, champion, both), alone, check_exact=True
        )


def test_calibration_distances_kept_between_batches_change_no_score_and_are_not_pickled():
    data = pretrained_transfer_domains()
    champion = fitted_champion(data, "catboost_uncertainty", robust_params())
    sources = (data["polymorphs"], data["models"], data["folds"])
    score_batch(new_batch().iloc[:6], data["features"], *sources, champion)  # keeps them
    fresh = pickle.loads(pickle.dumps(champion))
    assert "_calibration_distance_cache" in vars(champion)
    assert "_calibration_distance_cache" not in vars(fresh)
    later = new_batch().iloc[6:]
    pd.testing.assert_frame_equal(
        score_batch(later, data["features"], *sources, champion),
        score_batch(later, data["features"], *sources, fresh),
        check_exact=True,
    )


@pytest.mark.parametrize("key", ["catboost_uncertainty_mondrian", "importance_weighting"])
def test_the_saved_champion_scores_exactly_as_the_robust_stage_scores_a_fold(key):
    """Fitted once and pickled (non-transductive) or fitted with the batch (transductive): both give the
    robust stage's per-fold result, so the champion's metrics describe what monitoring does."""
    data = pretrained_transfer_domains()
    params = robust_params()
    champion = pickle.loads(pickle.dumps(fitted_champion(data, key, params)))
    X, y, composition = transfer_design_matrix(data["target"], data["features"], data["source_table"])
    groups = data["target"].set_index("sample_id")["group"]
    batch = X.iloc[:12].rename(index=lambda i: f"new_{i}")
    batch_groups = groups.iloc[:12].to_numpy()

    fit_ids, cal_ids = calibration_split(
        X.index.to_numpy(), composition, params["calibration_fraction"], params["random_state"]
    )
    expected, _ = predict_with_uncertainty(
        fold_part(X, y, groups, fit_ids),
        fold_part(X, y, groups, cal_ids),
        {"X": batch, "y": np.full(12, np.nan), "group": batch_groups},
        params,
        CLIP,
        models=[params["reported"][key]["model"]],
    )
    got = champion.predict_with_uncertainty(batch, batch_groups)
    for column in ("prediction", "lower", "upper", "ood_score", "uncertain", "reason"):
        np.testing.assert_array_equal(got[column], expected[key][column], err_msg=column)
    assert champion.transductive_ == (key == "importance_weighting")


@pytest.mark.parametrize(
    "key", ["catboost_shift", "catboost_shift__cqr", "other_shift", "other_shift__split"]
)
def test_the_shift_calibrated_champion_deploys_the_flag_and_intervals_the_robust_stage_evaluated(key):
    """The champion's ``catboost_shift`` (or a variant of it on another base model) is the robust stage's
    shift-calibrated model (inner folds grouped like the rule's split) fitted on the fit rows: its flag and
    intervals are the ones that were measured."""
    data = pretrained_transfer_domains()
    params = robust_params()
    other = {"estimator": "catboost_uncertainty", "estimator_params": {"catboost_params": {"iterations": 40}}}
    params["shift_calibrated"] = {**params["shift_calibrated"], "variants": {"other_shift": other}}
    X, y, composition = transfer_design_matrix(data["target"], data["features"], data["source_table"])
    groups = data["target"].set_index("sample_id")["group"]
    champion = ChampionModel(key, params, CLIP, "leave_cluster_out").fit(X, y, groups, composition)
    champion = pickle.loads(pickle.dumps(champion))
    batch = X.iloc[:12].rename(index=lambda i: f"new_{i}")
    batch_groups = groups.iloc[:12].to_numpy()

    model_key, _, method = key.partition("__")
    reference, _ = reference_shift_model(
        X, y, groups, composition, params, "leave_cluster_out", key=model_key
    )
    expected = reference.predict_with_uncertainty(batch, batch_groups, methods=(method,) if method else None)
    if method in expected.get("intervals", {}):
        expected["lower"], expected["upper"] = expected["intervals"][method]
    got = champion.predict_with_uncertainty(batch, batch_groups)
    for column in ("prediction", "lower", "upper", "ood_score", "uncertain", "reason"):
        np.testing.assert_array_equal(got[column], expected[column], err_msg=column)
    assert not champion.transductive_
    assert (got["lower"] <= got["prediction"]).all() and (got["prediction"] <= got["upper"]).all()


def test_a_champion_chosen_on_a_paper_split_holds_out_whole_papers_in_its_inner_folds():
    """With ``shift_columns`` naming the split's column, the champion re-splits its fit rows by it as the
    robust stage did; without the column it cannot calibrate that way and says why."""
    data = pretrained_transfer_domains()
    spec = {**robust_params()["shift_calibrated"], "shift_columns": {"paper_split": "paper"}}
    spec["grouping"] = {**spec["grouping"], "paper_split": "column"}
    params = {**robust_params(), "shift_calibrated": spec}
    X, y, composition = transfer_design_matrix(data["target"], data["features"], data["source_table"])
    groups = data["target"].set_index("sample_id")["group"]
    papers = pd.Series(composition.astype("category").cat.codes.to_numpy() % 6, index=composition.index).map(
        lambda code: f"doi/{code}"
    )
    champion = ChampionModel("catboost_shift", params, CLIP, "paper_split").fit(
        X, y, groups, composition, shift_values=papers
    )
    reference, fit_ids = reference_shift_model(X, y, groups, composition, params, "paper_split", papers)
    inner = pd.Series(champion.model_.inner_folds_, index=fit_ids)
    assert inner.groupby(papers.loc[fit_ids]).nunique().eq(1).all()  # no paper in two inner folds
    batch, batch_groups = X.iloc[:12], groups.iloc[:12].to_numpy()
    got = champion.predict_with_uncertainty(batch, batch_groups)
    expected = reference.predict_with_uncertainty(batch, batch_groups)
    for column in ("prediction", "lower", "upper", "ood_score", "uncertain"):
        np.testing.assert_array_equal(got[column], expected[column], err_msg=column)
    with pytest.raises(ValueError, match="shift_values"):
        ChampionModel("catboost_shift", params, CLIP, "paper_split").fit(X, y, groups, composition)


def test_an_unknown_champion_key_names_the_known_ones():
    data = pretrained_transfer_domains()
    with pytest.raises(KeyError, match="catboost_shift"):
        fitted_champion(data, "no_such_model", robust_params())
