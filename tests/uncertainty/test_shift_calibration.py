"""Shift-aware calibration on a synthetic shift: a held-out cluster whose offset no model can learn."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import KNeighborsRegressor

from matshift.uncertainty.ensembles import CatBoostQuantileRegressor
from matshift.uncertainty.shift_calibration import ShiftCalibratedRegressor, inner_folds

N_CLUSTERS, PER_CLUSTER = 8, 60


def clustered(seed=0):
    """Far-apart clusters, each with its own target offset: residuals within a cluster are small,
    on a cluster never trained on they are as large as the offsets."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=8, size=(N_CLUSTERS, 3))
    offsets = rng.normal(scale=2.0, size=N_CLUSTERS)
    cluster = np.repeat(np.arange(N_CLUSTERS), PER_CLUSTER)
    X = pd.DataFrame(centers[cluster] + rng.normal(size=(len(cluster), 3)), columns=["a", "b", "c"])
    y = 0.3 * X["a"].to_numpy() + offsets[cluster] + rng.normal(scale=0.3, size=len(cluster))
    return X, y, cluster


def leave_cluster_out_coverage(grouping):
    X, y, cluster = clustered()
    coverages = []
    for held_out in range(N_CLUSTERS):
        train = cluster != held_out
        model = ShiftCalibratedRegressor(
            KNeighborsRegressor(10),
            interval_methods=("split",),
            grouping=grouping,
            n_inner_folds=4,
            min_group_size=10,
        ).fit(X[train], y[train])
        out = model.predict_with_uncertainty(X[~train])
        coverages.append(np.mean((y[~train] >= out["lower"]) & (y[~train] <= out["upper"])))
    return float(np.mean(coverages))


def test_group_held_out_calibration_covers_a_new_cluster_where_random_calibration_does_not():
    assert leave_cluster_out_coverage("cluster") >= 0.85
    assert leave_cluster_out_coverage("composition") < 0.5


def test_inner_folds_keep_a_composition_whole_and_bin_targets_in_order():
    rng = np.random.default_rng(0)
    compositions = np.repeat(np.arange(40), 3)
    target = compositions.astype(float) + rng.normal(scale=0.01, size=len(compositions))
    X = pd.DataFrame({"x": compositions + rng.normal(scale=0.01, size=len(compositions))})
    for grouping in ("cluster", "target_quantile", "composition"):
        folds = inner_folds(X, target, compositions, grouping, 4, 0)
        assert set(folds) == {0, 1, 2, 3}
        assert pd.Series(folds).groupby(compositions).nunique().eq(1).all()
    by_target = inner_folds(X, target, compositions, "target_quantile", 4, 0)
    assert (np.diff(by_target[np.argsort(target)]) >= 0).all()  # bin k holds larger targets than bin k-1
    with pytest.raises(KeyError, match="target_quantile"):
        inner_folds(X, target, compositions, "nope", 4, 0)


def test_column_groupings_hold_out_whole_papers_or_ranges_of_the_split_column():
    rng = np.random.default_rng(1)
    compositions = np.repeat(np.arange(60), 2)
    papers = np.array([f"doi/{c % 12}" for c in compositions])  # 12 papers, 5 compositions each
    papers[1] = "doi/other"  # one composition reported by two papers: it stays whole, with its first
    X = pd.DataFrame({"x": rng.normal(size=len(compositions))})
    target = rng.normal(size=len(compositions))
    folds = inner_folds(X, target, compositions, "column", 4, 0, shift_values=papers)
    assert set(folds) == {0, 1, 2, 3}
    assert pd.Series(folds).groupby(compositions).nunique().eq(1).all()
    assert pd.Series(folds[2:]).groupby(papers[2:]).nunique().eq(1).all()  # no paper in two folds
    years = 2000 + compositions % 20
    by_year = inner_folds(X, target, compositions, "column_quantile", 4, 0, shift_values=years)
    assert (np.diff(by_year[np.argsort(years, kind="stable")]) >= 0).all()  # later years, later folds
    # two values cannot fill four folds: compositions at random, still whole
    few = inner_folds(X, target, compositions, "column", 4, 0, shift_values=compositions % 2)
    assert set(few) == {0, 1, 2, 3} and pd.Series(few).groupby(compositions).nunique().eq(1).all()
    with pytest.raises(ValueError, match="shift_values"):
        inner_folds(X, target, compositions, "column", 4, 0)


def test_upward_groupings_hold_out_only_the_upper_half_in_ascending_ranges():
    rng = np.random.default_rng(2)
    compositions = np.repeat(np.arange(80), 2)
    target = compositions + rng.normal(scale=0.01, size=len(compositions))
    X = pd.DataFrame({"x": rng.normal(size=len(compositions))})
    for grouping, values in (("target_upward", None), ("column_upward", 1990 + compositions % 40)):
        folds = inner_folds(X, target, compositions, grouping, 4, 0, shift_values=values)
        order = np.argsort(target if values is None else values, kind="stable")
        assert set(folds) == {-1, 0, 1, 2, 3} and (np.diff(folds[order]) >= 0).all()
        assert np.mean(folds == -1) == pytest.approx(0.5, abs=0.03)  # the lower half: training only
        assert pd.Series(folds).groupby(compositions).nunique().eq(1).all()


def test_upward_calibration_scores_only_the_upper_half_each_range_predicted_from_below():
    """Train on y < 6 of a trend a kNN cannot extrapolate: every calibration row is a row of the upper
    half, predicted by a model of lower targets only, so its truth lies above its prediction."""
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 6, size=400)
    X, y = pd.DataFrame({"x": x}), x + rng.normal(scale=0.05, size=len(x))
    kwargs = {"interval_methods": ("split", "weighted_bounded"), "min_group_size": 10}
    upward = ShiftCalibratedRegressor(KNeighborsRegressor(10), grouping="target_upward", **kwargs).fit(X, y)
    both = ShiftCalibratedRegressor(KNeighborsRegressor(10), grouping="target_quantile", **kwargs).fit(X, y)
    calibration = upward.calibration_
    assert len(calibration["target"]) == (upward.inner_folds_ >= 0).sum() < len(y)
    assert calibration["target"].min() >= np.median(y) - 0.1
    assert np.mean(calibration["target"] > calibration["prediction"]) > 0.9
    # held out on both sides, the lowest range is predicted from above: residuals of both signs
    assert np.mean(both.calibration_["target"] > both.calibration_["prediction"]) < 0.7
    # density-ratio weights of the calibration rows only (the lower half has no score to weigh)
    out = upward.predict_with_uncertainty(X.iloc[:5], methods=("split", "weighted_bounded"))
    for lower, upper in out["intervals"].values():
        assert np.all(lower <= upper) and len(lower) == 5


def test_shift_values_name_the_missing_column():
    from matshift.robust.fold_scoring import shift_values

    params = {"shift_calibrated": {"shift_columns": {"paper_group_cv": "doi"}}}
    table = pd.DataFrame({"doi": ["a", "b"]}, index=["s1", "s2"])
    assert shift_values(params, "paper_group_cv", table).tolist() == ["a", "b"]
    assert shift_values(params, "process_shift", table) is None
    with pytest.raises(KeyError, match="'doi'.*paper_group_cv"):
        shift_values(params, "paper_group_cv", table.rename(columns={"doi": "paper"}))


def test_method_chosen_on_inner_folds_is_recorded_and_flag_catches_a_planted_ood_region():
    X, y, cluster = clustered(seed=3)
    far = cluster == 0
    model = ShiftCalibratedRegressor(
        CatBoostQuantileRegressor({"iterations": 60, "depth": 3, "thread_count": 1}),
        grouping="cluster",
        n_inner_folds=4,
        min_group_size=10,
        clip=(-50.0, 50.0),
    ).fit(X[~far], y[~far])
    assert model.method_ in model.selection_ and model.method_ in (
        "split",
        "normalised",
        "cqr",
        "mondrian_ood",
        "weighted_bounded",
        "worst_fold",
    )
    assert all(0.0 <= s["coverage"] <= 1.0 for s in model.selection_.values())
    assert sorted(s["rank"] for s in model.selection_.values()) == list(range(len(model.selection_)))

    # the scored batch: new in-distribution rows mixed with the unseen cluster
    X_new, y_new, cluster_new = clustered(seed=3)
    rng = np.random.default_rng(4)
    X_new = X_new + rng.normal(scale=0.3, size=X_new.shape)
    out = model.predict_with_uncertainty(X_new, methods=("split", "cqr"))
    assert set(out["intervals"]) == {"split", "cqr"}
    assert (out["interval_method"] == model.method_).all()
    error = np.abs(out["prediction"] - y_new)
    large = error > np.median(error)
    assert roc_auc_score(large, out["ood_score"]) > 0.6
    assert out["uncertain"][cluster_new == 0].mean() > out["uncertain"][cluster_new != 0].mean()
    assert ((out["reason"] != "") == out["uncertain"]).all()


def test_the_quantile_model_learns_a_constant_target():
    """An inner fold of only metals (every gap 0) leaves CatBoost a constant target it refuses."""
    X = pd.DataFrame({"a": np.arange(20.0)})
    model = CatBoostQuantileRegressor({"iterations": 5}).fit(X, np.zeros(20))
    prediction, std = model.predict(X.iloc[:3], return_std=True)
    assert np.array_equal(prediction, np.zeros(3)) and np.array_equal(std, np.zeros(3))
