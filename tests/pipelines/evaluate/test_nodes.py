import pandas as pd
import pytest

from matshift.pipelines.evaluate.nodes import combine_metrics, compute_metrics, group_errors, parity_plots


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
    metrics = compute_metrics(predictions, {"min_group_size": 5})["s"]["m"]
    assert metrics["mae"] == pytest.approx((15 * 1 + 5 * 3) / 20)
    assert metrics["worst_group_mae"] == pytest.approx(3.0)
    assert metrics["n_folds"] == 2 and metrics["n_test"] == 40
    assert set(metrics) >= {"mae", "rmse", "r2", "worst_group_mae"}
    ignored_small = compute_metrics(predictions, {"min_group_size": 6})["s"]["m"]
    assert ignored_small["worst_group_mae"] == pytest.approx(1.0)


def test_group_errors_table(predictions):
    table = group_errors(predictions).set_index("group")
    assert table.loc["small", "mae"] == pytest.approx(3.0) and table.loc["big", "n_test"] == 30


def test_parity_plots_one_figure_per_split(predictions):
    figures = parity_plots(predictions, "demo")
    assert list(figures) == ["parity_s.png"]


def test_combine_metrics_shape():
    assert combine_metrics(["a", "b"], {"s": {}}, {"t": {}}) == {"a": {"s": {}}, "b": {"t": {}}}
