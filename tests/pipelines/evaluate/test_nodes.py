import pandas as pd
import pytest

from matshift.pipelines.evaluate.nodes import combine_metrics
from matshift.reporting.evaluation import compute_metrics, group_errors, parity_plots


@pytest.fixture
def predictions() -> pd.DataFrame:
    rows = []
    for fold in (0, 1):
        for i in range(20):
            group = "big" if i < 15 else "small"
            error = 1.0 if group == "big" else 3.0
            rows.append(
                {
                    "split": "s",
                    "fold": fold,
                    "model": "m",
                    "sample_id": f"{fold}-{i}",
                    "group": group,
                    "target": float(i),
                    "prediction": float(i) + error,
                }
            )
    return pd.DataFrame(rows)


def test_metrics_are_fold_averaged_and_worst_group_respects_min_size(predictions):
    metrics = compute_metrics(predictions, {"min_group_size": 5, "in_distribution_split": "matbench_cv"})[
        "s"
    ]["m"]
    assert metrics["mae"] == pytest.approx((15 * 1 + 5 * 3) / 20)
    assert metrics["worst_group_mae"] == pytest.approx(3.0)
    assert metrics["n_folds"] == 2 and metrics["n_test"] == 40
    assert set(metrics) >= {"mae", "rmse", "r2", "worst_group_mae"}
    ignored_small = compute_metrics(
        predictions, {"min_group_size": 6, "in_distribution_split": "matbench_cv"}
    )["s"]["m"]
    assert ignored_small["worst_group_mae"] == pytest.approx(1.0)


def test_group_errors_table(predictions):
    table = group_errors(predictions).set_index("group")
    assert table.loc["small", "mae"] == pytest.approx(3.0) and table.loc["big", "n_test"] == 30


def test_parity_plots_one_figure_per_split(predictions):
    figures = parity_plots(predictions, "demo")
    assert list(figures) == ["parity_s.png"]


def test_combine_metrics_shape():
    assert combine_metrics(["a", "b"], {"s": {}}, {"t": {}}) == {"a": {"s": {}}, "b": {"t": {}}}


def test_interval_metrics_and_ood_id_ratio_where_a_model_has_intervals(predictions):
    with_intervals = predictions.assign(
        lower=predictions["prediction"] - 2.0,
        upper=predictions["prediction"] + 2.0,
        ood_score=(predictions["prediction"] - predictions["target"]).abs(),
    )
    shifted = with_intervals.assign(split="ood", prediction=with_intervals["prediction"] + 1.0)
    table = pd.concat([with_intervals.assign(split="matbench_cv"), shifted], ignore_index=True)
    metrics = compute_metrics(table, {"min_group_size": 5, "in_distribution_split": "matbench_cv"})
    cv = metrics["matbench_cv"]["m"]
    assert cv["coverage_90"] == pytest.approx(0.75)  # errors of 1 are covered, errors of 3 are not
    assert cv["min_group_coverage_90"] == pytest.approx(0.0) and cv["width_90"] == pytest.approx(4.0)
    assert cv["flag_auroc"] == pytest.approx(1.0) and cv["selective_mae_80"] < cv["mae"]
    assert {"nll", "miscalibration_area"} <= set(cv)
    assert metrics["ood"]["m"]["ood_id_ratio"] == pytest.approx(metrics["ood"]["m"]["mae"] / cv["mae"])
    assert (
        "coverage_90"
        not in compute_metrics(predictions, {"min_group_size": 5, "in_distribution_split": "matbench_cv"})[
            "s"
        ]["m"]
    )


def test_collect_predictions_marks_rows_whose_composition_the_source_has(predictions):
    from matshift.pipelines.evaluate.nodes import collect_predictions

    table = pd.DataFrame(
        {
            "sample_id": predictions["sample_id"],
            "composition": ["NaCl" if i % 2 else "ZnO" for i in range(len(predictions))],
        }
    )
    source = pd.DataFrame({"in_source": [True]}, index=pd.Index(["NaCl"], name="composition"))
    combined = collect_predictions(table, source, predictions, predictions.assign(model="other"))
    assert len(combined) == 2 * len(predictions)
    assert combined["in_source"].sum() == len(predictions)


def test_shift_metrics_width_ratio_unflagged_misses_and_chosen_method_shares(predictions):
    with_intervals = predictions.assign(
        lower=predictions["prediction"] - 2.0,
        upper=predictions["prediction"] + 2.0,
        ood_score=(predictions["prediction"] - predictions["target"]).abs(),
        uncertain=predictions["group"].eq("small"),  # the rows whose errors of 3 miss the interval
        interval_method=predictions["fold"].map({0: "cqr", 1: "split"}),
    )
    wide = with_intervals.assign(
        split="ood", lower=with_intervals["lower"] - 1.0, upper=with_intervals["upper"] + 1.0
    )
    table = pd.concat([with_intervals.assign(split="matbench_cv"), wide], ignore_index=True)
    metrics = compute_metrics(table, {"min_group_size": 5, "in_distribution_split": "matbench_cv"})
    cv, ood = metrics["matbench_cv"]["m"], metrics["ood"]["m"]
    assert cv["unflagged_miss_rate"] == pytest.approx(0.0) and cv["flag_rate"] == pytest.approx(0.25)
    assert cv["coverage_90_min_group"] == cv["min_group_coverage_90"]
    assert ood["interval_width_ratio"] == pytest.approx(6.0 / 4.0)
    assert cv["interval_method_cqr"] == pytest.approx(0.5) and cv["interval_method_split"] == pytest.approx(
        0.5
    )
    # target 0 (one row per fold) is left out of the non-zero coverage
    assert {"coverage_90_nonzero", "flag_auroc_nonzero", "flag_auroc_error"} <= set(cv)


def test_baseline_rows_with_the_contract_get_the_robust_metric_keys_and_no_method_share(predictions):
    """A baseline's calibration (cross_fold, grouped_holdout) is fixed by its split, not chosen: its
    interval and flag metrics are the robust models' keys, with no ``interval_method_*`` beside them."""
    from matshift.uncertainty.fold_conformal import CROSS_FOLD, GROUPED_HOLDOUT

    baseline = predictions.assign(
        lower=predictions["prediction"] - 2.0,
        upper=predictions["prediction"] + 2.0,
        ood_score=(predictions["prediction"] - predictions["target"]).abs(),
        uncertain=predictions["group"].eq("small"),
        reason=predictions["group"].map({"small": "far from every training composition", "big": ""}),
        interval_method=predictions["fold"].map({0: CROSS_FOLD, 1: GROUPED_HOLDOUT}),
    )
    robust = baseline.assign(model="robust", interval_method=predictions["fold"].map({0: "cqr", 1: "split"}))
    table = pd.concat([baseline, robust], ignore_index=True)
    metrics = compute_metrics(table, {"min_group_size": 5, "in_distribution_split": "s"})["s"]
    assert metrics["m"]["coverage_90"] == pytest.approx(0.75) and metrics["m"]["flag_rate"] == pytest.approx(
        0.25
    )
    assert not [key for key in metrics["m"] if key.startswith("interval_method")]
    assert set(metrics["robust"]) - set(metrics["m"]) == {"interval_method_cqr", "interval_method_split"}
